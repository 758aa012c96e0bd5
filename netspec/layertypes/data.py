"""Records of the layers that bring data into a net: Input, Python, and Caffe's data layers (Data, ImageData,
HDF5Data, MemoryData, DummyData, WindowData) and HDF5Output. A data layer whose record has no top rule gets its
tops' shapes from its source (netspec.shapes.infer_shapes takes them from the caller); DummyData and MemoryData
take theirs from their parameters. Counts are Caffe's (Exact/Min/MaxNumTopBlobs of each layer)."""
from .. import sizes
from .record import ANY, LayerType, define


def _input(lp, bottoms):
    return sizes.input_shapes(lp)


def _dummy(lp, bottoms):
    """DummyData: `shape` once or once per top, or the legacy num/channels/height/width (each once or once per top),
    not both."""
    p = lp.dummy_data_param
    n = len(lp.top)
    legacy = ('num', 'channels', 'height', 'width')
    if any(len(getattr(p, f)) for f in legacy):
        if len(p.shape):
            raise sizes.ShapeError('both shape and the legacy num/channels/height/width are given')
        for f in legacy:
            if len(getattr(p, f)) not in (1, n):
                raise sizes.ShapeError(f'give {f!r} once or once per top ({n}), not {len(getattr(p, f))} times')
        return [tuple(int(getattr(p, f)[0 if len(getattr(p, f)) == 1 else i]) for f in legacy) for i in range(n)]
    if len(p.shape) not in (1, n):
        raise sizes.ShapeError(f'give shape once or once per top ({n}), not {len(p.shape)} times')
    return [tuple(int(d) for d in p.shape[0 if len(p.shape) == 1 else i].dim) for i in range(n)]


def _memory(lp, bottoms):
    """MemoryData: batch_size x channels x height x width, and a label per item (batch_size x 1 x 1 x 1 after a
    forward, as Caffe reshapes it)."""
    p = lp.memory_data_param
    if p.batch_size * p.channels * p.height * p.width <= 0:
        raise sizes.ShapeError('batch_size, channels, height and width must be specified and positive in '
                               'memory_data_param')
    return [(int(p.batch_size), int(p.channels), int(p.height), int(p.width)), (int(p.batch_size),)]


def _data_type(name, params, tops=None, transform=True, top_count=(1, ANY)):
    return define(LayerType(name, params + (('transform_param',) if transform else ()), tops, bottoms=(0, 0),
                            top_count=top_count, data=True, backward=False))


_data_type('Input', ('input_param',), _input, transform=False)
# Python: tops and blobs are whatever its setup/reshape make; it may read bottoms and have a backward
define(LayerType('Python', ('python_param',), None, bottoms=(0, ANY), top_count=(0, ANY)))
_data_type('Data', ('data_param',), top_count=(1, 2))
_data_type('ImageData', ('image_data_param',), top_count=(2, 2))
_data_type('HDF5Data', ('hdf5_data_param',), transform=False)
_data_type('MemoryData', ('memory_data_param',), _memory, top_count=(2, 2))
_data_type('DummyData', ('dummy_data_param',), _dummy, transform=False)
_data_type('WindowData', ('window_data_param',), top_count=(2, 2))
define(LayerType('HDF5Output', ('hdf5_output_param',), lambda lp, bottoms: [], bottoms=(2, 2), top_count=(0, 0),
                 backward=False))
