"""Caffe's data layers against the real Caffe (tests/golden/make_datalayers.py): the same batches, bit for bit, over
several iterations in TRAIN and TEST, for an LMDB of raw, PNG-encoded and float Datums, an image list (with
shuffle, rand_skip and resizing), HDF5 files (in order and shuffled), MemoryData through set_input_arrays; the
statistics of every DummyData filler; a LeNet-style train_val with a Data layer trained 10 steps."""
import os

import numpy as np
import pytest

from conftest import GOLDEN

from golden import make_datalayers as M

pytestmark = pytest.mark.oracle
FIXTURES = GOLDEN / 'datalayers'


def fixture(case):
    path = FIXTURES / f'{case}.npz'
    assert path.exists(), f'{path} is missing: run tests/golden/make_datalayers.py'
    return dict(np.load(path))


def run_ours(case, tmp_path):
    """Our net for a case, built as the fixture script builds Caffe's (seeded stream, fresh rand()), and its tops
    after each forward."""
    from runtime import Net
    from runtime.caffe_data import rng
    text, phase, iters = M.case_net(case, M.INPUTS, str(tmp_path))
    rng.set_random_seed(M.SEED)
    rng.reset_glibc_rand()
    if case == 'memory':       # through pycaffe, as the fixture script does
        import pycaffe
        path = tmp_path / 'net.prototxt'
        path.write_text(f'name: "{case}"\n' + text)
        pnet = pycaffe.Net(str(path), pycaffe.TEST)
        pnet.set_input_arrays(*M.memory_arrays())
        net = pnet._rt
    else:
        net = Net(f'name: "{case}"\n' + text, phase=phase.lower())
    tops = {}
    for it in range(iters):
        net.forward()
        for name in net.layers[0].lp.top:
            tops[f'top:{name}:{it}'] = net.blobs[name].detach().cpu().numpy().copy()
    net.layers[0].close()
    return tops


BIT_EXACT = ('raw_train', 'raw_test', 'png_train', 'png_mean_mirror', 'png_gray_test', 'float_train', 'image_train',
             'image_test_resize', 'image_resize_color', 'window_warp', 'window_square', 'hdf5', 'hdf5_shuffle', 'memory')


@pytest.mark.parametrize('case', BIT_EXACT)
def test_batches_are_caffes_bit_for_bit(case, tmp_path):
    want = fixture(case)
    got = run_ours(case, tmp_path)
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key].shape == want[key].shape, key
        assert got[key].dtype == np.float32
        np.testing.assert_array_equal(got[key], want[key], err_msg=f'{case} {key}')


def test_dummy_data_fillers_have_caffes_statistics():
    """Caffe's fillers draw from its mt19937, the runtime's from torch: the same distributions, other samples. The
    mean, standard deviation, range and share of zeros of each filler's top (tens of thousands of values) agree with
    Caffe's within sampling error; the constant and bilinear tops are equal."""
    from runtime import Net
    import torch
    want = fixture('dummy')
    text, phase, iters = M.case_net('dummy', M.INPUTS, '.')
    torch.manual_seed(0)
    net = Net('name: "dummy"\n' + text, phase=phase.lower())
    for it in range(iters):
        net.forward()
        for i in range(len(M.DUMMY_FILLERS)):
            a = net.blobs[f't{i}'].numpy().astype(np.float64)
            got = np.array([a.mean(), a.std(), a.min(), a.max(), (a == 0).mean()])
            ref = want[f'stats:t{i}:{it}']
            se = max(ref[1], 1e-12) / np.sqrt(a.size)     # standard error of the mean
            assert abs(got[0] - ref[0]) < 6 * se + 1e-7, (M.DUMMY_FILLERS[i], got, ref)
            np.testing.assert_allclose(got[1], ref[1], rtol=0.03, atol=1e-7, err_msg=M.DUMMY_FILLERS[i])
            span = ref[3] - ref[2]
            assert abs(got[2] - ref[2]) <= 0.2 * span + 1e-7 and abs(got[3] - ref[3]) <= 0.2 * span + 1e-7
            assert abs(got[4] - ref[4]) < 0.02, (M.DUMMY_FILLERS[i], got, ref)
        for t in ('t0', 't9'):
            np.testing.assert_array_equal(net.blobs[t].numpy(), want[f'top:{t}:{it}'])


def test_lenet_with_a_data_layer_trains_as_caffe(tmp_path):
    """A LeNet-style train_val whose TRAIN Data layer crops and mirrors (seeded by the solver's random_seed): from
    Caffe's initial weights, 10 SGD steps give Caffe's batches, losses and final weights."""
    from solvers import SGDSolver
    want = fixture('lenet')
    net_path = tmp_path / 'net.prototxt'
    net_path.write_text('name: "lenet"\n' + M.lenet_net(M.INPUTS))
    solver_path = tmp_path / 'solver.prototxt'
    solver_path.write_text(M.LENET_SOLVER.format(net=net_path, prefix=tmp_path / 'snap', seed=M.SEED))
    solver = SGDSolver(str(solver_path))
    init = {}
    for key, a in want.items():
        if key.startswith('init:'):
            _, layer, i = key.split(':')
            init.setdefault(layer, []).append(a)
    solver.net.load_arrays(init)
    losses = []
    for it in range(10):
        solver.step(1)
        losses.append(float(solver.net.blobs['loss'].detach()))
        for top in ('data', 'label'):
            np.testing.assert_array_equal(solver.net.blobs[top].detach().numpy(), want[f'top:{top}:{it}'])
    np.testing.assert_allclose(losses, want['losses'], rtol=1e-5, atol=1e-6)
    for layer, blobs in solver.net.params.items():
        for i, p in enumerate(blobs):
            np.testing.assert_allclose(p.detach().numpy(), want[f'final:{layer}:{i}'], rtol=1e-4, atol=1e-6,
                                       err_msg=f'{layer} {i}')
    for layer in solver.net.layers[:1] + solver.test_nets[0].layers[:1]:
        layer.close()


def test_jpeg_images_decode_within_a_documented_tolerance(tmp_path):
    """JPEG pixels depend on the decoder OpenCV was built with; opencv-python-headless's libjpeg-turbo and the
    oracle's system libjpeg-turbo agree exactly on these images; another Caffe build's decoder may differ by a few
    levels, which is the tolerance allowed here."""
    want = fixture('jpeg_test')
    got = run_ours('jpeg_test', tmp_path)
    np.testing.assert_array_equal(got['top:label:0'], want['top:label:0'])
    np.testing.assert_allclose(got['top:data:0'], want['top:data:0'], rtol=0, atol=2)
