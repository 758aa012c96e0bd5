"""The field numbers and wire types that the streaming reader and writer (caffemodel.py, solverstate.py) walk, read
from the schema (netspec's caffe_pb2 descriptors) rather than written out by hand."""
from google.protobuf.descriptor import FieldDescriptor

from netspec import caffe_pb2

from . import wire


def number(message, name):
    """The field number of `message`.`name`."""
    return message.DESCRIPTOR.fields_by_name[name].number


_FD = FieldDescriptor
_WIRE_TYPES = {_FD.TYPE_STRING: wire.LEN, _FD.TYPE_BYTES: wire.LEN, _FD.TYPE_MESSAGE: wire.LEN,
               _FD.TYPE_FLOAT: wire.I32, _FD.TYPE_FIXED32: wire.I32, _FD.TYPE_SFIXED32: wire.I32,
               _FD.TYPE_DOUBLE: wire.I64, _FD.TYPE_FIXED64: wire.I64, _FD.TYPE_SFIXED64: wire.I64}


def wire_type(field):
    """The wire type of one (unpacked) value of a field (VARINT for the integer, bool and enum types)."""
    return _WIRE_TYPES.get(field.type, wire.VARINT)


def wire_type_ok(descriptor, num, wt):
    """True when field `num` of the message may arrive with wire type `wt` (unknown fields are allowed; a repeated
    scalar may come packed, as LEN)."""
    f = descriptor.fields_by_number.get(num)
    if f is None:
        return True
    return wt == wire_type(f) or (wt == wire.LEN and f.is_repeated)


def value_key(message, name):
    """The key of one unpacked value of `message`.`name`, as one byte (the field numbers used here are < 16)."""
    f = message.DESCRIPTOR.fields_by_name[name]
    key = (f.number << 3) | wire_type(f)
    assert key < 0x80, f'{message.DESCRIPTOR.name}.{name}: the key needs more than one byte'
    return key


_Net, _Layer, _V1, _V0 = caffe_pb2.NetParameter, caffe_pb2.LayerParameter, caffe_pb2.V1LayerParameter, \
    caffe_pb2.V0LayerParameter
_Blob, _State = caffe_pb2.BlobProto, caffe_pb2.SolverState

NET_LAYER, NET_LAYERS = number(_Net, 'layer'), number(_Net, 'layers')            # V2 layers, V1 layers
LAYER_NAME, LAYER_BLOBS = number(_Layer, 'name'), number(_Layer, 'blobs')
V1_NAME, V1_BLOBS, V1_V0_LAYER = number(_V1, 'name'), number(_V1, 'blobs'), number(_V1, 'layer')
V0_NAME, V0_BLOBS = number(_V0, 'name'), number(_V0, 'blobs')
BLOB_LEGACY_DIMS = tuple(number(_Blob, n) for n in ('num', 'channels', 'height', 'width'))
BLOB_DATA, BLOB_DOUBLE_DATA, BLOB_SHAPE = number(_Blob, 'data'), number(_Blob, 'double_data'), number(_Blob, 'shape')
STATE_ITER, STATE_LEARNED_NET = number(_State, 'iter'), number(_State, 'learned_net')
STATE_HISTORY, STATE_CURRENT_STEP = number(_State, 'history'), number(_State, 'current_step')
