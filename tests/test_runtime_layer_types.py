"""Each layer type beyond FCN's against the real Caffe: small nets from tests/golden/make_layers.py (odd shapes,
non-default fields), run by the oracle from stored weights and inputs: every blob, the parameters after the
forward (BatchNorm's statistics), every parameter diff and the inputs' diffs must agree (forward 1e-5, diffs 1e-4,
relative to the largest magnitude). And a ResNet-style block trains 10 SGD steps as Caffe's solver does."""
import numpy as np
import pytest
import torch

from netspec import parse_text
from runtime import Net
from solvers import get_solver

from conftest import GOLDEN
from devices import DEVICES
from golden_compare import close

STORE = np.load(GOLDEN / 'layers' / 'layers.npz')
CASES = sorted({k.split('/', 1)[0] for k in STORE.files})
FWD, GRAD = 1e-5, 1e-4

pytestmark = pytest.mark.oracle


def _under(prefix):
    return {k[len(prefix):]: STORE[k] for k in STORE.files if k.startswith(prefix)}


def _weights(prefix, store=STORE):
    out = {}
    for k in store.files:
        if k.startswith(prefix):
            layer, i = k[len(prefix):].rsplit('/', 1)
            out.setdefault(layer, {})[int(i)] = store[k]
    return {n: [v[i] for i in sorted(v)] for n, v in out.items()}


def run_case(case, device='cpu'):
    net = Net(parse_text(str(STORE[f'{case}/prototxt'])), phase=str(STORE[f'{case}/phase']).lower(), device=device)
    net.load_arrays(_weights(f'{case}/weight/'))
    net.forward(**_under(f'{case}/input/'))
    return net


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('case', CASES)
def test_layer_type_matches_caffe(case, device):
    net = run_case(case, device)
    blobs = net.blobs
    ref = _under(f'{case}/blob/')
    assert sorted(blobs) == sorted(ref)
    for name, value in ref.items():
        close(blobs[name].detach().cpu().numpy(), value, FWD, f'{case}: blob {name}')
    after = _weights(f'{case}/param/')
    for layer, ps in net.params.items():     # (a blob shared under another shape: seen in the sharer's shape)
        for i, p in enumerate(ps):
            close(net.layer_dict[layer].blob_view(p.detach(), i).cpu().numpy(), after[layer][i], FWD,
                  f'{case}: parameter {layer}/{i} after the forward')
    grads = _weights(f'{case}/grad/')
    diffs = _under(f'{case}/diff/')
    if not grads and not diffs:      # a forward-only case (Threshold: Caffe has no backward)
        return
    net.backward()
    for layer, ps in net.params.items():
        for i, p in enumerate(ps):
            ref_g = grads[layer][i]
            g = np.zeros_like(ref_g) if p.grad is None else net.layer_dict[layer].blob_view(p.grad, i).cpu().numpy()
            close(g, ref_g, GRAD, f'{case}: diff of {layer}/{i}')
    for name, value in diffs.items():
        g = blobs[name].grad
        g = np.zeros_like(value) if g is None else g.cpu().numpy()
        close(g, value, GRAD, f'{case}: input diff of {name}')


def test_threshold_has_no_backward_as_in_caffe():
    text = ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip" inner_product_param { num_output: 3 '
            'weight_filler { type: "gaussian" std: 1 } } }\n'
            'layer { name: "t" type: "Threshold" bottom: "ip" top: "t" }\n'
            'layer { name: "l" type: "EuclideanLoss" bottom: "t" bottom: "x" top: "l" }')
    net = Net(parse_text(text), phase='train')
    net.forward(x=np.ones((2, 3), np.float32))
    with pytest.raises(Exception, match='has no backward in Caffe'):
        net.backward()


def test_batch_norm_refuses_learned_statistics():
    text = ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "bn" type: "BatchNorm" bottom: "x" top: "bn" param { lr_mult: 1 } }')
    with pytest.raises(ValueError, match="'bn'.*lr_mult 1.0: batch normalization statistics"):
        Net(parse_text(text))


def test_batch_norm_statistics_stay_when_a_backward_replays_the_forward():
    text = ('force_backward: true\n'
            'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 4 dim: 3 } } }\n'
            'layer { name: "bn" type: "BatchNorm" bottom: "x" top: "bn" batch_norm_param { use_global_stats: false } }')
    net = Net(parse_text(text), phase='test')
    net.forward(x=np.arange(12, dtype=np.float32).reshape(4, 3))
    before = [p.detach().clone() for p in net.params['bn']]
    net.backward(top_diffs={'bn': np.ones((4, 3), np.float32)})      # a TEST net: the layers run again
    assert all(torch.equal(a, b) for a, b in zip(before, net.params['bn']))
    assert float(net.params['bn'][2]) == 1.0


def test_sigmoid_cross_entropy_normalizations_follow_caffes_loss_layer():
    """Caffe 1.0's ignore_label and normalization (the oracle predates them): the loss over non-ignored targets
    divided by FULL = count, VALID = non-ignored count, BATCH_SIZE = N (the default), NONE = 1."""
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], np.float32)
    t = np.array([[1, 0, 255], [0, 1, 1]], np.float32)
    per = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    valid = t != 255
    total = per[valid].sum()
    for mode, norm in (('FULL', 6), ('VALID', 5), ('BATCH_SIZE', 2), ('NONE', 1)):
        text = ('layer { name: "in" type: "Input" top: "x" top: "t" input_param { shape { dim: 2 dim: 3 } } }\n'
                'layer { name: "l" type: "SigmoidCrossEntropyLoss" bottom: "x" bottom: "t" top: "l" '
                f'loss_param {{ ignore_label: 255 normalization: {mode} }} }}')
        net = Net(parse_text('force_backward: true\n' + text), phase='train')
        out = net.forward(x=x, t=t)
        assert abs(float(out['l']) - total / norm) < 1e-6, mode
        net.backward()
        sig = 1 / (1 + np.exp(-x))
        close(net.blobs['x'].grad.numpy(), np.where(valid, sig - t, 0) / norm, 1e-6, mode)


@pytest.mark.parametrize('name', ['resnet_block', 'siamese', 'permissive'])
def test_net_trains_ten_steps_as_caffe(name, tmp_path):
    """A ResNet-style block (Convolution without bias, BatchNorm, Scale, Eltwise, ReLU), a Siamese pair sharing
    its parameters by ParamSpec.name, and two InnerProducts sharing one weight under two shapes (PERMISSIVE):
    Caffe's SGD solver's losses and final parameters."""
    store = np.load(GOLDEN / 'layers' / f'{name}.npz')
    (tmp_path / 'net.prototxt').write_text(str(store['prototxt']))
    (tmp_path / 'solver.prototxt').write_text('net: "net.prototxt"\n' + str(store['solver']) +
                                              f'snapshot_prefix: "{tmp_path}/snap"\n')
    solver = get_solver(str(tmp_path / 'solver.prototxt'))
    solver.net.load_arrays(_weights('weight/', store))
    solver.feed = {k[len('input/'):]: store[k] for k in store.files if k.startswith('input/')}
    losses = []
    for _ in range(len(store['losses'])):
        solver.step(1)
        losses.append(float(solver.net.blobs['loss']))
    np.testing.assert_allclose(losses, store['losses'], rtol=1e-4)
    final = _weights('param/', store)
    for layer, ps in solver.net.params.items():
        for i, p in enumerate(ps):
            close(solver.net.layer_dict[layer].blob_view(p.detach(), i).numpy(), final[layer][i], 1e-4,
                  f'{layer}/{i} after 10 steps')


SCALE_LAYER = '''
import numpy as np
import runtime as caffe


class LearnedScale(caffe.Layer):
    """top = w * bottom with one learned w (a blob of its own)."""

    def setup(self, bottom, top):
        self.blobs.add_blob(1)
        self.blobs[0].data[0] = 2

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.blobs[0].data[0] * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[0] += (top[0].diff * bottom[0].data).sum()
        if propagate_down[0]:
            bottom[0].diff[...] = self.blobs[0].data[0] * top[0].diff
'''


def test_python_layer_blobs_are_learned_saved_and_restored(tmp_path, monkeypatch):
    (tmp_path / 'learned_scale.py').write_text(SCALE_LAYER)
    monkeypatch.syspath_prepend(str(tmp_path))
    text = ('layer { name: "in" type: "Input" top: "x" top: "y" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "s" type: "Python" bottom: "x" top: "s" param { lr_mult: 2 } '
            'python_param { module: "learned_scale" layer: "LearnedScale" } }\n'
            'layer { name: "l" type: "EuclideanLoss" bottom: "s" bottom: "y" top: "l" }')
    (tmp_path / 'net.prototxt').write_text(text)
    (tmp_path / 'solver.prototxt').write_text('net: "net.prototxt"\nbase_lr: 0.1\nlr_policy: "fixed"\n'
                                              f'snapshot_prefix: "{tmp_path}/snap"\n')
    solver = get_solver(str(tmp_path / 'solver.prototxt'))
    assert solver.net.param_specs['s'] == [(2.0, 1.0)]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    solver.feed = {'x': x, 'y': np.zeros((2, 3), np.float32)}
    solver.step(1)
    # loss = sum((2x)^2) / 2 / N: dL/dw = sum(2x * x) / N = 55; w = 2 - 0.1 * 2 * 55
    w = float(solver.net.params['s'][0][0])
    assert abs(w - (2 - 0.2 * 55)) < 1e-4
    for name in ('w.caffemodel', 'w.caffemodel.h5'):
        solver.net.save(str(tmp_path / name))
        again = Net(parse_text(text), weights=str(tmp_path / name))
        assert float(again.params['s'][0][0]) == w, name
        assert again.layers[1].impl.blobs[0].data[0] == np.float32(w), name    # the layer's own view of its blob


def _one_layer(body, shape=(2, 5)):
    dims = ' '.join(f'dim: {d}' for d in shape)
    return Net(parse_text('force_backward: true\n'
                          f'layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ {dims} }} }} }}\n'
                          f'layer {{ name: "y" bottom: "x" top: "y" {body} }}'), phase='train')


def test_clip_follows_caffes_code_bounds_included_in_the_gradient():
    """Clip came after Caffe 1.0 (no oracle): clip_layer.cpp's forward and its backward mask min <= x <= max."""
    net = _one_layer('type: "Clip" clip_param { min: -0.5 max: 1 }')
    x = np.array([[-2, -0.5, 0, 1, 3], [0.25, -0.75, 1, 0.5, -0.5]], np.float32)
    out = net.forward(x=x)['y'].detach().numpy()
    assert out.tolist() == np.clip(x, -0.5, 1).tolist()
    g = np.arange(10, dtype=np.float32).reshape(2, 5)
    net.backward(top_diffs={'y': g})
    assert net.blobs['x'].grad.numpy().tolist() == np.where((x >= -0.5) & (x <= 1), g, 0).tolist()


def test_swish_follows_caffes_code():
    """Swish came after Caffe 1.0 (no oracle): swish_layer.cpp, x sigmoid(beta x), gradient beta y + s (1 - beta y)."""
    net = _one_layer('type: "Swish" swish_param { beta: 1.5 }')
    x = np.linspace(-4, 4, 10, dtype=np.float32).reshape(2, 5)
    s = 1 / (1 + np.exp(-1.5 * x.astype(np.float64)))
    out = net.forward(x=x)['y'].detach().numpy()
    close(out, x * s, 1e-6, 'swish')
    net.backward(top_diffs={'y': np.ones((2, 5), np.float32)})
    close(net.blobs['x'].grad.numpy(), 1.5 * x * s + s * (1 - 1.5 * x * s), 1e-6, 'swish diff')


def _stochastic_test_reference(x, k, s, out):
    """Caffe's StoPoolForwardTest, element by element."""
    n, c, h, w = x.shape
    y = np.zeros((n, c) + out, np.float64)
    for i in range(out[0]):
        for j in range(out[1]):
            win = x[:, :, i * s:min(i * s + k, h), j * s:min(j * s + k, w)].astype(np.float64)
            y[:, :, i, j] = (win ** 2).sum(axis=(2, 3)) / (np.float32(1.1754943508222875e-38) + win.sum(axis=(2, 3)))
    return y


def test_stochastic_pooling_test_phase_weights_by_probability_as_caffes_kernel():
    """STOCHASTIC pooling exists only in Caffe's CUDA code (no oracle): its TEST kernel, padding ignored."""
    net = Net(_one_layer('type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 3 stride: 2 }',
                         (2, 3, 7, 6)).net_param, phase='test')
    x = np.random.RandomState(0).uniform(0, 2, (2, 3, 7, 6)).astype(np.float32)
    y = net.forward(x=x)['y'].detach().numpy()
    assert y.shape == (2, 3, 3, 3)
    close(y, _stochastic_test_reference(x, 3, 2, (3, 3)), 1e-6, 'stochastic TEST')


def test_stochastic_pooling_train_phase_draws_by_value_and_sends_the_diff_to_the_draw():
    torch.manual_seed(0)
    net = _one_layer('type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 2 stride: 2 }', (1, 4000, 2, 2))
    x = np.tile(np.array([[1, 2], [3, 4]], np.float32), (1, 4000, 1, 1))
    y = net.forward(x=x)['y'].detach().numpy().ravel()
    freq = [(y == v).mean() for v in (1, 2, 3, 4)]
    assert np.allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.03), freq
    net.backward(top_diffs={'y': np.ones((1, 4000, 1, 1), np.float32)})
    g = net.blobs['x'].grad.numpy()
    assert g.sum() == 4000 and np.array_equal(g.reshape(4000, 4).argmax(1), (y - 1).astype(int))
