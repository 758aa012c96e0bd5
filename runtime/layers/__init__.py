"""The layer registry: Caffe type name -> layer class (one module per layer family)."""
from .base import CaffeLayer, LayerError

REGISTRY = {}


class UnsupportedLayerError(LayerError):
    """A layer type this runtime does not implement."""


def register(cls):
    """Class decorator: make `cls` the implementation of Caffe type `cls.type_name`."""
    REGISTRY[cls.type_name] = cls
    return cls


def layer_class(lp):
    try:
        return REGISTRY[lp.type]
    except KeyError:
        known = ', '.join(sorted(REGISTRY))
        raise UnsupportedLayerError(f'layer {lp.name!r} has the type {lp.type!r}, which this runtime does not '
                                    f'implement (it implements: {known})') from None


from . import data, python, conv, pooling, neuron, lrn, inner_product, shape, eltwise, scale, loss  # noqa: E402,F401
