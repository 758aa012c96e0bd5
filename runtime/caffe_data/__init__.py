"""Caffe's own (C++) data layers, read as Caffe reads them: one module per layer type (`data`: Data over LMDB,
`image_data`: ImageData, `window_data`: WindowData, `hdf5_data`: HDF5Data and HDF5Output, `memory_data`: MemoryData, `dummy_data`:
DummyData), the pieces they share (`datum`: Datum records, databases and mean files; `images`: OpenCV reading;
`transformer`: Caffe's DataTransformer; `prefetch`: the background worker; `rng`: Caffe's random generators).

Each module's source class reads its LayerParameter as Caffe's layer does and gives float32 numpy batches;
runtime.layers.native_data makes them layers of a Net.
"""
from .datum import DataError, datum_image, read_lmdb, read_mean
from .rng import set_random_seed
from .transformer import DataTransformer

__all__ = ['DataError', 'DataTransformer', 'datum_image', 'read_lmdb', 'read_mean', 'set_random_seed']
