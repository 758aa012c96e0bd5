"""What a net is: Caffe's schema (caffe_pb2), prototxt I/O, the NetSpec DSL and the FCN model generators."""
from . import caffe_pb2
from .io import (PrototxtError, parse_text, read_text, read_binary, write_text, write_binary, to_text,
                 read_net, read_solver)
from .dsl import NetSpec, Top, Function, layers, params, to_proto
from .coord_map import crop, coord_map_from_to, CropError
from .shapes import infer_shapes, ShapeError

__all__ = ['caffe_pb2', 'PrototxtError', 'parse_text', 'read_text', 'read_binary', 'write_text', 'write_binary',
           'to_text', 'read_net', 'read_solver', 'NetSpec', 'Top', 'Function', 'layers', 'params', 'to_proto', 'crop',
           'coord_map_from_to', 'CropError', 'infer_shapes', 'ShapeError']
