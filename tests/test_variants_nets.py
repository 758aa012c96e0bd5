"""The paper's net alternatives in the generators: deeper fusion (FCN-4s / FCN-2s), learned vs frozen upsampling,
decreased subsampling (pool5 stride 1, dilated fc6). Defaults stay the reference (test_netspec_models checks that)."""
import pytest
import torch

from netspec import NetSpec, caffe_pb2, coord_map_from_to
from netspec.models import fcn_vgg16, input_data, parts, trunks
from netspec.shapes import ShapeError, infer_shapes
from runtime import Net
from weights.surgery import interp


def _offsets(net):
    return {l.name: l.crop_param.offset[0] for l in net.layer if l.type == 'Crop'}


def _layer(net, name):
    return next(l for l in net.layer if l.name == name)


def _head(stride, **kw):
    """A thin FCN built with the DSL, returning (NetSpec, NetParameter) so coord maps can be read off its tops."""
    n = NetSpec()
    tops = input_data((1, 3, 64, 64)).build(n)
    taps = trunks.vgg16(n, tops[0], width=1 / 16, dropout_layers=False, pool5_stride=kw.pop('pool5_stride', 2))
    parts.fcn_head(n, taps['fc7'], taps, tops[0], stride, 5, **kw)
    return n, n.to_proto()


def _random_weights(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for blobs in net.params.values():
            for p in blobs:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    interp(net, [l.name for l in net.net_param.layer if l.type == 'Deconvolution'])


def _fit_sizes(net, sides):
    probe = caffe_pb2.NetParameter()
    probe.CopyFrom(net)
    del probe.layer[0]
    return [s for s in sides if infer_shapes(probe, {'data': (1, 3, s, s)})['score'][2:] != (s, s)]


# -- deeper fusion ------------------------------------------------------------------------------------------------

def test_fcn4s_and_fcn2s_offsets_continue_the_fcn8s_pattern():
    assert _offsets(fcn_vgg16(stride=4)) == {'score_pool4c': 5, 'score_pool3c': 9, 'score_pool2c': 17, 'score': 33}
    assert _offsets(fcn_vgg16(stride=2)) == {'score_pool4c': 5, 'score_pool3c': 9, 'score_pool2c': 17,
                                             'score_pool1c': 33, 'score': 34}


@pytest.mark.parametrize('stride', [4, 2])
def test_deeper_fusion_crop_offsets_are_what_coord_map_gives(stride):
    n, net = _head(stride)
    pairs = {'score_pool4c': ('score_pool4', 'upscore2'), 'score_pool3c': ('score_pool3', 'upscore_pool4'),
             'score_pool2c': ('score_pool2', 'upscore_pool3'), 'score': ('upscore4', 'data')}
    if stride == 2:
        pairs.update(score_pool1c=('score_pool1', 'upscore_pool2'), score=('upscore_pool1', 'data'))
    offsets = _offsets(net)
    assert set(offsets) == set(pairs)
    for crop_name, (top, ref) in pairs.items():
        a, b, _ = coord_map_from_to(n[top], n[ref])
        assert (a, b) == (1, offsets[crop_name]), crop_name


def test_deeper_fusion_layers_follow_the_reference_names():
    names = [l.name for l in fcn_vgg16(stride=2).layer if l.type in ('Deconvolution', 'Eltwise', 'Crop')]
    assert names == ['upscore2', 'score_pool4c', 'fuse_pool4', 'upscore_pool4', 'score_pool3c', 'fuse_pool3',
                     'upscore_pool3', 'score_pool2c', 'fuse_pool2', 'upscore_pool2', 'score_pool1c', 'fuse_pool1',
                     'upscore_pool1', 'score']
    final = _layer(fcn_vgg16(stride=4), 'upscore4').convolution_param
    assert (final.kernel_size[0], final.stride[0]) == (8, 4)


@pytest.mark.parametrize('stride', [4, 2])
def test_deeper_fusion_fits_every_input_side(stride):
    assert _fit_sizes(fcn_vgg16(stride=stride, width=1 / 64), range(1, 301)) == []


def test_at_once_deeper_skips_scale_by_100_per_level():
    net = fcn_vgg16(stride=2, at_once=True)
    scales = {l.name: l.scale_param.filler.value for l in net.layer if l.type == 'Scale'}
    assert scales == pytest.approx({'scale_pool4': 1e-2, 'scale_pool3': 1e-4, 'scale_pool2': 1e-6,
                                    'scale_pool1': 1e-8}, rel=1e-6)
    assert _offsets(net) == _offsets(fcn_vgg16(stride=2))


@pytest.mark.parametrize('stride', [4, 2])
def test_deeper_fusion_trains_through_the_runtime(stride, one_thread):
    src = input_data(tops=('data', 'label'), shapes=[(1, 3, 37, 42), (1, 1, 37, 42)], labels=('label',))
    net = Net(fcn_vgg16(src, stride=stride, num_classes=3, width=1 / 32), phase='train')
    _random_weights(net)
    g = torch.Generator().manual_seed(1)
    out = net.forward(data=torch.randn(1, 3, 37, 42, generator=g) * 50,
                      label=torch.randint(0, 3, (1, 1, 37, 42), generator=g).float())
    assert net.blobs['score'].shape == (1, 3, 37, 42)
    assert torch.isfinite(out['loss'])
    net.backward()
    deepest = 'score_pool2' if stride == 4 else 'score_pool1'
    assert net.params[deepest][0].grad.abs().sum() > 0


def test_stride_beyond_the_trunk_is_a_clear_error():
    with pytest.raises(ValueError, match='stride 32 cannot be made from a trunk of stride 16'):
        fcn_vgg16(stride=32, pool5_stride=1)
    with pytest.raises(ValueError, match='pool5_stride must be 2 .* or 1'):
        fcn_vgg16(pool5_stride=3)


# -- upsampling: frozen (reference) or learned (paper) ------------------------------------------------------------

def _lr(net):
    return {l.name: [(p.lr_mult, p.decay_mult) for p in l.param] for l in net.layer if l.type == 'Deconvolution'}


def test_frozen_upsampling_is_the_default():
    assert fcn_vgg16(stride=8) == fcn_vgg16(stride=8, upsampling='frozen')
    assert list(_lr(fcn_vgg16(stride=8)).values()) == [[(0.0, 1.0)]] * 3


def test_learned_upsampling_learns_the_intermediate_deconvolutions_and_fixes_the_final_one():
    assert _lr(fcn_vgg16(stride=8, upsampling='learned')) == {
        'upscore2': [(1.0, 1.0)], 'upscore_pool4': [(1.0, 1.0)], 'upscore8': [(0.0, 1.0)]}
    assert _lr(fcn_vgg16(stride=2, upsampling='learned'))['upscore_pool1'] == [(0.0, 1.0)]
    # FCN-32s has only the final deconvolution: the switch changes nothing
    assert fcn_vgg16(stride=32, upsampling='learned') == fcn_vgg16(stride=32)


def test_learned_upsampling_gets_gradients_and_the_final_one_none(one_thread):
    src = input_data(tops=('data', 'label'), shapes=[(1, 3, 40, 40), (1, 1, 40, 40)], labels=('label',))
    net = Net(fcn_vgg16(src, stride=16, num_classes=3, width=1 / 32, upsampling='learned'), phase='train')
    _random_weights(net)
    net.forward(data=torch.randn(1, 3, 40, 40) * 50, label=torch.ones(1, 1, 40, 40))
    net.backward()
    assert net.params['upscore2'][0].grad.abs().sum() > 0
    assert not net.params['upscore16'][0].requires_grad


def test_unknown_upsampling_is_a_clear_error():
    with pytest.raises(ValueError, match="upsampling must be one of \\('frozen', 'learned'\\), not 'bilinear'"):
        fcn_vgg16(stride=16, upsampling='bilinear')


# -- decreased subsampling: pool5 stride 1, fc6 dilated by 2 ------------------------------------------------------

def test_decreased_subsampling_has_pool5_stride_1_dilated_fc6_and_a_stride_16_head():
    net = fcn_vgg16(stride=16, pool5_stride=1)
    pool5 = _layer(net, 'pool5').pooling_param
    assert (pool5.kernel_size, pool5.stride) == (2, 1)
    fc6 = _layer(net, 'fc6').convolution_param
    assert (list(fc6.kernel_size), list(fc6.dilation), list(fc6.pad)) == ([7], [2], [0])
    assert [l.name for l in net.layer if l.type in ('Deconvolution', 'Crop')] == ['upscore', 'score']
    up = _layer(net, 'upscore').convolution_param
    assert (up.kernel_size[0], up.stride[0]) == (32, 16)


def test_decreased_subsampling_crop_offset_is_what_coord_map_gives():
    n, net = _head(16, pool5_stride=1, trunk_stride=16)
    a, b, _ = coord_map_from_to(n['upscore'], n['data'])
    assert (a, b) == (1, 3) and _offsets(net) == {'score': 3}
    n, net = _head(8, pool5_stride=1, trunk_stride=16)
    a, b, _ = coord_map_from_to(n['score_pool3'], n['upscore2'])
    assert (a, b) == (1, _offsets(net)['score_pool3c'])


def test_decreased_subsampling_fits_inputs_from_11_pixels():
    net = fcn_vgg16(stride=16, pool5_stride=1, width=1 / 64)
    assert _fit_sizes(net, range(11, 301)) == []
    with pytest.raises(ShapeError, match="layer 'fc6'.*empty output"):
        _fit_sizes(net, [10])


def test_decreased_subsampling_is_fcn32s_with_its_fc6_rarefied(one_thread):
    """pool5 at stride 1 and fc6 dilated by 2 compute the FCN-32s fc7 at every other position (shift-and-stitch's
    filter rarefaction, CVPR 2015 sec. 3.2): exactly on the even grid, where no ceil-mode pool5 window hangs over."""
    side = (44, 76)   # pool4 is 16 x 18 (even), so pool5 at stride 2 has no overhanging window
    base = fcn_vgg16(input_data((1, 3) + side), stride=32, num_classes=3, width=1 / 16)
    dense = fcn_vgg16(input_data((1, 3) + side), stride=16, num_classes=3, width=1 / 16, pool5_stride=1)
    a, b = Net(base), Net(dense)
    _random_weights(a)
    b.load_arrays({k: v for k, v in a.to_arrays().items() if k != 'upscore'})
    x = torch.randn(1, 3, *side, generator=torch.Generator().manual_seed(2)) * 50
    with torch.no_grad():
        a.forward(data=x)
        b.forward(data=x)
    assert tuple(a.blobs['pool4'].shape[2:]) == (16, 18)
    coarse, fine = a.blobs['fc7'], b.blobs['fc7']
    assert fine.shape[2:] == (2 * coarse.shape[2] - 1, 2 * coarse.shape[3] - 1)
    assert coarse.abs().max() > 0
    torch.testing.assert_close(fine[:, :, ::2, ::2], coarse, rtol=1e-5, atol=1e-5)


# -- the demo's nets have the same options ------------------------------------------------------------------------

@pytest.mark.parametrize('kw', [dict(stride=4), dict(stride=2), dict(stride=16, pool5_stride=1),
                                dict(stride=8, upsampling='learned')])
def test_demo_fcn_variants_fit_every_side_with_a_5x5_fc6(kw):
    from fcndemo import nets
    assert _fit_sizes(nets.fcn(input_data((1, 3, 64, 64)), crop=160, **kw), range(1, 300)) == []


def test_demo_fcn4s_with_a_4x4_fc6_misses_some_sides():
    from fcndemo import nets
    net = nets.fcn(input_data((1, 3, 64, 64)), stride=4)
    with pytest.raises(ShapeError, match="layer 'score_pool2c' \\(Crop\\)"):
        _fit_sizes(net, [125])
    assert _fit_sizes(net, [122, 131]) == []
