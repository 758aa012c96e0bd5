"""Caffe's compute_image_mean: the mean image of an LMDB of Datum records, as a BlobProto (mean.binaryproto).

As tools/compute_image_mean.cpp computes it: every Datum in key order, encoded ones decoded as they are stored
(DecodeDatumNative: cv::imdecode unchanged, BGR), summed in float32 (uint8 `data` or `float_data`), divided by the
count in float32; the BlobProto has num 1 and the first Datum's channels, height and width; the log gives each
channel's mean as Caffe prints it. A Datum of another size is an error naming its key.
"""
import logging

import numpy as np

from netspec import caffe_pb2

__all__ = ['read_lmdb', 'datum_array', 'compute_image_mean', 'channel_means', 'write_blobproto', 'read_blobproto']

_log = logging.getLogger(__name__)


def read_lmdb(path):
    """(key, Datum) of an LMDB in key order, as Caffe's LMDB cursor walks it."""
    import lmdb
    env = lmdb.open(path, readonly=True, lock=False)
    try:
        with env.begin() as txn:
            for key, value in txn.cursor():
                d = caffe_pb2.Datum()
                d.ParseFromString(value)
                yield key.decode(errors='replace'), d
    finally:
        env.close()


def datum_array(datum):
    """The Datum's values as a float32 CxHxW array: raw uint8 `data`, `float_data`, or the decoded image of an
    encoded Datum (DecodeDatumNative)."""
    if datum.encoded:
        import cv2
        img = cv2.imdecode(np.frombuffer(datum.data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError('an encoded Datum that OpenCV cannot decode')
        chw = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
        return chw.astype(np.float32)
    shape = (datum.channels, datum.height, datum.width)
    if datum.data:
        return np.frombuffer(datum.data, np.uint8).reshape(shape).astype(np.float32)
    return np.asarray(datum.float_data, np.float32).reshape(shape)


def compute_image_mean(db, log=None):
    """The BlobProto of the mean image of the LMDB `db`."""
    log = log or _log.info
    total, count, shape = None, 0, None
    for key, datum in read_lmdb(db):
        a = datum_array(datum)
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
    with open(path, 'wb') as f:
        f.write(blob.SerializeToString())


def read_blobproto(path):
    """A BlobProto file as a float32 array of its shape (legacy num/channels/height/width or shape)."""
    blob = caffe_pb2.BlobProto()
    with open(path, 'rb') as f:
        blob.ParseFromString(f.read())
    shape = tuple(blob.shape.dim) if blob.HasField('shape') else (blob.num, blob.channels, blob.height, blob.width)
    return np.asarray(blob.data, np.float32).reshape(shape)
