"""runtime.Net.backward in any phase, against the real Caffe: thin TEST-phase reference nets (the test_backward_*
cases of tests/golden/make_pycaffe.py, run by the oracle's pycaffe) give Caffe's parameter diffs and blob diffs
within 1e-4; a second backward adds them again; forward-only runs record no graph."""
import importlib.util

import numpy as np
import pytest
import torch

from netspec import parse_text
from runtime import Net

from conftest import GOLDEN
from golden_compare import close

_spec = importlib.util.spec_from_file_location('make_pycaffe', GOLDEN / 'make_pycaffe.py')
mp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mp)
mk = mp.mk

STORE = np.load(GOLDEN / 'pycaffe' / 'api.npz')
GRAD = 1e-4

pytestmark = pytest.mark.oracle


def thin_test_net(folder, device='cpu'):
    net = Net(parse_text(str(STORE[f'proto/test_{folder}.prototxt'])), phase='test', device=device)
    types = {lp.name: lp.type for lp in net.net_param.layer}
    net.load_arrays({n: [mk.net_weight_array(n, types[n], i, p.shape) for i, p in enumerate(ps)]
                     for n, ps in net.params.items()})
    inputs = mk.input_arrays({n: net.blob_shapes[n] for n in net.inputs}, mk.label_classes(net.net_param),
                             mk.case_seed(folder, *mp.SIZE))
    return net, inputs


def check_stored(key, arr, rtol=GRAD):
    """`arr` against what make_pycaffe stored under `key` (whole, or samples + shape + sums)."""
    arr = np.asarray(arr, dtype=np.float32)
    if key in STORE.files:
        close(arr, STORE[key], rtol, key)
        return
    assert tuple(arr.shape) == tuple(STORE[f'{key}:shape']), key
    flat = arr.ravel()
    close(flat[mp.sample_positions(flat.size)], STORE[f'{key}:values'], rtol, key)
    s, a = STORE[f'{key}:sums']
    assert abs(flat.sum(dtype=np.float64) - s) <= rtol * max(a, 1e-30), f'{key}: sum {flat.sum()} != {s}'


@pytest.mark.parametrize('folder', mp.BACKWARD_FOLDERS)
def test_test_phase_backward_gives_caffes_diffs(folder, one_thread):
    net, inputs = thin_test_net(folder)
    net.keep_blob_diffs = True
    net.forward(**inputs)
    net.backward()
    case = f'test_backward_{folder}'
    for layer, ps in net.params.items():
        for i, p in enumerate(ps):
            grad = p.grad if p.grad is not None else torch.zeros_like(p)    # Caffe: lr_mult 0 leaves the diff 0
            check_stored(f'{case}/param_diff/{layer}/{i}', grad.cpu().numpy())
    diffs = net.blob_diffs
    stored = {k[len(f'{case}/diff/'):].split(':')[0] for k in STORE.files if k.startswith(f'{case}/diff/')}
    assert set(diffs) <= stored and any(n.startswith('pool1') for n in diffs), sorted(diffs)
    for name in stored:
        if name in diffs:
            check_stored(f'{case}/diff/{name}', diffs[name].cpu().numpy())
        else:   # a diff Caffe's backward does not write: a loss top's loss weight, or the zeros it started with
            ref = STORE[f'{case}/diff/{name}'] if f'{case}/diff/{name}' in STORE.files else \
                STORE[f'{case}/diff/{name}:sums']
            assert np.all(ref == 0) or (name.startswith('loss') and float(ref) == 1.0), f'{name}: Caffe wrote it'


def test_second_backward_adds_the_same_diffs_again(one_thread):
    net, inputs = thin_test_net('voc-fcn8s')
    net.forward(**inputs)
    net.backward()
    first = {(k, i): p.grad.clone() for k, ps in net.params.items() for i, p in enumerate(ps) if p.grad is not None}
    assert first, 'the TEST net must get parameter diffs'
    net.backward()
    for (k, i), g in first.items():
        close(net.params[k][i].grad, 2 * g, 1e-6, f'{k}/{i} after two backwards')


def test_forward_only_records_no_graph(one_thread):
    net, inputs = thin_test_net('voc-fcn8s')
    out = net.forward(**inputs)
    assert all(not v.requires_grad for v in out.values())
    assert all(v is None or v.grad_fn is None for v in net.blobs.values())


def test_backward_before_forward_runs_on_the_blobs_as_caffe_allocates_them():
    """Caffe's blobs hold zeros (the Input blobs their values) until a forward; a backward runs on them."""
    net = Net(parse_text('force_backward: true\n'
                         'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 } } }\n'
                         'layer { name: "p" type: "Power" bottom: "x" top: "p" power_param { power: 2 scale: 3 } }'))
    net.set_input('x', np.array([[1.0, -2.0]], np.float32))
    net.backward(top_diffs={'p': np.ones((1, 2), np.float32)})
    assert net.blobs['x'].grad.tolist() == [[18.0, -36.0]]      # d(3x)^2/dx = 18 x


def test_test_phase_backward_does_not_advance_data_layers(tmp_path, monkeypatch, one_thread):
    """The graph is recorded by running the layers again; a data layer gives its last outputs, not new ones."""
    (tmp_path / 'count_layer.py').write_text(
        'import numpy as np\nimport runtime as caffe\n'
        'class Count(caffe.Layer):\n'
        '    n = 0\n'
        '    def reshape(self, bottom, top):\n        top[0].reshape(1, 1, 4, 4)\n'
        '    def forward(self, bottom, top):\n'
        '        Count.n += 1\n        top[0].data[...] = Count.n\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    net = Net(parse_text('layer { name: "d" type: "Python" top: "d" python_param { module: "count_layer" '
                         'layer: "Count" } }\n'
                         'layer { name: "c" type: "Convolution" bottom: "d" top: "c" '
                         'convolution_param { num_output: 1 kernel_size: 1 } }\n'
                         'layer { name: "p" type: "Power" bottom: "c" top: "p" loss_weight: 1 }'), phase='test')
    with torch.no_grad():
        net.params['c'][0].fill_(1.0)
    net.forward()
    net.backward()
    import count_layer
    assert count_layer.Count.n == 1
    assert float(net.params['c'][0].grad.sum()) == 16.0       # d(sum(w * d))/dw with d = 1 everywhere
