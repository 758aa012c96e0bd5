"""Prototxt I/O: reference files round-trip, errors name the file, line, column and field."""
import pytest

import netspec
from netspec import caffe_pb2


def _reference_files(reference):
    return sorted(reference.glob('*/*.prototxt'))


def _kind(path):
    return 'SolverParameter' if path.name == 'solver.prototxt' else 'NetParameter'


def test_all_46_reference_prototxts_parse(reference):
    files = _reference_files(reference)
    assert len(files) == 46
    for path in files:
        msg = netspec.read_text(path, _kind(path))
        assert msg.ByteSize() > 0, path


def test_text_round_trip_is_identity(reference, tmp_path):
    for path in _reference_files(reference):
        msg = netspec.read_text(path, _kind(path))
        out = tmp_path / 'copy.prototxt'
        netspec.write_text(msg, out)
        assert netspec.read_text(out, _kind(path)) == msg, path


def test_binary_round_trip_is_identity(reference, tmp_path):
    for path in _reference_files(reference):
        msg = netspec.read_text(path, _kind(path))
        out = tmp_path / 'copy.binaryproto'
        netspec.write_binary(msg, out)
        assert netspec.read_binary(out, _kind(path)) == msg, path


def test_generated_nets_text_is_byte_identical(reference):
    for path in _reference_files(reference):
        if path.name in ('solver.prototxt', 'deploy.prototxt'):
            continue  # hand-written upstream: comments and field order differ, the messages are equal
        msg = netspec.read_text(path)
        assert netspec.to_text(msg) == path.read_text(), path


def test_unknown_field_names_field_message_and_place():
    with pytest.raises(netspec.PrototxtError) as e:
        netspec.parse_text('layer {\n  name: "a"\n  kernel_size: 3\n}\n', source='bad.prototxt')
    msg = str(e.value)
    assert 'bad.prototxt:3:' in msg and 'kernel_size' in msg and 'caffe.LayerParameter' in msg


def test_truncated_prototxt_names_file_line_and_column(tmp_path):
    path = tmp_path / 'truncated.prototxt'
    path.write_text('name: "x"\nlayer {\n  name: "conv"\n  type: "Convolution"\n')
    with pytest.raises(netspec.PrototxtError) as e:
        netspec.read_text(path)
    assert str(path) + ':5:' in str(e.value) or str(path) + ':4:' in str(e.value)


def test_truncated_binary_is_a_clear_error(tmp_path):
    net = caffe_pb2.NetParameter(name='n')
    layer = net.layer.add(name='conv', type='Convolution')
    layer.blobs.add().data.extend([1.0] * 100)
    path = tmp_path / 'net.caffemodel'
    path.write_bytes(net.SerializeToString()[:-7])
    with pytest.raises(netspec.PrototxtError) as e:
        netspec.read_binary(path)
    assert str(path) in str(e.value) and 'NetParameter' in str(e.value)


def test_missing_file_names_path(tmp_path):
    with pytest.raises(netspec.PrototxtError) as e:
        netspec.read_text(tmp_path / 'nope.prototxt')
    assert 'nope.prototxt' in str(e.value)
