"""Layer details checked against Caffe's formulas where the oracle cannot serve (round_mode, fillers) and layer
errors."""
import math

import numpy as np
import pytest
import torch

from netspec import caffe_pb2
from runtime import Net
from runtime.fillers import bilinear_kernel, fill
from runtime.layers.base import LayerError
from runtime.layers.pooling import caffe_pooled_size


def inp(name, *shape):
    dims = ' '.join(f'dim: {d}' for d in shape)
    return f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {dims} }} }} }}\n'


def pool_net(shape, body):
    return Net(inp('x', *shape) + f'layer {{ name: "p" type: "Pooling" bottom: "x" top: "y" pooling_param {{ {body} }} }}')


@pytest.mark.parametrize('size,k,s,p,ceil,expected', [
    (500 + 198, 2, 2, 0, True, 349), (349, 2, 2, 0, True, 175), (175, 2, 2, 0, True, 88), (5, 2, 2, 1, True, 3),
    (6, 3, 2, 1, True, 4), (7, 3, 2, 1, True, 4), (5, 2, 2, 1, False, 3), (6, 3, 2, 1, False, 3), (7, 2, 3, 0, False, 2)])
def test_pooled_size_follows_caffe(size, k, s, p, ceil, expected):
    assert caffe_pooled_size(size, k, s, p, ceil) == expected


def test_round_mode_floor_drops_the_partial_window():
    x = np.arange(2 * 7 * 7, dtype=np.float32).reshape(1, 2, 7, 7)
    ceil = pool_net((1, 2, 7, 7), 'pool: MAX kernel_size: 2 stride: 2').forward(x=x)['y'].numpy()
    floor = pool_net((1, 2, 7, 7), 'pool: MAX kernel_size: 2 stride: 2 round_mode: FLOOR').forward(x=x)['y'].numpy()
    assert ceil.shape == (1, 2, 4, 4) and floor.shape == (1, 2, 3, 3)
    np.testing.assert_array_equal(floor, ceil[:, :, :3, :3])
    np.testing.assert_array_equal(floor[0, 0], x[0, 0, 1:6:2, 1:6:2])
    ave = pool_net((1, 2, 7, 7), 'pool: AVE kernel_size: 3 stride: 2 pad: 1 round_mode: FLOOR').forward(x=x)
    assert tuple(ave['y'].shape) == (1, 2, 4, 4)


def test_ave_pooling_divides_by_the_window_clipped_to_the_padded_image():
    x = np.ones((1, 1, 4, 4), np.float32)
    y = pool_net((1, 1, 4, 4), 'pool: AVE kernel_size: 3 stride: 2 pad: 1').forward(x=x)['y'].numpy()[0, 0]
    # windows [-1, 2), [1, 4), [3, 6): the divisor counts the pad up to H + pad = 5, so 3, 3 and 2 per axis,
    # while only the rows inside the image (2, 3 and 1 of them) add up
    prof = np.array([2 / 3, 3 / 3, 1 / 2])
    assert y.shape == (3, 3)
    np.testing.assert_allclose(y, np.outer(prof, prof), rtol=1e-6)


def test_global_pooling_covers_the_whole_map():
    x = np.random.RandomState(0).randn(2, 3, 5, 7).astype(np.float32)
    y = pool_net((2, 3, 5, 7), 'pool: AVE global_pooling: true').forward(x=x)['y'].numpy()
    np.testing.assert_allclose(y[:, :, 0, 0], x.mean(axis=(2, 3)), rtol=1e-5)
    with pytest.raises(LayerError, match="'p'.*global_pooling"):
        pool_net((1, 1, 4, 4), 'pool: MAX global_pooling: true kernel_size: 2')


def test_pad_must_be_smaller_than_the_kernel():
    with pytest.raises(LayerError, match="'p'.*pad"):
        pool_net((1, 1, 6, 6), 'pool: MAX kernel_size: 2 pad: 2')


def test_bilinear_filler_is_caffes():
    k = bilinear_kernel((2, 1, 4, 4))
    prof = np.array([0.25, 0.75, 0.75, 0.25], np.float32)
    np.testing.assert_array_equal(k[0, 0], np.outer(prof, prof))
    np.testing.assert_array_equal(k[1, 0], k[0, 0])
    odd = bilinear_kernel((1, 1, 3, 3))[0, 0]
    np.testing.assert_allclose(odd[1], [0.5, 1.0, 0.5])


def filler(**kw):
    return caffe_pb2.FillerParameter(**kw)


def test_fillers_follow_caffes_distributions():
    torch.manual_seed(0)
    t = torch.empty(200, 50, 3, 3)
    fill(t)
    assert float(t.abs().sum()) == 0                         # Caffe's default: constant 0
    fill(t, filler(type='constant', value=2.5))
    assert float(t.min()) == float(t.max()) == 2.5
    fill(t, filler(type='uniform', min=-2, max=3))
    assert -2 <= float(t.min()) < -1.9 and 2.9 < float(t.max()) <= 3
    fill(t, filler(type='gaussian', mean=1, std=0.5))
    assert abs(float(t.mean()) - 1) < 0.01 and abs(float(t.std()) - 0.5) < 0.01
    fill(t, filler(type='xavier'))                         # uniform(+-sqrt(3 / fan_in)), fan_in = 50 * 9
    bound = math.sqrt(3 / 450)
    assert float(t.abs().max()) <= bound and float(t.abs().max()) > 0.99 * bound
    fill(t, filler(type='msra', variance_norm=caffe_pb2.FillerParameter.FAN_OUT))   # fan_out = 200 * 9
    assert abs(float(t.std()) - math.sqrt(2 / 1800)) < 0.002
    fill(t, filler(type='positive_unitball'))
    torch.testing.assert_close(t.reshape(200, -1).sum(1), torch.ones(200))
    with pytest.raises(ValueError, match='unknown filler'):
        fill(t, filler(type='nope'))


def test_layer_fillers_come_from_the_prototxt():
    net = Net(inp('x', 1, 2, 4, 4) + '''
layer { name: "up" type: "Deconvolution" bottom: "x" top: "up" convolution_param { num_output: 2 kernel_size: 4
  stride: 2 group: 2 bias_term: false weight_filler { type: "bilinear" } } }
layer { name: "sc" type: "Scale" bottom: "up" top: "sc" scale_param { bias_term: true
  bias_filler { type: "constant" value: 0.5 } } }''')
    np.testing.assert_array_equal(net.params['up'][0].detach().numpy(), bilinear_kernel((2, 1, 4, 4)))
    assert net.params['sc'][0].detach().tolist() == [1.0, 1.0]     # Scale's default filler is constant 1
    assert net.params['sc'][1].detach().tolist() == [0.5, 0.5]


def test_conv_group_must_divide_the_channels():
    with pytest.raises(LayerError, match="'c'.*group 2"):
        Net(inp('x', 1, 3, 5, 5) + 'layer { name: "c" type: "Convolution" bottom: "x" top: "c" '
            'convolution_param { num_output: 4 kernel_size: 3 group: 2 } }')


def test_crop_too_large_names_the_layer():
    with pytest.raises(LayerError, match="'cr'.*offset 3"):
        Net(inp('a', 1, 1, 5, 5) + inp('b', 1, 1, 4, 4) +
            'layer { name: "cr" type: "Crop" bottom: "a" bottom: "b" top: "c" crop_param { offset: 3 } }')


def test_softmax_loss_label_out_of_range_is_an_error():
    net = Net(inp('s', 1, 3, 2, 2) + inp('l', 1, 1, 2, 2) +
              'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "s" bottom: "l" top: "loss" '
              'loss_param { ignore_label: 255 } }', phase='train')
    net.forward(s=np.zeros((1, 3, 2, 2)), l=np.array([0, 1, 2, 255]).reshape(1, 1, 2, 2))
    with pytest.raises(LayerError, match="'loss'.*label value 7"):
        net.forward(l=np.array([0, 1, 7, 255]).reshape(1, 1, 2, 2))


def test_eltwise_coefficients_only_for_sum():
    with pytest.raises(LayerError, match="'e'.*SUM"):
        Net(inp('a', 1, 2) + inp('b', 1, 2) + 'layer { name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "e" '
            'eltwise_param { operation: MAX coeff: 1 coeff: 2 } }')


@pytest.mark.parametrize('memory_format', ['channels_last', 'contiguous'])
def test_forward_only_matrix_product_paths_match_torch_convolution(memory_format):
    net = Net(inp('x', 2, 6, 9, 11) + '''
layer { name: "fc6" type: "Convolution" bottom: "x" top: "fc6" convolution_param { num_output: 8 kernel_h: 7
  kernel_w: 5 pad: 1 weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } } }
layer { name: "fc7" type: "Convolution" bottom: "fc6" top: "fc7" convolution_param { num_output: 5 kernel_size: 1
  weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } } }''', memory_format=memory_format)
    x = torch.randn(2, 6, 9, 11)
    out = net.forward(x=x)['fc7']
    p = net.params
    with torch.no_grad():
        ref = torch.nn.functional.conv2d(torch.nn.functional.conv2d(x, p['fc6'][0], p['fc6'][1], 1, 1),
                                         p['fc7'][0], p['fc7'][1])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
