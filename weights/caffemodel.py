""".caffemodel files: a binary NetParameter whose layers carry their parameter blobs.

Reading streams the file (see wire.py): V2 `layer` (field 100) and V1 `layers` (field 2, with V0 `layer` inside it
for the oldest models); blobs with `shape` or the legacy num/channels/height/width (kept as stored, 4-D); float
`data` or `double_data` (as float64), packed or not. Writing emits what Caffe's Net::ToProto + SerializeToString
emit: V2 layers in field-number order, blobs with float data then shape, streamed from the arrays without a copy.
"""
import collections
import os

import numpy as np
from google.protobuf import message as _message

from netspec import caffe_pb2
from netspec.layertypes import LAYER_TYPES

from . import fields, wire
from .atomic import atomic_file
from .errors import WeightsError
from .fields import wire_type_ok

# (message class, name field, blob field, nested V0 layer field)
_V2 = (caffe_pb2.LayerParameter, fields.LAYER_NAME, fields.LAYER_BLOBS, None)
_V1 = (caffe_pb2.V1LayerParameter, fields.V1_NAME, fields.V1_BLOBS, fields.V1_V0_LAYER)
_V0 = (caffe_pb2.V0LayerParameter, fields.V0_NAME, fields.V0_BLOBS, None)
_KINDS = {fields.NET_LAYER: _V2, fields.NET_LAYERS: _V1}
# BlobProto's data and double_data: the key of an unpacked value, the value's width, dtype and name
_REALS = {fields.BLOB_DATA: (fields.value_key(caffe_pb2.BlobProto, 'data'), 4, 'f4', 'float'),
          fields.BLOB_DOUBLE_DATA: (fields.value_key(caffe_pb2.BlobProto, 'double_data'), 8, 'f8', 'double')}


class _Reader:
    """Walks one file; `where` says which layer and blob is being read, for error messages."""

    def __init__(self, src, kind='caffemodel (binary NetParameter)'):
        self.src = src
        self.kind = kind
        self.where = 'the start of the file'

    def fail(self, detail, truncated=False):
        path = self.src.path
        if truncated:
            return WeightsError(f'{path}: truncated {self.kind}: {detail} while reading {self.where} '
                                f'(the file has {self.src.size} bytes)')
        return WeightsError(f'{path}: not a {self.kind}: {detail} while reading {self.where}')

    def blob(self, start, end, layer, index):
        """One BlobProto -> numpy array shaped as stored (legacy 4-D dims kept)."""
        src, buf = self.src, self.src.buf
        self.where = f'layer {layer!r} blob {index}'
        desc = caffe_pb2.BlobProto.DESCRIPTOR
        legacy = {}
        shape = caffe_pb2.BlobShape()
        reals = {num: [] for num in _REALS}    # data, double_data chunks (packed runs or unpacked values)
        pos = start
        while pos < end:
            num, wt, val, pos = wire.next_field(buf, pos, end)
            if not wire_type_ok(desc, num, wt):
                raise wire.Malformed(f'BlobProto field {num} has wire type {wt}')
            if num in fields.BLOB_LEGACY_DIMS:
                legacy[num] = val - (1 << 64) if val >= 1 << 63 else val
            elif num in _REALS:
                tag, width, dtype, what = _REALS[num]
                if wt == wire.LEN:
                    if (val[1] - val[0]) % width:
                        raise wire.Malformed(f'packed {what} data length is not a multiple of {width}')
                    arr = src.array(val[0], val[1], dtype)
                else:
                    arr, pos = wire.unpacked_run(src, val[0], end, tag, width, dtype)
                reals[num].append(arr)
            elif num == fields.BLOB_SHAPE:
                try:
                    shape.MergeFromString(src.bytes(*val))
                except _message.DecodeError as e:
                    raise wire.Malformed(f'bad BlobShape ({e})') from None
        # Caffe's Blob::FromProto: legacy dims when any is present, double_data when it has values
        if legacy:
            dims = tuple(legacy.get(k, 0) for k in fields.BLOB_LEGACY_DIMS)
        else:
            dims = tuple(shape.dim)
        chunks = reals[fields.BLOB_DOUBLE_DATA] or reals[fields.BLOB_DATA]
        data = chunks[0] if len(chunks) == 1 else np.concatenate(chunks) if chunks else np.empty(0, np.float32)
        count = int(np.prod(dims, dtype=np.int64))
        if any(d < 0 for d in dims) or count != data.size:
            raise WeightsError(f'{src.path}: layer {layer!r} blob {index}: shape {dims} holds {count} values '
                               f'but the file stores {data.size}')
        return data.reshape(dims)

    def layer(self, start, end, kind, index):
        """One layer message -> (its settings without blobs, [arrays])."""
        cls, name_field, blob_field, nested_field = kind
        buf = self.src.buf
        desc = cls.DESCRIPTOR
        self.where = f'layer #{index}'
        meta = bytearray()
        blob_ranges = []
        nested = None
        pos = start
        while pos < end:
            fstart = pos
            num, wt, val, pos = wire.next_field(buf, pos, end)
            if not wire_type_ok(desc, num, wt):
                raise wire.Malformed(f'{desc.name} field {num} has wire type {wt}')
            if num == blob_field:
                blob_ranges.append(val)
            elif num == nested_field:
                nested = self.layer(val[0], val[1], _V0, index)
            else:
                meta += buf[fstart:pos]
        try:
            msg = cls.FromString(bytes(meta))
        except _message.DecodeError as e:
            raise wire.Malformed(f'bad {desc.name} ({e})') from None
        name = msg.name
        arrays = []
        if nested is not None:  # V0 inside V1: the name and blobs live in the V0 message
            v0, v0_name, arrays = nested
            msg.layer.CopyFrom(v0)
            name = name or v0_name
        arrays += [self.blob(b[0], b[1], name, i) for i, b in enumerate(blob_ranges, start=len(arrays))]
        return msg, name, arrays

    def _check_layer_fits(self, pos, end, index):
        """A layer entry longer than the rest of the file: say which layer (its name is at its start)."""
        buf = self.src.buf
        try:
            key, p = wire.read_varint(buf, pos, end)
            if key & 7 != wire.LEN or (key >> 3) not in _KINDS:
                return
            length, p = wire.read_varint(buf, p, end)
        except wire.Malformed:
            return
        if p + length <= end:
            return
        name_field = _KINDS[key >> 3][1]
        name = None
        try:
            for num, wt, val, _ in wire.iter_fields(buf, p, end):
                if num == name_field and wt == wire.LEN:
                    name = self.src.bytes(*val).decode('utf-8', 'replace')
                    break
        except wire.Malformed:
            pass
        what = f'layer {name!r} (#{index})' if name is not None else f'layer #{index}'
        self.where = what
        raise wire.Malformed(f'its entry needs {length} bytes but only {end - p} remain', truncated=True)

    def net(self, want_net):
        """The whole NetParameter -> (OrderedDict {layer: [arrays]}, NetParameter without blobs or None)."""
        buf, end = self.src.buf, self.src.size
        desc = caffe_pb2.NetParameter.DESCRIPTOR
        arrays = collections.OrderedDict()
        meta = bytearray()
        layers = []
        pos = 0
        n = 0
        while pos < end:
            fstart = pos
            self.where = f'layer #{n}' if n else 'the start of the file'
            self._check_layer_fits(pos, end, n)
            num, wt, val, pos = wire.next_field(buf, pos, end)
            if not wire_type_ok(desc, num, wt):
                raise wire.Malformed(f'NetParameter field {num} has wire type {wt}')
            if num in _KINDS:
                msg, name, blobs = self.layer(val[0], val[1], _KINDS[num], n)
                n += 1
                arrays[name] = blobs
                if want_net:
                    layers.append((num, msg))
            else:
                meta += buf[fstart:pos]
        self.where = 'the net header'
        try:
            net = caffe_pb2.NetParameter.FromString(bytes(meta))
        except _message.DecodeError as e:
            raise wire.Malformed(f'bad NetParameter ({e})') from None
        if n == 0:
            raise self.fail('it holds no layers')
        if want_net:
            for num, msg in layers:
                (net.layer if num == fields.NET_LAYER else net.layers).add().CopyFrom(msg)
        return arrays, (net if want_net else None)


def read_caffemodel(path, with_net=False):
    """{layer name: [np.ndarray]} from a .caffemodel; with_net=True also returns the NetParameter without blobs."""
    path = os.fspath(path)
    try:
        src = wire.Source(path)
    except OSError as e:
        raise WeightsError(f'{path}: cannot read caffemodel: {e.strerror}') from None
    with src:
        reader = _Reader(src)
        try:
            arrays, net = reader.net(with_net)
        except wire.Malformed as e:
            raise reader.fail(str(e), e.truncated) from None
    return (arrays, net) if with_net else arrays


# ---------------------------------------------------------------------------------------------------------- writing

def as_float32(a):
    """A C-contiguous little-endian float32 numpy view/copy of an array or tensor."""
    if hasattr(a, 'detach'):
        a = a.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(a), dtype='<f4')


def blob_header_and_tail(arr, field):
    """Bytes around the raw float data of one BlobProto written as Caffe's Blob::ToProto writes it.

    Returns (head, tail, total length of the field including its own key), where the field is
    head + arr bytes + tail.
    """
    nbytes = arr.size * 4
    data_part = wire.len_header(fields.BLOB_DATA, nbytes) if nbytes else b''
    shape_bytes = caffe_pb2.BlobShape(dim=arr.shape).SerializeToString()
    tail = wire.len_header(fields.BLOB_SHAPE, len(shape_bytes)) + shape_bytes
    body_len = len(data_part) + nbytes + len(tail)
    head = wire.len_header(field, body_len) + data_part
    return head, tail, len(head) + nbytes + len(tail)


def write_blob(f, arr, head, tail):
    f.write(head)
    if arr.size:
        f.write(memoryview(arr.reshape(-1)).cast('B'))
    f.write(tail)


def _split_layer(layer_param):
    """A LayerParameter's serialized fields below and above `blobs`, blobs themselves removed."""
    lo = caffe_pb2.LayerParameter()
    lo.CopyFrom(layer_param)
    lo.ClearField('blobs')
    hi = caffe_pb2.LayerParameter()
    hi.CopyFrom(lo)
    for fd, _ in lo.ListFields():
        if fd.number > fields.LAYER_BLOBS:
            lo.ClearField(fd.name)
        else:
            hi.ClearField(fd.name)
    return lo.SerializeToString(), hi.SerializeToString()


# Layer types that own blobs (their records say so): written without them, Caffe would refuse the file
# ("Incompatible number of blobs")
PARAM_TYPES = frozenset(name for name, r in LAYER_TYPES.items() if r.owns_blobs)


def layer_plan(arrays, net_param=None):
    """[(name, LayerParameter without blobs, [arrays])] in Net::ToProto order.

    With net_param: its V2 layers in order, each with the arrays of that name; a layer absent from `arrays` is
    written empty when its type owns no blobs (as Caffe writes ReLU, Pooling, ...) and left out when it does (so the
    file leaves it untouched rather than failing Caffe's blob-count check); then any arrays whose layer the net
    lacks. Without net_param: one entry per arrays key.
    """
    plan = []
    seen = set()
    if net_param is not None:
        for lp in net_param.layer:
            seen.add(lp.name)
            if lp.name in arrays or lp.type not in PARAM_TYPES:
                plan.append((lp.name, lp, list(arrays.get(lp.name, []))))
        for v1 in net_param.layers:
            seen.add(v1.name)
            if v1.name in arrays:
                plan.append((v1.name, caffe_pb2.LayerParameter(name=v1.name), list(arrays[v1.name])))
    for name, blobs in arrays.items():
        if name not in seen:
            plan.append((name, caffe_pb2.LayerParameter(name=name), list(blobs)))
    return plan


def write_caffemodel(path, arrays, net_param=None):
    """Write {layer: [arrays]} as a .caffemodel Caffe loads (atomically; float32 blobs with `shape`)."""
    path = os.fspath(path)
    plan = layer_plan(arrays, net_param)
    with atomic_file(path, 'caffemodel') as f:
        if net_param is not None and net_param.name:
            f.write(caffe_pb2.NetParameter(name=net_param.name).SerializeToString())
        for name, lp, blobs in plan:
            lo, hi = _split_layer(lp)
            blobs = [as_float32(b) for b in blobs]
            parts = [blob_header_and_tail(b, fields.LAYER_BLOBS) for b in blobs]
            length = len(lo) + sum(p[2] for p in parts) + len(hi)
            f.write(wire.len_header(fields.NET_LAYER, length))
            f.write(lo)
            for b, (head, tail, _) in zip(blobs, parts):
                write_blob(f, b, head, tail)
            f.write(hi)
