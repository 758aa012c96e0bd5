"""What the real Caffe writes, we read bit-exactly; what we write, the real Caffe reads bit-exactly.

Fixtures: tests/golden/weights, made by tests/golden/make_weights.py with the oracle (brocolli-caffe 1.0).
"""
import os

import numpy as np
import pytest

import weights
from weights.caffemodel import read_caffemodel, write_caffemodel

pytestmark = pytest.mark.oracle

GOLDEN = os.path.join(os.path.dirname(__file__), 'golden', 'weights')
NETS = ['vgg16_thin', 'caffenet_thin', 'fcn8s_thin']


def g(name):
    return os.path.join(GOLDEN, name)


def npz_layers(path):
    """{layer: {index: array}} from an npz keyed '<layer>.<index>'."""
    out = {}
    with np.load(path) as z:
        for k in z.files:
            layer, i = k.rsplit('.', 1)
            out.setdefault(layer, {})[int(i)] = z[k]
    return out


def assert_equal_to_npz(arrays, npz):
    want = npz_layers(npz)
    assert {k for k, v in arrays.items() if v} == set(want)
    for layer, blobs in want.items():
        assert len(arrays[layer]) == len(blobs)
        for i, a in blobs.items():
            got = arrays[layer][i]
            assert got.dtype == np.float32 and got.shape == a.shape, (layer, i)
            assert np.array_equal(got.view(np.uint32), a.view(np.uint32)), (layer, i)


@pytest.mark.parametrize('net', NETS)
@pytest.mark.parametrize('ext', ['caffemodel', 'caffemodel.h5'])
def test_caffe_written_weights_load_bit_exactly(net, ext):
    assert_equal_to_npz(weights.read_weights(g(f'caffe_{net}.{ext}')), g(f'caffe_{net}.npz'))


@pytest.mark.parametrize('net', NETS)
def test_caffe_written_caffemodel_lists_every_layer_in_net_order(net):
    """Net::ToProto writes every layer, parameterless ones and the Split layers Caffe inserts included."""
    from netspec import read_net
    arrays = weights.read_weights(g(f'caffe_{net}.caffemodel'))
    names = [lp.name for lp in read_net(g(f'{net}.prototxt')).layer]
    assert [n for n in arrays if not n.endswith('_split')] == names
    assert all(arrays[n] == [] for n in arrays if n.endswith('_split') or n.startswith(('relu', 'pool')))


@pytest.mark.parametrize('net', NETS)
@pytest.mark.parametrize('suffix', ['', '_h5'])
def test_what_we_write_caffe_loads_bit_exactly(net, suffix):
    ours = npz_layers(g(f'ours_{net}.npz'))
    caffe_read = npz_layers(g(f'caffe_read_ours_{net}{suffix}.npz'))
    assert set(caffe_read) == set(ours)
    for layer in ours:
        for i in ours[layer]:
            assert np.array_equal(caffe_read[layer][i].view(np.uint32), ours[layer][i].view(np.uint32))


@pytest.mark.parametrize('net', NETS)
def test_committed_files_are_what_write_weights_gives_today(net, tmp_path):
    from netspec import read_net
    want = npz_layers(g(f'ours_{net}.npz'))
    arrays = {k: [v[i] for i in sorted(v)] for k, v in want.items()}
    write_weights_path = tmp_path / 'x.caffemodel'
    weights.write_weights(write_weights_path, arrays, read_net(g(f'{net}.prototxt')))
    assert write_weights_path.read_bytes() == open(g(f'ours_{net}.caffemodel'), 'rb').read()


@pytest.mark.parametrize('net', NETS)
def test_rewriting_a_caffe_file_with_its_own_layer_settings_is_byte_identical(net, tmp_path):
    arrays, net_param = read_caffemodel(g(f'caffe_{net}.caffemodel'), with_net=True)
    write_caffemodel(tmp_path / 'x.caffemodel', arrays, net_param)
    assert (tmp_path / 'x.caffemodel').read_bytes() == open(g(f'caffe_{net}.caffemodel'), 'rb').read()


@pytest.mark.parametrize('fmt, ext', [('bin', '.solverstate'), ('h5', '.solverstate.h5')])
def test_solverstate_round_trip_through_caffe(fmt, ext):
    """We wrote iter 7 + history h + learned_net w0; Caffe restored it, stepped once with base_lr 0 and momentum 1
    (each weight moves by exactly -h), and snapshotted. Both directions are exact."""
    ours = np.load(g('ours_solver.npz'))
    restored = np.load(g(f'caffe_restored_{fmt}.npz'))
    assert int(restored['iter_restored']) == 7
    for i in range(2):
        assert np.array_equal(restored[f'w0_{i}'], ours[f'w0_{i}'])                  # Caffe read our learned_net
        assert np.array_equal(restored[f'w1_{i}'], ours[f'w0_{i}'] - ours[f'h_{i}'])  # ... and our history
    state = weights.read_solverstate(g(f'caffe_{fmt}_iter_8{ext}'))
    assert state.iter == 8 and state.current_step == 3
    assert state.learned_net == f'caffe_{fmt}_iter_8.caffemodel' + ('.h5' if fmt == 'h5' else '')
    assert len(state.history) == 2
    for i in range(2):
        assert np.array_equal(state.history[i], ours[f'h_{i}'])
    model = weights.read_weights(g(state.learned_net))
    for i in range(2):
        assert np.array_equal(model['ip'][i], restored[f'w1_{i}'])


@pytest.mark.parametrize('variant', ['v1', 'unpacked', 'double'])
def test_old_encodings_read_as_caffe_reads_them(variant):
    """V1 `layers` with legacy 4-D dims (the VGG16 release), unpacked floats, double_data: after Caffe's copy rules
    (legacy dims right-aligned, doubles cast to float), our arrays equal what the real Caffe loaded, bit for bit."""
    caffe_read = npz_layers(g(f'caffe_read_ours_vgg16_thin_{variant}.npz'))
    got = weights.read_weights(g(f'ours_vgg16_thin_{variant}.caffemodel'))
    if variant == 'v1':
        assert got['fc6'][0].shape == (1, 1, 16, 392) and got['fc6'][1].shape == (1, 1, 1, 16)
    if variant == 'double':
        assert got['fc6'][0].dtype == np.float64
    target = {k: [v[i].shape for i in sorted(v)] for k, v in caffe_read.items()}
    matched = weights.match_arrays(target, got, f'ours_vgg16_thin_{variant}.caffemodel')
    assert set(matched) == set(caffe_read)
    for layer, blobs in caffe_read.items():
        for i, want in blobs.items():
            ours = np.asarray(matched[layer][i], dtype=np.float32)
            assert np.array_equal(ours.view(np.uint32), want.view(np.uint32)), (layer, i)
