"""The generators' alternative nets (FCN-4s/2s, decreased subsampling, learned upsampling) against the real Caffe:
Caffe built each one (every computed Crop fits in Caffe's own shape inference) and ran it forward and backward;
the runtime gives the same blobs and gradients (fixtures by tests/golden/make_variants.py; tolerances as
test_runtime_golden)."""

import numpy as np
import pytest

import netspec
from netspec import parse_text
from netspec.models import fcn_vgg16, input_data
from runtime import Net

from conftest import GOLDEN
from golden import make_variants as mv
from test_runtime_golden import DEVICES, FWD, GRAD, check_summary, fill_weights, keys, mk


pytestmark = pytest.mark.oracle


@pytest.fixture(scope='module')
def store():
    return np.load(GOLDEN / 'runtime' / 'variants.npz')


@pytest.mark.parametrize('name', list(mv.VARIANTS))
def test_the_fixture_is_what_the_generator_writes_now(store, name):
    for H, W in mv.SIZES:
        text = eval(mv.variant_text(name, H, W), {'netspec': netspec, 'fcn_vgg16': fcn_vgg16,
                                                  'input_data': input_data})
        assert text == str(store[f'{name}/{H}x{W}/prototxt']), 'stale: rerun tests/golden/make_variants.py'


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('size', mv.SIZES, ids=lambda s: f'{s[0]}x{s[1]}')
@pytest.mark.parametrize('name', list(mv.VARIANTS))
def test_variant_net_matches_caffe_forward_and_backward(store, name, size, device, one_thread):
    key = f'{name}/{size[0]}x{size[1]}'
    net = Net(parse_text(str(store[f'{key}/prototxt'])), phase='train', device=device)
    fill_weights(net, mk.net_weight_array)
    inputs = mk.input_arrays({n: net.blob_shapes[n] for n in net.inputs}, mk.label_classes(net.net_param),
                             mk._seed(key))
    net.forward(**inputs)
    net.backward()
    assert sorted(net.blobs) == keys(store, f'{key}/blob/')
    for blob, value in net.blobs.items():
        check_summary(store, f'{key}/blob/{blob}', value.detach().cpu().numpy(), FWD)
    grads = keys(store, f'{key}/grad/')
    assert grads
    for layer, ps in net.params.items():
        for i, p in enumerate(ps):
            if f'{layer}/{i}' in grads:
                check_summary(store, f'{key}/grad/{layer}/{i}', p.grad.cpu().numpy(), GRAD)
            else:
                assert not p.requires_grad
