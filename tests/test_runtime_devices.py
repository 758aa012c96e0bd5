"""Where a net computes and in what arithmetic: devices (CUDA cases run where torch sees a GPU; 'meta' builds and runs
shapes only), the precision option (exact float32 by default, TF32 off; opt-in fast modes), and the memory a training
iteration keeps for backward (nothing that backward does not need)."""
import numpy as np
import pytest
import torch

from fcnapps.bench import saved_bytes
from runtime import Net, precision

from devices import DEVICES

THIN = '''
layer { name: "input" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } shape { dim: 1 dim: 1 dim: 16 dim: 16 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" %(conv1_params)s
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "Convolution" bottom: "pool1" top: "fc"
  convolution_param { num_output: 6 kernel_size: 5 pad: 2 weight_filler { type: "gaussian" std: 0.2 } } }
layer { name: "score" type: "Convolution" bottom: "fc" top: "score"
  convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.2 } } }
layer { name: "upscore" type: "Deconvolution" bottom: "score" top: "upscore" param { lr_mult: 0 }
  convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }
layer { name: "crop" type: "Crop" bottom: "upscore" bottom: "data" top: "crop" crop_param { axis: 2 offset: 1 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "crop" bottom: "label" top: "loss"
  loss_param { ignore_label: 255 normalize: false } }
'''


def thin_net(conv1_params='', **kw):
    from weights.surgery import interp
    torch.manual_seed(0)
    net = Net(THIN % dict(conv1_params=conv1_params), phase='train', **kw)
    if net.device.type != 'meta':
        interp(net)                 # FCN's frozen bilinear upsampling: a kernel on the weight's diagonal
    return net


def feed(seed=0):
    rng = np.random.RandomState(seed)
    return dict(data=(rng.randn(1, 3, 16, 16) * 20).astype(np.float32),
                label=rng.randint(0, 3, (1, 1, 16, 16)).astype(np.float32))


# ------------------------------------------------------------------------------------------------------- devices

@pytest.mark.parametrize('device', DEVICES + ['meta'])
def test_parameters_inputs_blobs_and_gradients_live_on_the_nets_device(device):
    net = thin_net(device=device)
    net.forward(**({} if device == 'meta' else feed()))
    net.backward()
    assert net.device.type == device
    assert all(p.device.type == device for p in net.parameters())
    assert all(v.device.type == device for v in net.blobs.values())
    assert net.params['conv1'][0].grad.device.type == device
    assert net.params['upscore'][0].grad is None
    assert tuple(net.params['fc'][0].grad.shape) == (6, 4, 5, 5)


@pytest.mark.parametrize('device', DEVICES + ['meta'])
def test_moving_a_net_moves_parameters_input_blobs_and_the_blobs_that_follow(device):
    net = thin_net()
    net.forward(**feed())
    net.to(device)
    assert net.device.type == device
    assert all(p.device.type == device for p in net.parameters())
    out = net.forward()       # the Input blobs kept their values and moved with the net
    assert out['loss'].device.type == device and net.blobs['data'].device.type == device


@pytest.mark.parametrize('device', DEVICES)
def test_weights_saved_from_a_device_load_into_a_cpu_net(device, tmp_path):
    net = thin_net(device=device)
    path = tmp_path / 'w.caffemodel'
    net.save(str(path))
    back = Net(THIN % dict(conv1_params=''), phase='train', weights=str(path))
    for name, ps in net.params.items():
        for p, q in zip(ps, back.params[name]):
            assert torch.equal(p.detach().cpu(), q.detach())
    again = thin_net(device=device)
    again.copy_from(str(path))
    assert again.params['fc'][0].device.type == device
    assert torch.equal(again.params['fc'][0].cpu(), back.params['fc'][0].detach())


@pytest.mark.parametrize('device', DEVICES + ['meta'])
def test_solver_history_lives_on_the_nets_device(device, tmp_path):
    from solvers import get_solver
    (tmp_path / 'net.prototxt').write_text(THIN % dict(conv1_params=''))
    (tmp_path / 'solver.prototxt').write_text('net: "net.prototxt"\nbase_lr: 0.01\nmomentum: 0.9\nlr_policy: "fixed"\n'
                                              'type: "Adam"\ndisplay: 0\nsnapshot_prefix: "snap"\n')
    s = get_solver(str(tmp_path / 'solver.prototxt'), device=device)
    assert len(s.history) == 2 * len(list(s.net.parameters()))
    assert all(h.device.type == device for h in s.history)


# ----------------------------------------------------------------------------------------------------- precision

def test_exact_mode_turns_tf32_off_for_cuda_while_the_net_runs_and_restores_it():
    conv = getattr(getattr(torch.backends.cudnn, 'conv', None), 'fp32_precision', None)
    if conv is None:
        pytest.skip('this torch has no fp32_precision settings')
    before = (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision)
    torch.backends.cudnn.conv.fp32_precision = 'tf32'
    try:
        with precision.context('fp32', 'cuda'):
            assert torch.backends.cudnn.conv.fp32_precision == 'ieee'
            assert torch.backends.cuda.matmul.fp32_precision == 'ieee'
        assert torch.backends.cudnn.conv.fp32_precision == 'tf32'
        with precision.context('tf32', 'cuda'):
            assert torch.backends.cudnn.conv.fp32_precision == 'tf32'
    finally:
        torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision = before


def _record_during(net, layer, read):
    """Replace `layer`'s step in the net's plan by one that records read() while it runs."""
    seen = []
    for k, (fn, bs, ts, name, typ) in enumerate(net._plan):
        if name == layer:
            def run(*bottoms, fn=fn):
                seen.append(read())
                return fn(*bottoms)
            net._plan[k] = (run, bs, ts, name, typ)
    return seen


def test_exact_mode_computes_cpu_matrix_products_at_highest_precision_whatever_the_process_setting():
    net = thin_net()
    seen = _record_during(net, 'score', torch.get_float32_matmul_precision)
    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision('medium')
    try:
        net.forward(**feed())
        assert seen == ['highest'] and torch.get_float32_matmul_precision() == 'medium'
    finally:
        torch.set_float32_matmul_precision(old)


def test_bf16_mode_autocasts_the_forward_and_keeps_outputs_loss_and_gradients_float32():
    grads = {}
    for mode in ('fp32', 'bf16'):
        net = thin_net(precision=mode)
        seen = _record_during(net, 'fc', precision.autocast_on_cpu)
        out = net.forward(**feed())
        net.backward()
        assert seen == [mode == 'bf16']
        assert out['loss'].dtype == torch.float32 and net.blobs['loss'].dtype == torch.float32
        assert net.blobs['fc'].dtype == (torch.bfloat16 if mode == 'bf16' else torch.float32)
        grads[mode] = {n: ps[0].grad for n, ps in net.params.items() if ps[0].grad is not None}
    for name, g in grads['fp32'].items():
        fast = grads['bf16'][name]
        assert fast.dtype == torch.float32
        assert float((fast - g).norm() / g.norm()) < 0.1, name     # bfloat16 keeps ~3 significant digits


def test_default_precision_is_exact_float32_and_unknown_ones_are_refused():
    assert thin_net().precision == 'fp32'
    with pytest.raises(ValueError, match="precision must be one of fp32, tf32, bf16, not 'fp16'"):
        thin_net(precision='fp16')
    net = thin_net()
    net.precision = 'bf16'
    assert net.precision == 'bf16'
    with pytest.raises(ValueError, match='precision must be one of'):
        net.precision = 'half'


# -------------------------------------------------------------------------------------------------------- memory

def test_training_keeps_no_activation_that_backward_does_not_need():
    net = thin_net()
    by_layer, total = saved_bytes(net, feed())
    # the frozen bilinear upscore needs no bottom (its weight learns nothing), the crop only shapes
    assert 'upscore' not in by_layer and 'crop' not in by_layer
    # conv1 keeps the data (its weight's diff needs it); the ReLU its output; pooling its argmax indices (int64);
    # the 5x5 fc its bottom (its columns are recomputed in backward, not kept); score its bottom; the loss its
    # probabilities and labels
    data, conv1, pool1, fc = (net.blobs[n] for n in ('data', 'conv1', 'pool1', 'fc'))
    assert by_layer['conv1'] == data.numel() * 4
    assert by_layer['relu1'] == conv1.numel() * 4
    assert by_layer['pool1'] == pool1.numel() * 8
    assert by_layer['fc'] == pool1.numel() * 4
    assert by_layer['score'] == fc.numel() * 4
    assert by_layer['loss'] == 3 * 16 * 16 * 4 + 16 * 16 * 8 + 16 * 16   # probabilities, labels, ignore mask
    assert total == sum(by_layer.values())


def test_a_frozen_first_layer_keeps_not_even_the_data():
    net = thin_net(conv1_params='param { lr_mult: 0 } param { lr_mult: 0 }')
    by_layer, _ = saved_bytes(net, feed())
    assert 'conv1' not in by_layer and net.params['conv1'][0].grad is None
