"""Caffe's layer types, one record each (record.LayerType): the knowledge Caffe keeps in each layer's own file,
read by every package: the runtime, netspec's shapes / sizes / coord_map / receptive, pycaffe's coord_map, weights
and, through the net, the solvers.

    LAYER_TYPES            {type name: LayerType}, every type defined by the family modules below
    layer_type(name)       one record (UnknownLayerType names the known ones)
    pass_through()         the types whose tops lie on their bottom's grid (Spatial 'same')

A new layer type is one `define(LayerType(...))` in the family module it belongs to (its runtime class then
registers under the same name; tests/test_layer_types.py checks the two tables against each other and against
caffe.proto's LayerParameter).
"""
from .record import (ANY, CONCAT, LAYER_TYPES, OFFSET, SAME, LayerType, NoWindow, Spatial, UnknownLayerType, define,
                     layer_type, upsample, window)
from . import vision, neuron, common, loss, recurrent, data  # noqa: F401  (defining the records)

__all__ = ['LAYER_TYPES', 'LayerType', 'Spatial', 'SAME', 'CONCAT', 'OFFSET', 'ANY', 'NoWindow', 'UnknownLayerType',
           'define', 'layer_type', 'window', 'upsample', 'pass_through']


def pass_through():
    """The types whose every top lies on bottom 0's grid (x_bottom = x_top)."""
    return frozenset(name for name, r in LAYER_TYPES.items() if r.spatial is SAME)
