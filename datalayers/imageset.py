"""Caffe's convert_imageset: images listed in a file -> an LMDB of Datum records that Caffe's Data layer reads.

As tools/convert_imageset.cpp and util/io.cpp do it, through OpenCV as Caffe does (cv2): each list line is
`PATH LABEL` (split at its last space, the label read as atoi reads it); an image is read with cv::imread in color
(BGR, 3 channels) or, with `gray`, as grayscale; resized with cv::resize (bilinear) when both resize_height and
resize_width are given; stored raw (Datum data: uint8 in channel, row, column order, `encoded` false) or encoded
(`encoded`, or an `encode_type`): the file's own bytes when its extension is the encoding and nothing was resized
or converted, else cv::imencode's. An unreadable image is skipped with an error line; the keys are
`%08d_PATH` with the line's index; the database is committed every 1000 images.
"""
import logging
import os
import random

import numpy as np

from netspec import caffe_pb2
from runtime.caffe_data import images

__all__ = ['read_list', 'image_to_datum', 'matches_extension', 'open_new_lmdb', 'convert_imageset']

_log = logging.getLogger(__name__)


def _atoi(text):
    """C's atoi: leading blanks, a sign, the digits that follow; 0 without any."""
    s = text.lstrip()
    sign, i = 1, 0
    if s[:1] in ('+', '-'):
        sign, i = (-1 if s[0] == '-' else 1), 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    return sign * int(s[i:j]) if j > i else 0


def read_list(path):
    """[(image path, label)] of a list file, as convert_imageset reads it with std::getline: each line split at
    its last space (a line without one is its own path and label)."""
    with open(path) as f:
        text = f.read()
    lines = text.split('\n')
    if text.endswith('\n') or not text:
        lines.pop()
    out = []
    for line in lines:
        pos = line.rfind(' ')
        out.append((line[:pos], _atoi(line[pos + 1:])) if pos >= 0 else (line, _atoi(line)))
    return out


def matches_extension(filename, encoding):
    """io.cpp's matchExt: the file's extension is the encoding (jpeg counts as jpg), case aside."""
    ext = filename[filename.rfind('.') + 1:].lower()
    encoding = encoding.lower()
    return ext == encoding or (encoding == 'jpg' and ext == 'jpeg')


def image_to_datum(path, label, height=0, width=0, is_color=True, encoding=''):
    """ReadImageToDatum: a Datum, or None for an unreadable image (read as the ImageData layer reads it,
    runtime.caffe_data.images.read_image: ReadImageToCVMat)."""
    try:
        chw = images.read_image(path, height, width, is_color)
    except FileNotFoundError:
        return None
    d = caffe_pb2.Datum()
    channels = chw.shape[0]
    if encoding:
        if (channels == 3) == is_color and not height and not width and matches_extension(path, encoding):
            with open(path, 'rb') as f:
                d.data = f.read()
            d.label, d.encoded = label, True
            return d
        hwc = np.ascontiguousarray(chw[0] if channels == 1 else chw.transpose(1, 2, 0))
        ok, buf = images.cv2_module().imencode('.' + encoding, hwc)
        if not ok:
            raise ValueError(f'{path}: OpenCV cannot encode an image as {encoding!r}')
        d.data = buf.tobytes()
        d.encoded = True
    else:
        d.data = np.ascontiguousarray(chw).tobytes()
        d.encoded = False
    d.channels, d.height, d.width = channels, chw.shape[1], chw.shape[2]
    d.label = label
    return d


def open_new_lmdb(path):
    """db::LMDB's Open(NEW): a new folder (an existing one is an error, as Caffe's mkdir check makes it)."""
    import lmdb
    try:
        os.mkdir(path, 0o744)
    except FileExistsError:
        raise FileExistsError(f'mkdir {path} failed: it exists (convert_imageset writes a new database)') from None
    return lmdb.open(path, map_size=1 << 30)


def _put_all(env, items):
    import lmdb
    while True:
        try:
            with env.begin(write=True) as txn:
                for k, v in items:
                    txn.put(k, v)
            return
        except lmdb.MapFullError:
            env.set_mapsize(env.info()['map_size'] * 2)


def convert_imageset(root, list_file, db, gray=False, shuffle=False, backend='lmdb', resize_height=0,
                     resize_width=0, check_size=False, encoded=False, encode_type='', log=None):
    """Write the LMDB `db` from the images of `list_file` under `root` (a prefix joined as a string, as Caffe
    does). Returns the number of images written. `log`: a function of one message (default: this module's
    logger)."""
    log = log or _log.info
    if backend != 'lmdb':
        raise ValueError(f'backend {backend!r}: only lmdb is written here (Caffe 1.0 also knows leveldb)')
    lines = read_list(list_file)
    if shuffle:
        log('Shuffling data')
        random.shuffle(lines)
    log(f'A total of {len(lines)} images.')
    if encode_type and not encoded:
        log('encode_type specified, assuming encoded=true.')
    resize_height, resize_width = max(0, resize_height), max(0, resize_width)
    env = open_new_lmdb(db)
    count, size, batch = 0, None, []
    try:
        for line_id, (name, label) in enumerate(lines):
            enc = encode_type
            if encoded and not enc:
                p = name.rfind('.')
                if p < 0:
                    _log.warning("Failed to guess the encoding of '%s'", name)
                enc = name[p + 1:].lower()
            datum = image_to_datum(root + name, label, resize_height, resize_width, not gray, enc)
            if datum is None:
                _log.error('Could not open or find file %s', root + name)
                continue
            if check_size:
                n = datum.channels * datum.height * datum.width
                if size is None:
                    size = n
                elif len(datum.data) != size:
                    raise ValueError(f'{root + name}: Incorrect data field size {len(datum.data)} (the first image '
                                     f'has {size}; --check_size)')
            batch.append((f'{line_id:08d}_{name}'.encode(), datum.SerializeToString()))
            count += 1
            if count % 1000 == 0:
                _put_all(env, batch)
                batch = []
                log(f'Processed {count} files.')
        if count % 1000 != 0:
            _put_all(env, batch)
            log(f'Processed {count} files.')
    finally:
        env.close()
    return count
