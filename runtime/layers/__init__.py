"""The layers: one module per layer family, each registering its classes by Caffe type name (registry.py)."""
from .base import CaffeLayer, LayerError
from .registry import REGISTRY, UnsupportedLayerError, layer_class, register
# importing the layer modules registers their classes
from . import data, python, conv, pooling, neuron, lrn, inner_product, shape, eltwise, scale, loss  # noqa: F401
from . import normalization, losses, reduction, select, recurrent, parameter, native_data  # noqa: F401

__all__ = ['CaffeLayer', 'LayerError', 'REGISTRY', 'UnsupportedLayerError', 'layer_class', 'register']
