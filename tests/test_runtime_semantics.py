"""Each Caffe semantic against the real Caffe: small nets from tests/golden/make_runtime.py (semantics_cases), run
by the oracle with seeded weights and inputs; every blob, every parameter gradient and the inputs' gradients
(force_backward) must agree (forward 1e-5, gradients 1e-4, relative to the largest magnitude)."""

import numpy as np
import pytest

from netspec import parse_text
from runtime import Net

from conftest import GOLDEN
from devices import DEVICES
from golden import make_runtime as mk
from golden_compare import close


STORE = np.load(GOLDEN / 'runtime' / 'semantics.npz')
CASES = sorted({k.split('/', 1)[0] for k in STORE.files})
FWD, GRAD = 1e-5, 1e-4

pytestmark = pytest.mark.oracle


def run_case(case, device, monkeypatch):
    monkeypatch.syspath_prepend(str(GOLDEN / 'runtime'))
    text = str(STORE[f'{case}/prototxt'])
    net = Net(parse_text(text), phase=str(STORE[f'{case}/phase']).lower(), device=device)
    types = {lp.name: lp.type for lp in net.net_param.layer}
    net.load_arrays({n: [mk.weight_array(n, types[n], i, p.shape) for i, p in enumerate(ps)]
                     for n, ps in net.params.items()})
    prefix = f'{case}/input/'
    inputs = {k[len(prefix):]: STORE[k] for k in STORE.files if k.startswith(prefix)}
    net.forward(**inputs)
    return net


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('case', CASES)
def test_semantic_matches_caffe(case, device, monkeypatch):
    net = run_case(case, device, monkeypatch)
    blobs = net.blobs
    prefix = f'{case}/blob/'
    ref = {k[len(prefix):]: STORE[k] for k in STORE.files if k.startswith(prefix)}
    assert sorted(blobs) == sorted(ref)
    for name, value in ref.items():
        close(blobs[name].detach().cpu().numpy(), value, FWD, f'{case}: blob {name}')
    grads = {k.split('/', 2)[2]: STORE[k] for k in STORE.files if k.startswith(f'{case}/grad/')}
    diffs = {k.split('/', 2)[2]: STORE[k] for k in STORE.files if k.startswith(f'{case}/diff/')}
    if not grads and not diffs:
        return
    net.backward()
    for layer, ps in net.params.items():
        for i, p in enumerate(ps):
            key = f'{layer}/{i}'
            if key in grads:
                assert p.grad is not None, f'{case}: {key} has no gradient'
                close(p.grad.cpu().numpy(), grads[key], GRAD, f'{case}: gradient of {key}')
            else:
                assert p.grad is None, f'{case}: {key} has lr_mult 0 and must get no gradient'
    for name, value in diffs.items():
        g = blobs[name].grad
        g = np.zeros_like(value) if g is None else g.cpu().numpy()
        close(g, value, GRAD, f'{case}: input diff of {name}')
