"""Net surgery: transplant, upsample_filt, interp, expand_score (on nets, tensors and plain arrays)."""
import collections
import types

import numpy as np
import pytest
import torch

from netspec import caffe_pb2
from weights import WeightsError
from weights.surgery import expand_score, interp, transplant, upsample_filt, with_input_layers


def fake_net(spec, fill=0.0, net_param=None):
    """Anything with .params: {layer: [nn.Parameter]}; spec {layer: [shape]}."""
    params = collections.OrderedDict(
        (k, [torch.nn.Parameter(torch.full(s, fill)) for s in shapes]) for k, shapes in spec.items())
    return types.SimpleNamespace(params=params, net_param=net_param)


def arange_arrays(spec):
    return collections.OrderedDict(
        (k, [np.arange(np.prod(s), dtype=np.float32).reshape(s) + 1000 * j for j, s in enumerate(shapes)])
        for k, shapes in spec.items())


# ---------------------------------------------------------------------------------------------------- transplant

def test_transplant_copies_same_shaped_blobs_by_name():
    src = arange_arrays({'conv1': [(2, 3, 3, 3), (2,)]})
    dst = fake_net({'conv1': [(2, 3, 3, 3), (2,)]})
    assert transplant(dst, src, log=lambda *_: None) == ['conv1']
    assert np.array_equal(dst.params['conv1'][0].detach().numpy(), src['conv1'][0])
    assert np.array_equal(dst.params['conv1'][1].detach().numpy(), src['conv1'][1])


def test_transplant_coerces_fc_weights_into_conv_shape_logging_one_line_per_layer():
    src = arange_arrays({'fc6': [(4, 2 * 3 * 3), (4,)], 'fc7': [(1, 1, 4, 4), (1, 1, 1, 4)]})  # fc7: V1 legacy
    dst = fake_net({'fc6': [(4, 2, 3, 3), (4,)], 'fc7': [(4, 4, 1, 1), (4,)]})
    lines = []
    transplant(dst, src, log=lines.append)
    assert lines == ['coercing fc6: blob 0 (4, 18) -> (4, 2, 3, 3)',
                     'coercing fc7: blob 0 (1, 1, 4, 4) -> (4, 4, 1, 1), blob 1 (1, 1, 1, 4) -> (4,)']
    assert np.array_equal(dst.params['fc6'][0].detach().numpy().reshape(4, 18), src['fc6'][0])
    assert np.array_equal(dst.params['fc7'][1].detach().numpy(), src['fc7'][1].ravel())


def test_transplant_refuses_to_tile_when_element_counts_differ():
    src = arange_arrays({'fc6': [(4, 9), (4,)]})
    dst = fake_net({'fc6': [(4, 2, 3, 3), (4,)]}, fill=7.0)
    with pytest.raises(WeightsError, match=r"layer 'fc6' blob 0 has shape \(4, 9\) \(36 values\) but target layer "
                                           r"'fc6' blob 0 has shape \(4, 2, 3, 3\) \(72 values\)"):
        transplant(dst, src, log=lambda *_: None)


def test_transplant_drops_layers_the_target_lacks_and_extra_blobs():
    src = arange_arrays({'fc8': [(3, 4), (3,)], 'up': [(2, 2, 4, 4), (2,)]})
    dst = fake_net({'up': [(2, 2, 4, 4)], 'score': [(2, 3, 1, 1)]}, fill=5.0)
    lines = []
    assert transplant(dst, src, log=lines.append) == ['up']
    assert lines[0].startswith('dropping fc8') and lines[1].startswith('dropping up blob 1')
    assert torch.all(dst.params['score'][0] == 5.0)  # only in the target: untouched


def test_transplant_with_suffix_targets_the_suffixed_layers():
    src = arange_arrays({'conv1_1': [(2, 3, 3, 3), (2,)], 'upscore': [(2, 2, 4, 4)]})
    dst = fake_net({'conv1_1color': [(2, 3, 3, 3), (2,)], 'upscore': [(2, 2, 4, 4)]})
    lines = []
    assert transplant(dst, src, suffix='color', log=lines.append) == ['conv1_1color']
    assert lines == ['dropping upscore (no layer upscorecolor in the target)']


def test_transplant_writes_numpy_targets_in_place():
    dst = {'a': [np.zeros((2, 2), np.float32)]}
    transplant(dst, {'a': [np.ones(4)]}, log=lambda *_: None)
    assert np.array_equal(dst['a'][0], np.ones((2, 2)))


# ---------------------------------------------------------------------------------------------------- bilinear

def test_upsample_filt_profiles_match_the_reference_factor_and_center():
    assert np.allclose(upsample_filt(4)[0] / upsample_filt(4)[0].max(), [1 / 3, 1, 1, 1 / 3])
    assert np.allclose(upsample_filt(4)[1], [0.1875, 0.5625, 0.5625, 0.1875])  # 0.75 * [.25, .75, .75, .25]
    k3 = upsample_filt(3)  # factor 2, center 1
    assert np.allclose(k3[1], [0.5, 1, 0.5])
    k64 = upsample_filt(64)  # factor 32, center 31.5
    assert k64.shape == (64, 64) and np.isclose(k64[31, 31], (1 - 0.5 / 32) ** 2)
    k63 = upsample_filt(63)  # factor 32, center 31
    assert k63[31, 31] == 1.0 and np.isclose(k63[0, 31], 1 - 31 / 32)


def caffe_bilinear_filler(k):
    """Caffe's BilinearFiller (filler.hpp) 2-D kernel, in float32."""
    f = np.ceil(k / 2.0)
    c = (k - 1) / (2 * f)
    x = np.arange(k)
    prof = 1 - np.abs(x / f - c)
    return (prof[:, None] * prof[None, :]).astype(np.float32)


@pytest.mark.parametrize('k', [4, 16, 64])
def test_upsample_filt_equals_caffes_bilinear_filler_in_float32_for_even_kernels(k):
    assert np.array_equal(upsample_filt(k).astype(np.float32), caffe_bilinear_filler(k))


def frozen_deconv_param(names_lr):
    net = caffe_pb2.NetParameter()
    for name, typ, lr in names_lr:
        lp = net.layer.add(name=name, type=typ)
        if lr is not None:
            lp.param.add(lr_mult=lr)
    return net


def test_interp_writes_the_kernel_on_the_diagonal_only():
    net = fake_net({'upscore': [(3, 3, 4, 4)]}, fill=0.0)
    interp(net, ['upscore'])
    w = net.params['upscore'][0].detach().numpy()
    for i in range(3):
        for j in range(3):
            assert np.array_equal(w[i, j], upsample_filt(4).astype(np.float32) if i == j else np.zeros((4, 4)))


def test_interp_keeps_off_diagonal_values():
    net = fake_net({'up': [(2, 2, 4, 4)]}, fill=0.5)
    interp(net, 'up')
    w = net.params['up'][0].detach().numpy()
    assert np.all(w[0, 1] == 0.5) and np.array_equal(w[1, 1], upsample_filt(4).astype(np.float32))


def test_interp_fills_one_channel_kernels_of_channelwise_deconvs():
    net = fake_net({'up': [(3, 1, 4, 4)]})
    interp(net, ['up'])
    assert all(np.array_equal(net.params['up'][0][i, 0].detach().numpy(), upsample_filt(4).astype(np.float32))
               for i in range(3))


def test_interp_defaults_to_every_frozen_deconvolution():
    proto = frozen_deconv_param([('score_fr', 'Convolution', 1), ('upscore2', 'Deconvolution', 0),
                                 ('learned_up', 'Deconvolution', None), ('upscore8', 'Deconvolution', 0)])
    net = fake_net({'score_fr': [(2, 4, 1, 1)], 'upscore2': [(2, 2, 4, 4)], 'learned_up': [(2, 2, 4, 4)],
                    'upscore8': [(2, 2, 16, 16)]}, net_param=proto)
    assert interp(net) == ['upscore2', 'upscore8']
    assert torch.all(net.params['learned_up'][0] == 0) and torch.all(net.params['score_fr'][0] == 0)
    assert net.params['upscore8'][0][1, 1].max() > 0


@pytest.mark.parametrize('shape, why', [((3, 2, 4, 4), 'input and output channels differ'),
                                        ((2, 2, 4, 3), 'not square')])
def test_interp_rejects_kernels_it_cannot_fill(shape, why):
    with pytest.raises(WeightsError, match=why):
        interp(fake_net({'up': [shape]}), ['up'])


# ------------------------------------------------------------------------------------------------ expand_score

def test_expand_score_keeps_old_classes_and_leaves_new_ones():
    old = arange_arrays({'score': [(3, 4, 1, 1), (3,)]})
    new = fake_net({'score': [(5, 4, 1, 1), (5,)]}, fill=-1.0)
    expand_score(new, 'score', old, 'score')
    w, b = (p.detach().numpy() for p in new.params['score'])
    assert np.array_equal(w[:3], old['score'][0]) and np.all(w[3:] == -1)
    assert np.array_equal(b[:3], old['score'][1]) and np.all(b[3:] == -1)


def test_expand_score_refuses_incompatible_filters():
    with pytest.raises(WeightsError, match='cannot fit'):
        expand_score(fake_net({'s': [(5, 8, 1, 1), (5,)]}), 's', arange_arrays({'s': [(3, 4, 1, 1), (3,)]}), 's')


# ---------------------------------------------------------------------------------------------------- helpers

def test_data_layers_become_inputs_with_reference_channel_counts():
    net = caffe_pb2.NetParameter()
    net.layer.add(name='data', type='Python', top=['color', 'depth', 'label'])
    net.layer.add(name='conv', type='Convolution', bottom=['color'], top=['conv'])
    out = with_input_layers(net, size=32, shapes={'color': (1, 3, 40, 40)})
    lp = out.layer[0]
    assert lp.type == 'Input' and list(lp.top) == ['color', 'depth', 'label']
    assert [list(s.dim) for s in lp.input_param.shape] == [[1, 3, 40, 40], [1, 1, 32, 32], [1, 1, 32, 32]]
    assert out.layer[1].type == 'Convolution' and net.layer[0].type == 'Python'


def test_mean_channels_extends_a_first_conv_with_the_mean_filter():
    from weights.surgery import mean_channels
    src = arange_arrays({'conv1_1': [(2, 3, 3, 3), (2,)]})
    dst = fake_net({'conv1_1_bgrd': [(2, 4, 3, 3), (2,)]})
    mean_channels(dst, 'conv1_1_bgrd', src, 'conv1_1')
    w = dst.params['conv1_1_bgrd'][0].detach().numpy()
    assert np.array_equal(w[:, :3], src['conv1_1'][0]) and np.allclose(w[:, 3], src['conv1_1'][0].mean(axis=1))
    with pytest.raises(WeightsError, match='cannot extend'):
        mean_channels(fake_net({'x': [(3, 4, 3, 3)]}), 'x', src, 'conv1_1')
