"""Weight and solver-state files: formats, round trips, and errors on bad input."""
import collections
import os
import struct

import h5py
import numpy as np
import pytest
import torch

import weights
from netspec import caffe_pb2
from weights import WeightsError, read_weights, write_weights
from weights.caffemodel import read_caffemodel

GOLDEN = os.path.join(os.path.dirname(__file__), 'golden', 'weights')


def sample_arrays(seed=0):
    rng = np.random.RandomState(seed)
    return collections.OrderedDict([
        ('conv1', [rng.randn(4, 3, 3, 3).astype(np.float32), rng.randn(4).astype(np.float32)]),
        ('relu1', []),
        ('fc', [rng.randn(5, 36).astype(np.float32), rng.randn(5).astype(np.float32)]),
        ('up', [rng.randn(5, 5, 4, 4).astype(np.float32)]),
    ])


def assert_same(a, b, skip_empty=False):
    want = [k for k in a if not (skip_empty and not a[k])]
    assert list(k for k in b if not (skip_empty and not b[k])) == want or sorted(b) == sorted(want)
    for k in want:
        assert len(a[k]) == len(b[k]), k
        for x, y in zip(a[k], b[k]):
            assert x.shape == y.shape and x.dtype == y.dtype, k
            assert np.array_equal(x, y), k


# ------------------------------------------------------------------------------------------------- round trips

@pytest.mark.parametrize('ext', ['caffemodel', 'caffemodel.h5', 'pth'])
def test_written_weights_read_back_bit_exactly(tmp_path, ext):
    arrays = sample_arrays()
    path = tmp_path / f'net.{ext}'
    write_weights(path, arrays)
    assert_same(arrays, read_weights(path), skip_empty=(ext == 'pth'))


def test_caffemodel_layer_order_is_kept(tmp_path):
    arrays = sample_arrays()
    write_weights(tmp_path / 'a.caffemodel', arrays)
    assert list(read_weights(tmp_path / 'a.caffemodel')) == list(arrays)


def test_written_caffemodel_is_what_protobuf_serializes(tmp_path):
    arrays = sample_arrays()
    net = caffe_pb2.NetParameter()
    for name, blobs in arrays.items():
        layer = net.layer.add(name=name)
        for b in blobs:
            blob = layer.blobs.add()
            blob.shape.dim.extend(b.shape)
            blob.data.extend(b.ravel())
    write_weights(tmp_path / 'a.caffemodel', arrays)
    assert (tmp_path / 'a.caffemodel').read_bytes() == net.SerializeToString()


def test_caffemodel_with_net_param_carries_the_layer_settings(tmp_path):
    net = caffe_pb2.NetParameter(name='tiny')
    conv = net.layer.add(name='conv1', type='Convolution', bottom=['data'], top=['conv1'])
    conv.convolution_param.num_output = 4
    conv.convolution_param.kernel_size.append(3)
    conv.param.add(lr_mult=1)
    net.layer.add(name='relu1', type='ReLU', bottom=['conv1'], top=['conv1'])
    arrays = {'conv1': sample_arrays()['conv1']}
    write_weights(tmp_path / 'a.caffemodel', arrays, net)
    got = caffe_pb2.NetParameter.FromString((tmp_path / 'a.caffemodel').read_bytes())
    assert got.name == 'tiny'
    assert [lp.name for lp in got.layer] == ['conv1', 'relu1']
    assert got.layer[0].convolution_param.num_output == 4 and got.layer[0].param[0].lr_mult == 1
    assert list(got.layer[0].blobs[0].shape.dim) == [4, 3, 3, 3]
    assert len(got.layer[1].blobs) == 0


def test_layers_with_blobs_missing_from_the_arrays_are_left_out_not_written_empty(tmp_path):
    net = caffe_pb2.NetParameter()
    net.layer.add(name='conv1', type='Convolution')
    net.layer.add(name='relu1', type='ReLU')
    net.layer.add(name='fc', type='InnerProduct')
    for ext in ('caffemodel', 'caffemodel.h5'):
        write_weights(tmp_path / f'a.{ext}', {'conv1': sample_arrays()['conv1']}, net)
        assert sorted(read_weights(tmp_path / f'a.{ext}')) == ['conv1', 'relu1']


def test_h5_with_net_param_has_empty_groups_for_parameterless_layers(tmp_path):
    net = caffe_pb2.NetParameter()
    net.layer.add(name='conv1', type='Convolution')
    net.layer.add(name='relu1', type='ReLU')
    write_weights(tmp_path / 'a.caffemodel.h5', {'conv1': sample_arrays()['conv1']}, net)
    with h5py.File(tmp_path / 'a.caffemodel.h5', 'r') as f:
        assert sorted(f['data']) == ['conv1', 'relu1']
        assert len(f['data/relu1']) == 0
        assert f['data/conv1/0'].dtype == np.float32 and f['data/conv1/0'].shape == (4, 3, 3, 3)


def test_pth_is_a_state_dict_keyed_by_layer_and_blob_index(tmp_path):
    arrays = sample_arrays()
    write_weights(tmp_path / 'a.pth', arrays)
    sd = torch.load(tmp_path / 'a.pth', weights_only=True)
    assert list(sd) == ['conv1.0', 'conv1.1', 'fc.0', 'fc.1', 'up.0']
    assert torch.equal(sd['fc.0'], torch.from_numpy(arrays['fc'][0]))


def test_tensors_and_parameters_can_be_written(tmp_path):
    arrays = {k: [torch.nn.Parameter(torch.from_numpy(b)) for b in v] for k, v in sample_arrays().items()}
    for ext in ('caffemodel', 'h5', 'pth'):
        write_weights(tmp_path / f'a.{ext}', arrays)
        assert np.array_equal(read_weights(tmp_path / f'a.{ext}')['fc'][0], arrays['fc'][0].detach().numpy())


# ------------------------------------------------------------------------------------------- the wire format

def v1_vgg_style_model():
    """A VGG16-release-style caffemodel: V1 `layers`, type enums, legacy 4-D dims, 1x1xMxN InnerProduct weights."""
    rng = np.random.RandomState(3)
    net = caffe_pb2.NetParameter(name='VGG_ILSVRC_16_layers')
    want = collections.OrderedDict()

    def add(name, kind, shapes):
        layer = net.layers.add(name=name, type=kind)
        want[name] = []
        for s in shapes:
            a = rng.randn(*s).astype(np.float32)
            blob = layer.blobs.add(num=s[0], channels=s[1], height=s[2], width=s[3])
            blob.data.extend(a.ravel())
            want[name].append(a)
        if shapes:
            layer.blobs_lr.extend([1, 2])
        return layer

    V1 = caffe_pb2.V1LayerParameter
    add('conv1_1', V1.CONVOLUTION, [(4, 3, 3, 3), (1, 1, 1, 4)]).convolution_param.num_output = 4
    add('relu1_1', V1.RELU, [])
    add('pool1', V1.POOLING, [])
    add('fc6', V1.INNER_PRODUCT, [(1, 1, 6, 16), (1, 1, 1, 6)])
    add('drop6', V1.DROPOUT, [])
    add('fc8', V1.INNER_PRODUCT, [(1, 1, 3, 6), (1, 1, 1, 3)])
    return net, want


def test_v1_caffemodel_loads_with_legacy_dims_kept(tmp_path):
    net, want = v1_vgg_style_model()
    (tmp_path / 'vgg.caffemodel').write_bytes(net.SerializeToString())
    got = read_weights(tmp_path / 'vgg.caffemodel')
    assert list(got) == list(want)
    assert_same(want, got)
    assert got['fc6'][0].shape == (1, 1, 6, 16) and got['fc6'][1].shape == (1, 1, 1, 6)


def test_v1_layers_keep_their_settings_when_asked(tmp_path):
    net, _ = v1_vgg_style_model()
    (tmp_path / 'vgg.caffemodel').write_bytes(net.SerializeToString())
    _, skeleton = read_caffemodel(tmp_path / 'vgg.caffemodel', with_net=True)
    assert skeleton.name == 'VGG_ILSVRC_16_layers'
    assert skeleton.layers[0].type == caffe_pb2.V1LayerParameter.CONVOLUTION
    assert skeleton.layers[0].convolution_param.num_output == 4
    assert len(skeleton.layers[0].blobs) == 0 and list(skeleton.layers[0].blobs_lr) == [1, 2]


def test_legacy_inner_product_blobs_match_modern_shapes_right_aligned():
    _, want = v1_vgg_style_model()
    got = weights.match_arrays({'fc6': [(6, 16), (6,)]}, want, source='vgg.caffemodel')
    assert got['fc6'][0].shape == (6, 16) and np.array_equal(got['fc6'][0].ravel(), want['fc6'][0].ravel())
    assert got['fc6'][1].shape == (6,)


def test_v0_layers_nested_in_v1_load(tmp_path):
    net = caffe_pb2.NetParameter()
    outer = net.layers.add()
    outer.layer.name = 'conv1'
    outer.layer.type = 'conv'
    a = np.arange(6, dtype=np.float32)
    outer.layer.blobs.add(num=1, channels=1, height=2, width=3).data.extend(a)
    (tmp_path / 'v0.caffemodel').write_bytes(net.SerializeToString())
    got = read_weights(tmp_path / 'v0.caffemodel')
    assert list(got) == ['conv1'] and np.array_equal(got['conv1'][0], a.reshape(1, 1, 2, 3))


def _unpacked_blob(values, shape, split=None):
    """BlobProto bytes with float data written unpacked (one key per value), optionally as two runs around a
    packed chunk."""
    shape_bytes = caffe_pb2.BlobShape(dim=shape).SerializeToString()
    out = b'\x3a' + bytes([len(shape_bytes)]) + shape_bytes
    vals = list(values)
    if split is None:
        return out + b''.join(b'\x2d' + struct.pack('<f', v) for v in vals)
    a, b, c = vals[:split], vals[split:split + 2], vals[split + 2:]
    out += b''.join(b'\x2d' + struct.pack('<f', v) for v in a)
    out += b'\x2a' + bytes([4 * len(b)]) + struct.pack(f'<{len(b)}f', *b)
    return out + b''.join(b'\x2d' + struct.pack('<f', v) for v in c)


def _layer_bytes(name, blob_payloads):
    layer = caffe_pb2.LayerParameter(name=name).SerializeToString()
    for p in blob_payloads:
        layer += b'\x3a' + _varint(len(p)) + p
    return b'\xa2\x06' + _varint(len(layer)) + layer  # field 100, wire type 2


def _varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


@pytest.mark.parametrize('split', [None, 3])
def test_unpacked_and_mixed_float_data_parse_as_protobuf_does(tmp_path, split):
    values = np.random.RandomState(1).randn(2, 5).astype(np.float32)
    data = _layer_bytes('ip', [_unpacked_blob(values.ravel(), values.shape, split)])
    (tmp_path / 'u.caffemodel').write_bytes(data)
    got = read_weights(tmp_path / 'u.caffemodel')['ip'][0]
    ref = caffe_pb2.NetParameter.FromString(data).layer[0].blobs[0]
    assert np.array_equal(got, np.array(ref.data, dtype=np.float32).reshape(2, 5))
    assert np.array_equal(got, values)


def test_double_data_loads_as_float64(tmp_path):
    net = caffe_pb2.NetParameter()
    blob = net.layer.add(name='ip').blobs.add()
    blob.shape.dim.extend([2, 2])
    blob.double_data.extend([1.0, 2.5, 1e-300, -3.0])
    (tmp_path / 'd.caffemodel').write_bytes(net.SerializeToString())
    got = read_weights(tmp_path / 'd.caffemodel')['ip'][0]
    assert got.dtype == np.float64 and np.array_equal(got, [[1.0, 2.5], [1e-300, -3.0]])


def test_blob_without_shape_holds_one_value_like_a_caffe_scalar_blob(tmp_path):
    net = caffe_pb2.NetParameter()
    net.layer.add(name='s').blobs.add(data=[0.25])
    (tmp_path / 's.caffemodel').write_bytes(net.SerializeToString())
    assert read_weights(tmp_path / 's.caffemodel')['s'][0].shape == ()


# ---------------------------------------------------------------------------------------------- solver state

@pytest.mark.parametrize('name', ['a.solverstate', 'a.solverstate.h5'])
def test_solverstate_round_trip(tmp_path, name):
    hist = [h for v in sample_arrays(5).values() for h in v]
    state = weights.SolverState(iter=4000, learned_net='snapshot/train_iter_4000.caffemodel', history=hist,
                                current_step=2)
    weights.write_solverstate(tmp_path / name, state)
    got = weights.read_solverstate(tmp_path / name)
    assert (got.iter, got.learned_net, got.current_step) == (4000, state.learned_net, 2)
    assert len(got.history) == len(hist) and all(np.array_equal(a, b) for a, b in zip(hist, got.history))


def test_binary_solverstate_is_a_solverstate_message(tmp_path):
    weights.write_solverstate(tmp_path / 'a.solverstate', {'iter': 3, 'learned_net': 'x.caffemodel',
                                                           'history': [np.ones((2, 2), np.float32)]})
    msg = caffe_pb2.SolverState.FromString((tmp_path / 'a.solverstate').read_bytes())
    assert msg.iter == 3 and msg.learned_net == 'x.caffemodel' and msg.current_step == 0
    assert list(msg.history[0].shape.dim) == [2, 2] and list(msg.history[0].data) == [1, 1, 1, 1]


# ------------------------------------------------------------------------------------------------- bad input

@pytest.fixture
def caffe_bytes():
    return open(os.path.join(GOLDEN, 'caffe_vgg16_thin.caffemodel'), 'rb').read()


@pytest.mark.parametrize('cut', [0.5, 0.9, 0.999])
def test_truncated_caffemodel_is_reported_as_truncated(tmp_path, caffe_bytes, cut):
    p = tmp_path / 'cut.caffemodel'
    p.write_bytes(caffe_bytes[:int(len(caffe_bytes) * cut)])
    with pytest.raises(WeightsError, match=r"cut\.caffemodel: truncated caffemodel.*while reading layer '\w+'"):
        read_weights(p)


@pytest.mark.parametrize('content, hint', [
    (b'name: "VGG16"\nlayer { name: "conv1" type: "Convolution" }\n', 'text file'),
    (b'\x89HDF\r\n\x1a\n' + bytes(200), 'HDF5'),
    (bytes(64), None),
    (b'', None),
])
def test_file_that_is_not_a_caffemodel_is_rejected(tmp_path, content, hint):
    p = tmp_path / 'bad.caffemodel'
    p.write_bytes(content)
    with pytest.raises(WeightsError, match='bad.caffemodel: not a caffemodel') as e:
        read_weights(p)
    if hint:
        assert hint in str(e.value)


def test_solverstate_is_not_taken_for_a_caffemodel(tmp_path):
    weights.write_solverstate(tmp_path / 's.solverstate', weights.SolverState(iter=1, history=[np.zeros(3)]))
    with pytest.raises(WeightsError, match='not a caffemodel'):
        read_caffemodel(tmp_path / 's.solverstate')


def test_blob_whose_data_disagrees_with_its_shape_names_layer_and_blob(tmp_path):
    net = caffe_pb2.NetParameter()
    blob = net.layer.add(name='fc7').blobs.add(data=[1, 2, 3])
    blob.shape.dim.extend([2, 2])
    (tmp_path / 'x.caffemodel').write_bytes(net.SerializeToString())
    with pytest.raises(WeightsError, match=r"x.caffemodel: layer 'fc7' blob 0: shape \(2, 2\) holds 4 values"):
        read_weights(tmp_path / 'x.caffemodel')


def test_missing_file_is_a_clear_error(tmp_path):
    for ext in ('caffemodel', 'h5', 'pth', 'solverstate'):
        with pytest.raises(WeightsError, match='nope'):
            (weights.read_solverstate if ext == 'solverstate' else read_weights)(tmp_path / f'nope.{ext}')


def test_h5_without_data_group_is_not_caffe_layout(tmp_path):
    with h5py.File(tmp_path / 'w.h5', 'w') as f:
        f.create_dataset('conv1/0', data=np.zeros(3))
    with pytest.raises(WeightsError, match=r'w.h5: not Caffe\'s HDF5 weight layout: no group "data"'):
        read_weights(tmp_path / 'w.h5')


def test_h5_layer_missing_a_blob_is_reported(tmp_path):
    with h5py.File(tmp_path / 'w.h5', 'w') as f:
        f.create_dataset('data/conv1/0', data=np.zeros(3, np.float32))
        f.create_dataset('data/conv1/2', data=np.zeros(3, np.float32))
    with pytest.raises(WeightsError, match=r"w.h5: layer 'conv1' .* holds blobs \[0, 2\]"):
        read_weights(tmp_path / 'w.h5')


def test_h5_missing_a_layer_fails_a_strict_match(tmp_path):
    write_weights(tmp_path / 'w.caffemodel.h5', {'conv1': sample_arrays()['conv1']})
    got = read_weights(tmp_path / 'w.caffemodel.h5')
    target = {'conv1': [(4, 3, 3, 3), (4,)], 'fc': [(5, 36), (5,)]}
    assert list(weights.match_arrays(target, got, 'w.caffemodel.h5')) == ['conv1']  # Caffe: left as it is
    with pytest.raises(WeightsError, match=r"w.caffemodel.h5: holds no blobs for layer\(s\) \['fc'\]"):
        weights.match_arrays(target, got, 'w.caffemodel.h5', strict=True)


def test_shape_mismatch_names_file_layer_blob_and_both_shapes():
    arrays = {'fc6': [np.zeros((8, 392), np.float32), np.zeros(8, np.float32)]}
    with pytest.raises(WeightsError, match=r"vgg.caffemodel: cannot copy param 0 of layer 'fc6'; shape mismatch: "
                                           r"the file has \(8, 392\).*the net expects \(8, 8, 7, 7\)"):
        weights.match_arrays({'fc6': [(8, 8, 7, 7), (8,)]}, arrays, 'vgg.caffemodel')


def test_blob_count_mismatch_is_an_error_as_in_caffe():
    with pytest.raises(WeightsError, match="incompatible number of blobs for layer 'conv1'"):
        weights.match_arrays({'conv1': [(4,), (4,)]}, {'conv1': [np.zeros(4)]}, 'w.caffemodel')


def test_source_layers_the_net_lacks_are_ignored():
    msgs = []
    got = weights.match_arrays({'a': [(2,)]}, {'a': [np.ones(2)], 'fc8': [np.ones(3)]}, 'w', log=msgs.append)
    assert list(got) == ['a'] and msgs == ['Ignoring source layer fc8']


def test_pth_with_foreign_keys_is_rejected(tmp_path):
    torch.save({'features.0.weight': torch.zeros(2)}, tmp_path / 'x.pth')
    with pytest.raises(WeightsError, match=r"x.pth: entry 'features.0.weight' is not"):
        read_weights(tmp_path / 'x.pth')


@pytest.mark.parametrize('ext', ['caffemodel', 'caffemodel.h5', 'pth', 'solverstate', 'solverstate.h5'])
def test_failed_write_leaves_the_destination_untouched(tmp_path, ext):
    dest = tmp_path / f'keep.{ext}'
    dest.write_bytes(b'precious')
    bad = collections.OrderedDict([('conv1', [np.zeros(3, np.float32)]), ('fc', [object()])])
    with pytest.raises(Exception):
        if 'solverstate' in ext:
            weights.write_solverstate(dest, weights.SolverState(history=[np.zeros(2), object()]))
        else:
            write_weights(dest, bad)
    assert dest.read_bytes() == b'precious'
    assert os.listdir(tmp_path) == [dest.name]  # no temporary file left behind
