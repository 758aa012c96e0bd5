"""Shift-and-stitch (runtime.stitch) equals filter rarefaction (netspec.rarefy), CVPR 2015 sec. 3.2.

Tolerance: the rarefied net runs dilated convolutions on the dense map, the stitched one plain convolutions on
sub-lattices; the same products are summed in another order, so the two agree to float32 rounding, not bit for
bit: within 1e-5 relative, or 1e-6 of the map's largest magnitude for values near zero (`_close`).
"""
import pytest
import torch

from netspec import NetSpec, layers as L, params as P
from netspec.rarefy import RarefyError, rarefy
from runtime import Net
from runtime.stitch import shift_and_stitch

def _close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6 * float(b.abs().max()))


def _net(shape, pool=P.Pooling.MAX, k=2, s=2, conv1_pad=0):
    """conv 3x3 -> relu -> pool k/s -> conv 3x3 pad 1 -> relu -> conv 3x3 -> relu -> score 1x1."""
    g = dict(type='gaussian', std=0.3)
    b = dict(type='constant', value=0.1)
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=list(shape)))
    n.conv1 = L.Convolution(n.data, kernel_size=3, pad=conv1_pad, num_output=6, weight_filler=g, bias_filler=b)
    n.relu1 = L.ReLU(n.conv1, in_place=True)
    n.pool1 = L.Pooling(n.relu1, pool=pool, kernel_size=k, stride=s)
    n.conv2 = L.Convolution(n.pool1, kernel_size=3, pad=1, num_output=6, weight_filler=g, bias_filler=b)
    n.relu2 = L.ReLU(n.conv2, in_place=True)
    n.conv3 = L.Convolution(n.relu2, kernel_size=3, num_output=5, weight_filler=g, bias_filler=b)
    n.relu3 = L.ReLU(n.conv3, in_place=True)
    n.score = L.Convolution(n.relu3, kernel_size=1, num_output=4, weight_filler=g)
    return n.to_proto()


def _pair(proto, layer='pool1'):
    torch.manual_seed(0)
    coarse = Net(proto)
    dense = Net(rarefy(proto, layer))
    dense.load_arrays(coarse.to_arrays())
    return coarse, dense


def _image(h, w, seed=1):
    return torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _dense(net, x):
    with torch.no_grad():
        return net.forward(data=x)['score']


@pytest.mark.parametrize('pool', [P.Pooling.MAX, P.Pooling.AVE])
def test_stitched_output_equals_the_rarefied_net_for_one_stride_2_pool(pool, one_thread):
    coarse, dense = _pair(_net((1, 3, 21, 19), pool=pool))
    x = _image(21, 19)
    stitched = shift_and_stitch(coarse, 2, {'data': x})
    expected = _dense(dense, x)
    assert stitched.shape == expected.shape == (1, 4, 14, 12)
    assert expected.abs().max() > 0.1
    _close(stitched, expected)


def test_stitched_output_equals_the_rarefied_net_for_a_stride_4_pool(one_thread):
    coarse, dense = _pair(_net((1, 3, 25, 29), k=4, s=4))
    x = _image(25, 29)
    stitched = shift_and_stitch(coarse, 4, {'data': x}, shifts_per_forward=16)
    expected = _dense(dense, x)
    assert stitched.shape == expected.shape == (1, 4, 12, 16)
    _close(stitched, expected)


def test_stitching_with_a_step_densifies_partly_like_a_partial_rarefaction(one_thread):
    """f = 2 shifts of 2 pixels on a stride-4 pool: an output of stride 2, the rarefied net with pool stride 2
    and later filters dilated by 2."""
    proto = _net((1, 3, 24, 28), k=4, s=4)
    torch.manual_seed(0)
    coarse = Net(proto)
    dense = Net(rarefy(proto, 'pool1', factor=2))
    dense.load_arrays(coarse.to_arrays())
    assert dense.net_param.layer[3].pooling_param.stride == 2
    x = _image(24, 28)
    stitched = shift_and_stitch(coarse, 2, {'data': x}, step=2)
    expected = _dense(dense, x)
    assert stitched.shape == expected.shape == (1, 4, 6, 8)
    _close(stitched, expected)


def test_each_shift_fills_its_own_sublattice(one_thread):
    coarse, _ = _pair(_net((1, 3, 21, 19)))
    x = _image(21, 19)
    stitched = shift_and_stitch(coarse, 2, {'data': x})
    with torch.no_grad():
        shifted = coarse.forward(data=x[:, :, 1:21, 0:18])['score']
    assert torch.equal(stitched[:, :, 1::2, 0::2], shifted)


def test_batched_shifts_give_the_same_map(one_thread):
    coarse, _ = _pair(_net((1, 3, 21, 19)))
    x = _image(21, 19)
    _close(shift_and_stitch(coarse, 2, {'data': x}, shifts_per_forward=4), shift_and_stitch(coarse, 2, {'data': x}))


def test_padding_before_the_pool_makes_them_differ_only_at_the_border(one_thread):
    """With a padded first conv the windows see padding zeros where the dense net sees pixels (at the top/left for
    the shifted windows, at the bottom/right for the unshifted ones, which end f - 1 pixels early): the two maps
    then agree away from the border only (the paper's equivalence is an interior one)."""
    coarse, dense = _pair(_net((1, 3, 21, 19), conv1_pad=1))
    x = _image(21, 19)
    stitched, expected = shift_and_stitch(coarse, 2, {'data': x}), _dense(dense, x)
    assert stitched.shape == expected.shape
    _close(stitched[:, :, 6:-6, 6:-6], expected[:, :, 6:-6, 6:-6])
    assert not torch.allclose(stitched, expected, rtol=1e-3, atol=1e-3)


def test_rarefy_sets_stride_1_and_dilates_and_pads_every_later_filter():
    net = rarefy(_net((1, 3, 21, 19)), 'pool1')
    layers = {l.name: l for l in net.layer}
    assert layers['pool1'].pooling_param.stride == 1
    assert list(layers['conv1'].convolution_param.dilation) == []
    assert (list(layers['conv2'].convolution_param.dilation), list(layers['conv2'].convolution_param.pad)) == \
        ([2], [2])
    assert list(layers['conv3'].convolution_param.dilation) == [2]
    assert list(layers['score'].convolution_param.dilation) == [2]


def test_rarefy_refuses_what_caffe_layers_cannot_express():
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 16, 16]))
    n.pool1 = L.Pooling(n.data, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    n.pool2 = L.Pooling(n.pool1, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    with pytest.raises(RarefyError, match="'pool2' \\(Pooling\\) follows the rarefied layer 'pool1'.*no dilation"):
        rarefy(n.to_proto(), 'pool1')
    with pytest.raises(RarefyError, match="has no layer 'pool9'"):
        rarefy(n.to_proto(), 'pool9')
    with pytest.raises(RarefyError, match="'data' is a Input"):
        rarefy(n.to_proto(), 'data')
    with pytest.raises(RarefyError, match='the factor 3 must be at least 2 and divide its stride 2'):
        rarefy(n.to_proto(), 'pool2', factor=3)


def test_shift_and_stitch_errors_name_the_problem():
    coarse, _ = _pair(_net((1, 3, 21, 19)))
    with pytest.raises(ValueError, match='too small for 32 shifts of 1 pixels'):
        shift_and_stitch(coarse, 32, {'data': _image(21, 19)})
    with pytest.raises(ValueError, match='N x C x H x W'):
        shift_and_stitch(coarse, 2, {'data': torch.zeros(3, 21, 19)})
