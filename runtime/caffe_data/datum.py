"""Caffe's stored data: Datum records in an LMDB (what convert_imageset writes), BlobProto mean files (what
compute_image_mean writes), decoded as Caffe decodes them.

    for key, datum in read_lmdb('train_lmdb'): ...      # keys in the database's order, Datum messages
    image = datum_image(datum)                           # (C, H, W) uint8 (raw bytes or decoded) or float32
    mean = read_mean('mean.binaryproto')                 # float32 array shaped as stored (1 x C x H x W)

A LevelDB (`backend: LEVELDB`, the schema's default) is read through the `plyvel` package when it is installed,
otherwise refused with an error that says so.
"""
import os
import threading

import numpy as np

from netspec import caffe_pb2

from . import images


class DataError(ValueError):
    """Data that cannot be read as Caffe reads it; the message names the file (and the key or line)."""


def _require(path, what):
    if not os.path.exists(path):
        raise DataError(f'{path}: no such {what}')


_ENVS = {}
_ENVS_LOCK = threading.Lock()


def _lmdb_env(path):
    """The process's one read-only environment of an LMDB (the lmdb package opens each path once per process)."""
    try:
        import lmdb
    except ImportError:
        raise DataError(f'{path}: reading an LMDB needs the `lmdb` package (pip install lmdb)') from None
    _require(path, 'LMDB database')
    key = os.path.realpath(path)
    with _ENVS_LOCK:
        env = _ENVS.get(key)
        if env is None:
            try:
                env = lmdb.open(key, readonly=True, lock=False, readahead=False, subdir=os.path.isdir(path),
                                max_readers=512)
            except lmdb.Error as e:
                raise DataError(f'{path}: cannot open the LMDB database: {e}') from None
            _ENVS[key] = env
    return env


def lmdb_cursor(path):
    """The (key, value) byte pairs of an LMDB in key order (Caffe's cursor: First, Next), read in one transaction."""
    env = _lmdb_env(path)
    with env.begin(buffers=False) as txn:
        yield from txn.cursor()


def leveldb_cursor(path):
    """The (key, value) pairs of a LevelDB in key order, through `plyvel` (an error naming the package without it)."""
    try:
        import plyvel
    except ImportError:
        raise DataError(f'{path}: the database backend is LEVELDB, which needs the `plyvel` package; install it or '
                        'convert the database to LMDB (backend: LMDB)') from None
    _require(path, 'LevelDB database')
    db = plyvel.DB(os.fspath(path), create_if_missing=False)
    try:
        for key, value in db.iterator():
            yield key, value
    finally:
        db.close()


def cursor(path, backend):
    """The key/value cursor of a DataParameter backend (caffe_pb2.DataParameter.LMDB or LEVELDB)."""
    if backend == caffe_pb2.DataParameter.LMDB:
        return lmdb_cursor(path)
    return leveldb_cursor(path)


def count(path, backend=caffe_pb2.DataParameter.LMDB):
    """How many records the database holds."""
    if backend == caffe_pb2.DataParameter.LMDB:
        return _lmdb_env(path).stat()['entries']
    return sum(1 for _ in leveldb_cursor(path))


def parse_datum(value, where):
    """A Datum message from its serialized bytes."""
    d = caffe_pb2.Datum()
    try:
        d.ParseFromString(value)
    except Exception as e:       # protobuf's DecodeError
        raise DataError(f'{where}: not a Datum ({e})') from None
    return d


def read_lmdb(path, backend=caffe_pb2.DataParameter.LMDB):
    """(key, Datum) for every record, in the database's order."""
    for key, value in cursor(path, backend):
        yield key, parse_datum(value, f'{path} key {key!r}')


def datum_image(datum, force_color=False, force_gray=False, where='datum'):
    """A Datum's pixels as Caffe's DataTransformer reads them, and whether they came from a cv::Mat.

    Returns (array, from_mat): an encoded Datum is decoded by OpenCV (imdecode: native channels, or 3 with
    force_color, 1 with force_gray) into (C, H, W) uint8 with from_mat True; a raw Datum gives its bytes (uint8) or
    its float_data (float32) as (channels, height, width)."""
    if datum.encoded:
        if force_color and force_gray:
            raise DataError(f'{where}: force_color and force_gray cannot both be set')
        img = images.decode(datum.data, color=True if force_color else (False if force_gray else None),
                            where=where)
        return img, True
    shape = (datum.channels, datum.height, datum.width)
    if datum.channels <= 0:
        raise DataError(f'{where}: the Datum has {datum.channels} channels')
    n = shape[0] * shape[1] * shape[2]
    if len(datum.data):
        if len(datum.data) != n:
            raise DataError(f'{where}: the Datum holds {len(datum.data)} bytes for a {shape} image')
        return np.frombuffer(datum.data, dtype=np.uint8).reshape(shape), False
    if len(datum.float_data) != n:
        raise DataError(f'{where}: the Datum holds {len(datum.float_data)} float values for a {shape} image')
    return np.asarray(datum.float_data, dtype=np.float32).reshape(shape), False


def read_mean(path):
    """A BlobProto file (mean.binaryproto) as a float32 array of its stored shape (num x channels x height x width
    for legacy files)."""
    _require(path, 'mean file')
    blob = caffe_pb2.BlobProto()
    try:
        with open(path, 'rb') as f:
            blob.ParseFromString(f.read())
    except Exception as e:
        raise DataError(f'{path}: not a BlobProto mean file ({e})') from None
    if blob.HasField('shape'):
        shape = tuple(int(d) for d in blob.shape.dim)
    else:
        shape = (blob.num, blob.channels, blob.height, blob.width)
    values = blob.double_data if len(blob.double_data) else blob.data
    arr = np.asarray(values, dtype=np.float32)
    if arr.size != int(np.prod(shape)):
        raise DataError(f'{path}: the mean holds {arr.size} values for the shape {shape}')
    return arr.reshape(shape)
