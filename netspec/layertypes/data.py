"""Records of the layers that bring data into a net: Input, Python, and Caffe's data layers (Data, ImageData,
HDF5Data, MemoryData, DummyData, WindowData) and HDF5Output. A data layer whose record has no top rule gets its
tops' shapes from its source (netspec.shapes.infer_shapes takes them from the caller)."""
from .. import sizes
from .record import ANY, LayerType, define


def _input(lp, bottoms):
    return sizes.input_shapes(lp)


def _data_type(name, params, tops=None, transform=True):
    return define(LayerType(name, params + (('transform_param',) if transform else ()), tops, bottoms=(0, 0),
                            top_count=(1, ANY), data=True, backward=False))


_data_type('Input', ('input_param',), _input, transform=False)
# Python: tops and blobs are whatever its setup/reshape make; it may read bottoms and have a backward
define(LayerType('Python', ('python_param',), None, bottoms=(0, ANY), top_count=(0, ANY)))
_data_type('Data', ('data_param',))
_data_type('ImageData', ('image_data_param',))
_data_type('HDF5Data', ('hdf5_data_param',), transform=False)
_data_type('MemoryData', ('memory_data_param',))
_data_type('DummyData', ('dummy_data_param',), transform=False)
_data_type('WindowData', ('window_data_param',))
define(LayerType('HDF5Output', ('hdf5_output_param',), lambda lp, bottoms: [], bottoms=(2, 2), top_count=(0, 0),
                 backward=False))
