"""Protobuf wire format, just enough to stream large Caffe messages (.caffemodel, .solverstate).

Parsing a 1 GB NetParameter with the protobuf library holds the file bytes, the parsed message and the arrays made
from it at once (three times the file). Here the file is memory-mapped and walked field by field: small parts
(names, layer settings, shapes) go through the real protobuf classes, and each blob's packed floats are copied once
into their numpy array, releasing the mapped pages behind them as we go.
"""
import mmap

import numpy as np


# wire types
VARINT, I64, LEN, I32 = 0, 1, 2, 5

_CHUNK = 1 << 24  # bytes copied between page releases


class Malformed(Exception):
    """Bytes that are not valid protobuf; `truncated` when a field runs past the end of its enclosing message."""

    def __init__(self, what, truncated=False):
        super().__init__(what)
        self.truncated = truncated


def read_varint(buf, pos, end):
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise Malformed('varint runs past the end', truncated=True)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise Malformed('varint longer than 10 bytes')


def next_field(buf, pos, end):
    """Decode the field at pos: (field number, wire type, value, pos after).

    value is the integer for VARINT, and the (start, stop) byte range for I64, LEN and I32.
    """
    key_, pos = read_varint(buf, pos, end)
    num, wt = key_ >> 3, key_ & 7
    if num == 0:
        raise Malformed('field number 0')
    if wt == VARINT:
        val, pos = read_varint(buf, pos, end)
    elif wt == LEN:
        n, pos = read_varint(buf, pos, end)
        if pos + n > end:
            raise Malformed(f'field {num} claims {n} bytes but only {end - pos} remain', truncated=True)
        val = (pos, pos + n)
        pos += n
    elif wt == I32 or wt == I64:
        n = 4 if wt == I32 else 8
        if pos + n > end:
            raise Malformed(f'field {num} runs past the end', truncated=True)
        val = (pos, pos + n)
        pos += n
    else:
        raise Malformed(f'field {num} has wire type {wt} (a group or invalid), which Caffe messages never use')
    return num, wt, val, pos


def iter_fields(buf, pos, end):
    """Yield next_field(...) for each field in buf[pos:end]."""
    while pos < end:
        field = next_field(buf, pos, end)
        pos = field[3]
        yield field


def encode_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(num, wt):
    return encode_varint((num << 3) | wt)


def len_header(num, length):
    return key(num, LEN) + encode_varint(length)


class Source:
    """A read-only file mapped into memory; releases pages that have been copied out."""

    def __init__(self, path):
        self.path = path
        self._f = open(path, 'rb')
        try:
            self.size = self._f.seek(0, 2)
            if self.size == 0:
                self.buf = b''
                self._mm = None
            else:
                self._mm = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ)
                self.buf = self._mm
        except BaseException:
            self._f.close()
            raise

    def close(self):
        if self._mm is not None:
            self._mm.close()
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def release(self, start, stop):
        """Drop mapped pages in [start, stop) from memory (they are re-read from disk if touched again)."""
        if self._mm is None or not hasattr(self._mm, 'madvise'):
            return
        page = mmap.PAGESIZE
        a = (start // page) * page
        if stop - a >= page:
            try:
                self._mm.madvise(mmap.MADV_DONTNEED, a, ((stop - a) // page) * page)
            except (OSError, ValueError):
                pass

    def array(self, start, stop, dtype):
        """A fresh native numpy array of the little-endian values in [start, stop), copied in chunks."""
        dt = np.dtype(dtype).newbyteorder('<')
        n = (stop - start) // dt.itemsize
        out = np.empty(n, dtype=dt.newbyteorder('='))
        step = max(1, _CHUNK // dt.itemsize)
        for i in range(0, n, step):
            j = min(n, i + step)
            a = start + i * dt.itemsize
            out[i:j] = np.frombuffer(self.buf, dtype=dt, count=j - i, offset=a)
            self.release(a, start + j * dt.itemsize)
        return out

    def bytes(self, start, stop):
        return bytes(self.buf[start:stop])


def unpacked_run(src, pos, end, keybyte, width, dtype):
    """Values of a run of unpacked fixed-width fields starting at pos (the key byte at pos - 1).

    Returns (array, pos after the run). Vectorized: a record is key byte + `width` value bytes.
    """
    start = pos - 1
    nrec = (end - start) // (width + 1)
    rec = np.frombuffer(src.buf, dtype=np.uint8, count=nrec * (width + 1), offset=start).reshape(nrec, width + 1)
    bad = np.flatnonzero(rec[:, 0] != keybyte)
    run = int(bad[0]) if bad.size else nrec
    vals = np.ascontiguousarray(rec[:run, 1:]).view(np.dtype(dtype).newbyteorder('<')).reshape(-1)
    return vals.astype(np.dtype(dtype), copy=False), start + run * (width + 1)

