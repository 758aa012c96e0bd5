"""Caffe's data layers against the real Caffe (tests/golden/make_datalayers.py): the same batches, bit for bit, over
several iterations in TRAIN and TEST, for an LMDB of raw, PNG-encoded and float Datums, an image list (with
shuffle, rand_skip and resizing), HDF5 files (in order and shuffled), MemoryData through set_input_arrays; the
statistics of every DummyData filler; a LeNet-style train_val with a Data layer trained 10 steps."""
import os
import sys

import numpy as np
import pytest

from conftest import GOLDEN

sys.path.insert(0, str(GOLDEN))
import make_datalayers as M  # noqa: E402

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
    from datalayers.native import rng
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
             'image_test_resize', 'image_resize_color', 'hdf5', 'hdf5_shuffle', 'memory')


@pytest.mark.parametrize('case', BIT_EXACT)
def test_batches_are_caffes_bit_for_bit(case, tmp_path):
    want = fixture(case)
    got = run_ours(case, tmp_path)
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key].shape == want[key].shape, key
        assert got[key].dtype == np.float32
        np.testing.assert_array_equal(got[key], want[key], err_msg=f'{case} {key}')
