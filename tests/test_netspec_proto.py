"""The committed caffe_pb2.py is what the one regeneration command makes from netspec/caffe.proto."""
import pathlib

import numpy as np
import pytest
from google.protobuf import descriptor_pb2

from netspec import caffe_pb2

NETSPEC = pathlib.Path(__file__).resolve().parents[1] / 'netspec'


def _normalized(file_proto):
    """Drop what the Python module's embedded copy writes differently: json_name (protoc adds it to descriptor
    sets) and float defaults' spelling ("1e-08" there is "9.99999994e-09" here: the same float32)."""
    def walk(messages):
        for m in messages:
            for f in m.field:
                f.ClearField('json_name')
                if f.type == f.TYPE_FLOAT and f.HasField('default_value'):
                    f.default_value = repr(float(np.float32(f.default_value)))
            walk(m.nested_type)
    walk(file_proto.message_type)
    return file_proto


def test_generated_module_matches_caffe_proto(tmp_path):
    protoc = pytest.importorskip('grpc_tools.protoc', reason='grpcio-tools (the test extra) regenerates the schema')
    out = tmp_path / 'caffe.desc'
    rc = protoc.main(['protoc', f'-I{NETSPEC}', f'--descriptor_set_out={out}', str(NETSPEC / 'caffe.proto')])
    assert rc == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    committed = descriptor_pb2.FileDescriptorProto.FromString(caffe_pb2.DESCRIPTOR.serialized_pb)
    assert _normalized(committed) == _normalized(fresh), 'netspec/caffe_pb2.py is stale: rerun the command in netspec/caffe.proto\'s header'


def test_schema_has_caffes_top_level_messages():
    for name in ('NetParameter', 'LayerParameter', 'V1LayerParameter', 'V0LayerParameter', 'BlobProto', 'BlobShape',
                 'ParamSpec', 'NetState', 'NetStateRule', 'FillerParameter', 'SolverParameter', 'SolverState'):
        assert name in caffe_pb2.DESCRIPTOR.message_types_by_name, name
    assert caffe_pb2.NetParameter.DESCRIPTOR.fields_by_name['layers'].number == 2
    assert caffe_pb2.NetParameter.DESCRIPTOR.fields_by_name['layer'].number == 100
