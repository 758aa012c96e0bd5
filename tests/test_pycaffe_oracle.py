"""pycaffe against the real pycaffe: each case of tests/golden/make_pycaffe.py runs here with `pycaffe` as `caffe`,
the very function the oracle ran; everything it returns must agree (names exactly; diffs, parameters after solver
steps within 1e-4 and forward values within 1e-5 of each array's largest magnitude)."""

import numpy as np
import pytest
import torch

import pycaffe
from conftest import GOLDEN
from golden import make_pycaffe as mp
from golden_compare import close


STORE = np.load(GOLDEN / 'pycaffe' / 'api.npz')
FWD, GRAD = 1e-5, 1e-4

pytestmark = pytest.mark.oracle


@pytest.fixture(scope='module')
def proto_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('pycaffe_nets')
    prefix = 'proto/'
    mp.write_texts(str(d), {k[len(prefix):]: str(STORE[k]) for k in STORE.files if k.startswith(prefix)})
    return str(d)


def reference(case):
    prefix = f'{case}/'
    return {k[len(prefix):]: STORE[k] for k in STORE.files if k.startswith(prefix)}


def check(case, ours, ref):
    """Every array the oracle stored against what the same case returned here (a large array is stored as
    `key:values` (samples), `key:shape` and `key:sums` (sum, sum of absolute values))."""
    assert sorted(ours) == sorted(ref), f'{case}: returned keys differ: only ours ' \
        f'{sorted(set(ours) - set(ref))[:8]}, only Caffe {sorted(set(ref) - set(ours))[:8]}'
    for key in sorted(ref):
        value, expected = ours[key], ref[key]
        rtol = GRAD if ('diff' in key or case == 'solver') else FWD
        if key == 'second_backward':       # the relative deviation from twice the first diffs: Caffe's is rounding
            assert float(value) <= 1e-5 and float(expected) <= 1e-5, f'{case}: a second backward must add the ' \
                f'same diffs again (deviation from twice the first: ours {float(value):.3g}, Caffe {float(expected):.3g})'
        elif expected.dtype.kind in 'UO' or key.endswith(':shape'):
            assert list(np.ravel(value)) == list(np.ravel(expected)), f'{case}: {key} differs'
        elif key.endswith(':sums'):
            (s, a), (s0, a0) = value, expected
            assert abs(s - s0) <= rtol * max(a0, 1e-30) and abs(a - a0) <= rtol * max(a0, 1e-30), \
                f'{case}: {key}: sum {s}, abs sum {a}; Caffe {s0}, {a0}'
        else:
            close(value, expected, rtol, f'{case}: {key}')


MEMORY = ['cpu', 'host-copies'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.fixture(params=MEMORY)
def memory(request):
    """Where blob arrays live: numpy views of CPU tensors; host copies kept in step with the tensors as on CUDA
    (simulated on the CPU, so the copies' logic is checked on any machine); CUDA itself where there is one."""
    mode = request.param
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    if mode == 'host-copies':
        pycaffe._sync.simulate_device(True)
    elif mode == 'cuda':               # float32 arithmetic, as Caffe's (TF32 would round to 10-bit mantissas)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        pycaffe.set_mode_gpu()
    yield mode
    pycaffe._sync.simulate_device(False)
    pycaffe.set_mode_cpu()
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32


@pytest.mark.parametrize('case', sorted(mp.api_cases()))
def test_pycaffe_matches_caffe(case, proto_dir, memory, one_thread):
    fn = mp.api_cases()[case]
    ours = {k: np.asarray(v) for k, v in fn(pycaffe, proto_dir).items()}
    check(case, ours, reference(case))
