"""The runtime against the real Caffe: thin versions of every reference net and one small net per Caffe semantic,
compared with fixtures made by tests/golden/make_runtime.py in the oracle (forward within 1e-5 relative, gradients
within 1e-4 relative, relative to each blob's largest magnitude)."""

import numpy as np
import pytest
import torch

from netspec import parse_text
from runtime import Net

from conftest import GOLDEN
from devices import DEVICES
from golden import make_runtime as mk
from golden_compare import close

FIXTURES = GOLDEN / 'runtime'

FWD, GRAD = 1e-5, 1e-4

pytestmark = pytest.mark.oracle


def check_summary(store, key, arr, rtol):
    arr = np.asarray(arr, dtype=np.float32)
    assert tuple(arr.shape) == tuple(store[f'{key}:shape']), f'{key}: shape {arr.shape} != {store[key + ":shape"]}'
    flat = arr.ravel()
    close(flat[mk.sample_positions(flat.size)], store[f'{key}:values'], rtol, key)
    s, a = store[f'{key}:sums']
    assert abs(flat.sum(dtype=np.float64) - s) <= rtol * max(a, 1e-30), f'{key}: sum {flat.sum()} != {s}'
    assert abs(np.abs(flat).sum(dtype=np.float64) - a) <= rtol * max(a, 1e-30), f'{key}: abs sum differs'


def fill_weights(net, rule=mk.weight_array):
    types = {lp.name: lp.type for lp in net.net_param.layer}
    net.load_arrays({name: [rule(name, types[name], i, p.shape) for i, p in enumerate(ps)]
                     for name, ps in net.params.items()})


def keys(store, prefix):
    return sorted({k[len(prefix):].rsplit(':', 1)[0] for k in store.files if k.startswith(prefix)})


def _net_cases():
    """Every net at both sizes; the default suite runs each net at one size (alternating, so both sizes are
    covered), the rest is marked slow."""
    cases = []
    for k, folder in enumerate(mk.FOLDERS):
        for j, size in enumerate(mk.SIZES):
            marks = () if j == k % len(mk.SIZES) else (pytest.mark.slow,)
            cases.append(pytest.param(folder, size, id=f'{folder}-{size[0]}x{size[1]}', marks=marks))
    return cases


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('folder,size', _net_cases())
def test_thin_reference_net_matches_caffe_forward_and_backward(folder, size, device):
    check_thin_net(folder, size, device)


@pytest.mark.parametrize('folder', ['voc-fcn8s', 'voc-fcn-alexnet'])
def test_thin_net_with_every_convolution_in_channels_last_matches_caffe(folder, monkeypatch):
    """The layout a training net gives large maps (layers.conv.compute_layout), here forced on every convolution."""
    from runtime.layers import conv
    monkeypatch.setattr(conv, 'CHANNELS_LAST_MIN_POSITIONS', 1)
    net = check_thin_net(folder, mk.SIZES[0], 'cpu')
    assert net.layer_dict['conv1_1' if folder != 'voc-fcn-alexnet' else 'conv1'].layout == torch.channels_last


def check_thin_net(folder, size, device, **kwargs):
    store = np.load(FIXTURES / f'nets_{folder}.npz')
    H, W = size
    tag = f'{H}x{W}'
    net = Net(parse_text(str(store[f'{tag}/prototxt'])), phase='train', device=device, **kwargs)
    fill_weights(net, mk.net_weight_array)
    names = net.inputs
    inputs = mk.input_arrays({n: net.blob_shapes[n] for n in names}, mk.label_classes(net.net_param),
                             mk.case_seed(folder, H, W))
    net.forward(**inputs)
    net.backward()
    blobs = net.blobs
    ref_blobs = keys(store, f'{tag}/blob/')
    assert sorted(blobs) == ref_blobs
    for name in ref_blobs:
        check_summary(store, f'{tag}/blob/{name}', blobs[name].detach().cpu().numpy(), FWD)
    grads = set(keys(store, f'{tag}/grad/'))
    for layer, ps in net.params.items():
        for i, p in enumerate(ps):
            key = f'{layer}/{i}'
            if key in grads:
                assert p.grad is not None, f'{key}: Caffe computed a gradient, the runtime did not'
                check_summary(store, f'{tag}/grad/{key}', p.grad.cpu().numpy(), GRAD)
            else:
                assert p.grad is None and not p.requires_grad, f'{key}: lr_mult 0 must mean no gradient'
    return net
