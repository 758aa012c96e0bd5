"""The Net's contract: building, phases and rules, inputs, losses and backward, parameters and weights, errors."""
import sys
import types

import numpy as np
import pytest
import torch

import runtime
from netspec import caffe_pb2
from runtime import Net, TRAIN, TEST
from runtime.layers import UnsupportedLayerError
from runtime.layers.base import LayerError
from runtime.layers.python import Blob

from devices import DEVICES


def inp(name, *shape):
    dims = ' '.join(f'dim: {d}' for d in shape)
    return f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {dims} }} }} }}\n'


CONV_NET = inp('data', 1, 3, 8, 8) + inp('label', 1, 1, 8, 8) + '''
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "score" type: "Convolution" bottom: "conv" top: "score" convolution_param { num_output: 3 kernel_size: 1 } }
layer { name: "up" type: "Deconvolution" bottom: "score" top: "up" param { lr_mult: 0 }
  convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }
layer { name: "crop" type: "Crop" bottom: "up" bottom: "data" top: "crop" crop_param { axis: 2 offset: 1 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "crop" bottom: "label" top: "loss"
  loss_param { ignore_label: 255 normalize: false } }
'''


def conv_net(**kw):
    torch.manual_seed(0)
    return Net(CONV_NET, phase='train', **kw)


def random_inputs(seed=0):
    rng = np.random.RandomState(seed)
    return dict(data=rng.randn(1, 3, 8, 8).astype(np.float32), label=rng.randint(0, 3, (1, 1, 8, 8)))


def test_import_runtime_as_caffe_gives_pycaffe_names():
    assert runtime.TRAIN == caffe_pb2.TRAIN == 0 and runtime.TEST == caffe_pb2.TEST == 1
    assert issubclass(runtime.Layer, object) and callable(runtime.Layer.setup)


@pytest.mark.parametrize('device', DEVICES)
def test_blobs_params_and_shapes_follow_caffe_order(device):
    net = conv_net(device=device)
    assert list(net.params) == ['conv', 'score', 'up']
    assert [tuple(p.shape) for p in net.params['conv']] == [(4, 3, 3, 3), (4,)]
    assert [tuple(p.shape) for p in net.params['up']] == [(3, 3, 4, 4)]
    assert net.param_specs['conv'] == [(1.0, 1.0), (2.0, 0.0)]
    assert net.param_specs['score'] == [(1.0, 1.0), (1.0, 1.0)]
    assert net.inputs == ['data', 'label'] and net.outputs == ['loss']
    out = net.forward(**random_inputs())
    assert list(out) == ['loss'] and out['loss'].shape == ()
    assert list(net.blobs) == ['data', 'label', 'conv', 'score', 'up', 'crop', 'loss']
    assert tuple(net.blobs['up'].shape) == (1, 3, 18, 18) and tuple(net.blobs['crop'].shape) == (1, 3, 8, 8)
    assert net.blobs['conv'].device.type == device


def test_in_place_blob_shows_the_last_value():
    net = conv_net()
    net.forward(**random_inputs())
    assert float(net.blobs['conv'].detach().min()) >= 0   # after the in-place ReLU


def test_default_fillers_are_caffes():
    net = conv_net()
    assert float(net.params['score'][0].detach().abs().sum()) == 0 and float(net.params['score'][1].detach().abs().sum()) == 0
    assert float(net.params['up'][0].detach().abs().sum()) == 0
    assert 0.05 < float(net.params['conv'][0].detach().std()) < 0.2


def test_input_blobs_keep_their_last_value():
    net = conv_net()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.3)
    first = float(net.forward(**random_inputs(1))['loss'].detach())
    again = float(net.forward()['loss'].detach())
    assert first == again
    assert float(net.forward(**random_inputs(2))['loss'].detach()) != first


def test_backward_accumulates_like_caffe_diffs_and_skips_lr_mult_zero():
    net = conv_net()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.3)
    net.forward(**random_inputs())
    net.backward()
    g1 = net.params['conv'][0].grad.clone()
    assert float(g1.abs().sum()) > 0
    net.forward()
    net.backward()
    torch.testing.assert_close(net.params['conv'][0].grad, 2 * g1)
    up = net.params['up'][0]
    assert not up.requires_grad and up.grad is None


def test_loss_weight_scales_the_gradient():
    text = inp('x', 2, 3) + inp('y', 2) + '''
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip" inner_product_param { num_output: 4
  weight_filler { type: "gaussian" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "y" top: "loss" LOSSW }'''
    grads = []
    for w in ('', 'loss_weight: 3'):
        torch.manual_seed(0)
        net = Net(text.replace('LOSSW', w), phase='train')
        net.forward(x=np.ones((2, 3)), y=np.array([1, 2]))
        net.backward()
        grads.append(net.params['ip'][0].grad.clone())
    torch.testing.assert_close(grads[1], 3 * grads[0])


def test_several_loss_tops_each_with_its_weight():
    text = inp('x', 1, 4) + inp('y', 1) + '''
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip" inner_product_param { num_output: 3
  weight_filler { type: "gaussian" } } }
layer { name: "a" type: "SoftmaxWithLoss" bottom: "ip" bottom: "y" top: "a" }
layer { name: "b" type: "SoftmaxWithLoss" bottom: "ip" bottom: "y" top: "b" loss_weight: 0.5 }'''
    net = Net(text, phase='train')
    out = net.forward(x=np.ones((1, 4)), y=np.array([2]))
    assert sorted(out) == ['a', 'b']
    assert net.loss() == pytest.approx(1.5 * float(out['a'].detach()))


def test_include_exclude_by_phase_stage_and_level():
    text = inp('x', 1, 2) + '''
layer { name: "train_only" type: "ReLU" bottom: "x" top: "t" include { phase: TRAIN } }
layer { name: "test_only" type: "ReLU" bottom: "x" top: "u" include { phase: TEST } }
layer { name: "not_deploy" type: "ReLU" bottom: "x" top: "v" exclude { stage: "deploy" } }
layer { name: "deploy" type: "ReLU" bottom: "x" top: "w" include { stage: "deploy" } }
layer { name: "level2" type: "ReLU" bottom: "x" top: "z" include { min_level: 2 } }
layer { name: "level_low" type: "ReLU" bottom: "x" top: "q" include { max_level: 1 } }'''
    names = lambda net: [lp.name for lp in net.net_param.layer][1:]
    assert names(Net(text, phase='train')) == ['train_only', 'not_deploy', 'level_low']
    assert names(Net(text, phase=TEST)) == ['test_only', 'not_deploy', 'level_low']
    assert names(Net(text, phase='test', stages=['deploy'], level=3)) == ['test_only', 'deploy', 'level2']


def test_include_and_exclude_together_is_an_error():
    text = inp('x', 1) + 'layer { name: "r" type: "ReLU" bottom: "x" top: "x" include { phase: TRAIN } ' \
                         'exclude { phase: TEST } }'
    with pytest.raises(ValueError, match="'r'.*include and exclude"):
        Net(text)


def test_unknown_layer_type_names_the_layer_and_type():
    text = inp('x', 1, 2) + 'layer { name: "mystery" type: "Frobnicate" bottom: "x" top: "y" }'
    with pytest.raises(UnsupportedLayerError, match="'mystery'.*'Frobnicate'"):
        Net(text)


def test_unknown_bottom_is_an_error():
    with pytest.raises(LayerError, match="unknown bottom blob 'nope'.*'r'"):
        Net(inp('x', 1) + 'layer { name: "r" type: "ReLU" bottom: "nope" top: "y" }')


def test_dropout_is_inverted_elementwise_in_train_and_identity_in_test():
    text = inp('x', 1, 4, 50, 50) + 'layer { name: "d" type: "Dropout" bottom: "x" top: "y" ' \
                                    'dropout_param { dropout_ratio: 0.3 } }'
    x = np.ones((1, 4, 50, 50), np.float32)
    y = Net(text, phase='train').forward(x=x)['y'].numpy()
    np.testing.assert_array_equal(np.unique(y), np.array([0, 1 / (1 - float(np.float32(0.3)))], np.float32))
    kept = (y != 0).mean()
    assert 0.66 < kept < 0.74
    assert len(np.unique(y[0, 0])) == 2   # element-wise, not channel-wise
    np.testing.assert_array_equal(Net(text, phase='test').forward(x=x)['y'].numpy(), x)


def test_dropout_gradient_is_the_mask():
    text = 'force_backward: true\n' + inp('x', 1, 2, 10, 10) + '''
layer { name: "d" type: "Dropout" bottom: "x" top: "y" }
layer { name: "s" type: "Eltwise" bottom: "y" bottom: "y" top: "s" loss_weight: 1 eltwise_param { operation: SUM } }'''
    net = Net(text, phase='train')
    x = np.random.RandomState(0).randn(1, 2, 10, 10)
    net.forward(x=x)
    net.backward()
    y = net.blobs['y'].detach().numpy()
    mask = y / x.astype(np.float32)
    np.testing.assert_allclose(net.blobs['x'].grad.numpy(), 2 * mask, rtol=1e-6)


def test_load_arrays_follows_copy_trained_layers_from():
    net = conv_net()
    w = np.arange(36, dtype=np.float32).reshape(3, 3, 2, 2)
    copied = net.load_arrays({'score': [np.ones((3, 4, 1, 1)), np.full(3, 2.0)], 'not_in_net': [w]})
    assert copied == ['score']
    assert float(net.params['score'][1].detach().sum()) == 6
    with pytest.raises(LayerError, match=r"file\.caffemodel.*blob 0 of layer 'score'.*\(3, 4, 2, 2\).*\(3, 4, 1, 1\)"):
        net.load_arrays({'score': [np.ones((3, 4, 2, 2)), np.ones(3)]}, source='file.caffemodel')
    with pytest.raises(LayerError, match="number of blobs for layer 'score'.*1.*2"):
        net.load_arrays({'score': [np.ones((3, 4, 1, 1))]})


def test_load_arrays_accepts_legacy_4d_shapes_right_aligned():
    net = Net(inp('x', 2, 5) + 'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" '
              'inner_product_param { num_output: 3 } }')
    net.load_arrays({'ip': [np.ones((1, 1, 3, 5)), np.ones((1, 1, 1, 3))]})
    assert tuple(net.params['ip'][0].shape) == (3, 5) and float(net.params['ip'][1].detach().sum()) == 3
    with pytest.raises(LayerError):
        net.load_arrays({'ip': [np.ones((1, 3, 1, 5)), np.ones(3)]})


def test_to_arrays_round_trips():
    a, b = conv_net(), conv_net()
    with torch.no_grad():
        for p in a.parameters():
            p.uniform_()
    b.load_arrays(a.to_arrays())
    for (n, x), (_, y) in zip(a.to_arrays().items(), b.to_arrays().items()):
        for u, v in zip(x, y):
            assert u.dtype == np.float32
            np.testing.assert_array_equal(u, v)


def test_save_and_copy_from_go_through_the_weights_package(tmp_path):
    pytest.importorskip('weights')
    a, b = conv_net(), conv_net()
    with torch.no_grad():
        for p in a.parameters():
            p.uniform_()
    for name in ('w.caffemodel', 'w.caffemodel.h5'):
        a.save(tmp_path / name)
        b2 = conv_net()
        b2.copy_from(tmp_path / name)
        for n, ps in a.params.items():
            for p, q in zip(ps, b2.params[n]):
                torch.testing.assert_close(p, q, rtol=0, atol=0)
    c = Net(CONV_NET, weights=tmp_path / 'w.caffemodel', phase='test')
    torch.testing.assert_close(c.params['conv'][0], a.params['conv'][0], rtol=0, atol=0)


def test_v1_layers_and_legacy_inputs_are_upgraded():
    text = '''name: "old" input: "data" input_dim: 1 input_dim: 2 input_dim: 5 input_dim: 5
layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" blobs_lr: 1 blobs_lr: 2 weight_decay: 1
  weight_decay: 0 convolution_param { num_output: 3 kernel_size: 3 } }
layers { name: "relu" type: RELU bottom: "conv" top: "conv" }
layers { name: "prob" type: SOFTMAX bottom: "conv" top: "prob" }'''
    net = Net(text)
    assert [lp.type for lp in net.net_param.layer] == ['Input', 'Convolution', 'ReLU', 'Softmax']
    assert net.param_specs['conv'] == [(1.0, 1.0), (2.0, 0.0)]
    assert tuple(net.forward(data=np.ones((1, 2, 5, 5)))['prob'].shape) == (1, 3, 3, 3)


def test_python_layer_found_in_the_datalayers_package(monkeypatch):
    mod = types.ModuleType('datalayers.rt_fake_layers')

    class Const(runtime.Layer):
        def setup(self, bottom, top):
            self.value = float(self.param_str)

        def reshape(self, bottom, top):
            top[0].reshape(1, 2)

        def forward(self, bottom, top):
            top[0].data[...] = self.value + (self.phase == TRAIN)

    mod.Const = Const
    import datalayers  # noqa: F401
    monkeypatch.setitem(sys.modules, 'datalayers.rt_fake_layers', mod)
    text = 'layer { name: "c" type: "Python" top: "c" python_param { module: "rt_fake_layers" layer: "Const" ' \
           'param_str: "4" } }'
    assert Net(text, phase='train').forward()['c'].tolist() == [[5.0, 5.0]]
    assert Net(text, phase='test').forward()['c'].tolist() == [[4.0, 4.0]]


def test_python_layer_module_missing_is_a_clear_error():
    text = 'layer { name: "d" type: "Python" top: "d" python_param { module: "no_such_mod_x" layer: "L" } }'
    with pytest.raises(ImportError, match="'d'.*no_such_mod_x"):
        Net(text)


def test_blob_wrapper_has_pycaffe_accessors():
    b = Blob((2, 3, 4, 5))
    assert (b.num, b.channels, b.height, b.width, b.count) == (2, 3, 4, 5, 120)
    assert b.data.dtype == np.float32 and b.diff.shape == (2, 3, 4, 5)
    b.reshape(7, 2)
    assert b.shape == (7, 2) and (b.num, b.channels, b.height, b.width) == (7, 2, 1, 1)


def test_meta_device_infers_shapes_without_computing():
    net = Net(CONV_NET, device='meta')
    out = net.forward()
    assert tuple(out['loss'].shape) == () and tuple(net.blobs['up'].shape) == (1, 3, 18, 18)


def test_inputs_of_another_size_flow_through_the_net():
    net = conv_net()
    out = net.forward(data=np.zeros((1, 3, 12, 10), np.float32), label=np.zeros((1, 1, 12, 10)))
    assert tuple(net.blobs['crop'].shape) == (1, 3, 12, 10) and tuple(net.blobs['up'].shape) == (1, 3, 26, 22)
    assert out['loss'].shape == ()


def test_input_diffs_are_overwritten_not_accumulated():
    text = 'force_backward: true\n' + inp('x', 1, 3) + \
        'layer { name: "s" type: "Power" bottom: "x" top: "s" loss_weight: 1 power_param { scale: 2 } }'
    net = Net(text, phase='train')
    net.forward(x=np.ones((1, 3)))
    net.backward()
    net.forward()
    net.backward()
    assert net.blobs['x'].grad.tolist() == [[2.0, 2.0, 2.0]]
