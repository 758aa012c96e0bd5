"""The layer registry: Caffe type name -> the layer class that implements it."""
from .base import LayerError

REGISTRY = {}


class UnsupportedLayerError(LayerError):
    """A layer type this runtime does not implement."""


def register(cls):
    """Class decorator: make `cls` the implementation of Caffe type `cls.type_name`."""
    REGISTRY[cls.type_name] = cls
    return cls


def layer_class(lp):
    """The class implementing `lp`'s type; UnsupportedLayerError names the layer and the implemented types."""
    try:
        return REGISTRY[lp.type]
    except KeyError:
        known = ', '.join(sorted(REGISTRY))
        raise UnsupportedLayerError(f'layer {lp.name!r} has the type {lp.type!r}, which this runtime does not '
                                    f'implement (it implements: {known})') from None
