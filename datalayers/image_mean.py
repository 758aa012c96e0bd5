"""Caffe's compute_image_mean: the mean image of an LMDB of Datum records, as a BlobProto (mean.binaryproto).

As tools/compute_image_mean.cpp computes it: every Datum in key order, encoded ones decoded as they are stored
(DecodeDatumNative: cv::imdecode unchanged, BGR), summed in float32 (uint8 `data` or `float_data`), divided by the
count in float32; the BlobProto has num 1 and the first Datum's channels, height and width; the log gives each
channel's mean as Caffe prints it. A Datum of another size is an error naming its key.
"""
import logging

import numpy as np

from netspec import caffe_pb2
from netspec.atomic import atomic_file
from runtime.caffe_data.datum import datum_image, read_lmdb

__all__ = ['datum_array', 'compute_image_mean', 'channel_means', 'write_blobproto']

_log = logging.getLogger(__name__)


def datum_array(datum, where='datum'):
    """The Datum's values as a float32 CxHxW array: raw uint8 `data`, `float_data`, or the decoded image of an
    encoded Datum (DecodeDatumNative), read as the Data layer reads them (runtime.caffe_data.datum)."""
    return datum_image(datum, where=where)[0].astype(np.float32)


def compute_image_mean(db, log=None):
    """The BlobProto of the mean image of the LMDB `db`."""
    log = log or _log.info
    total, count, shape = None, 0, None
    for key, datum in read_lmdb(db):
        key = key.decode(errors='replace') if isinstance(key, bytes) else key
        a = datum_array(datum, f'{db} key {key}')
        if total is None:
            if datum.encoded:
                log('Decoding Datum')
            shape = a.shape
            total = np.zeros(a.size, np.float32)
            log('Starting iteration')
        if a.shape != shape:
            raise ValueError(f'{db}: Incorrect data field size {a.size} at key {key} (the first Datum has '
                             f'{int(np.prod(shape))}: {shape})')
        total += a.reshape(-1)
        count += 1
        if count % 10000 == 0:
            log(f'Processed {count} files.')
    if total is None:
        raise ValueError(f'{db}: the database holds no Datum')
    if count % 10000 != 0:
        log(f'Processed {count} files.')
    mean = total / np.float32(count)
    blob = caffe_pb2.BlobProto(num=1, channels=shape[0], height=shape[1], width=shape[2])
    blob.data.extend(mean.tolist())
    return blob


def channel_means(blob, log=None):
    """The mean of each channel of a mean BlobProto, summed in float32 in Caffe's order, logged as Caffe logs
    them."""
    log = log or _log.info
    mean = np.asarray(blob.data, np.float32)
    dim = blob.height * blob.width
    out = []
    log(f'Number of channels: {blob.channels}')
    for c in range(blob.channels):
        acc = np.add.accumulate(mean[c * dim:(c + 1) * dim], dtype=np.float32)[-1]
        out.append(float(acc / np.float32(dim)))
        log(f'mean_value channel [{c}]: {out[-1]:.6g}')
    return out


def write_blobproto(blob, path):
    """The mean file, written atomically (a failed write names it)."""
    with atomic_file(path, 'mean file') as f:
        f.write(blob.SerializeToString())
