"""netspec.receptive: receptive fields, strides and depths from the layer geometry, on hand-checkable nets."""
from fractions import Fraction

import numpy as np
import pytest
import torch

from netspec import NetSpec, crop, layers as L, params as P
from netspec.receptive import (Field, ReceptiveFieldError, conv_depth, max_stride, receptive_field,
                               receptive_fields)


def _input(n, name='data', size=32):
    n[name] = L.Input(shape=dict(dim=[1, 1, size, size]))
    return n[name]


def _conv(bottom, k, s=1, p=0, d=1):
    kw = dict(num_output=1, kernel_size=k, stride=s, pad=p)
    if d != 1:
        kw['dilation'] = d
    return L.Convolution(bottom, **kw)


def test_one_conv_sees_its_kernel_centred_by_the_pad():
    n = NetSpec()
    n.conv = _conv(_input(n), 3, p=1)
    f = receptive_field(n.to_proto(), 'conv')
    assert (f.size, f.stride, f.window(0), f.window(5)) == (3, 1, (-1, 1), (4, 6))


def test_conv_pool_conv_grows_by_kernel_minus_one_times_the_stride_below():
    # 3 (conv 3/2) + (2 - 1) * 2 (pool 2/2) + (3 - 1) * 4 (conv 3) = 13, stride 2 * 2 = 4
    n = NetSpec()
    n.c1 = _conv(_input(n), 3, s=2)
    n.p1 = L.Pooling(n.c1, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    n.c2 = _conv(n.p1, 3)
    f = receptive_field(n.to_proto(), 'c2')
    assert (f.size, f.stride, f.window(0), f.window(1)) == (13, 4, (0, 12), (4, 16))


def test_dilation_spreads_the_kernel():
    n = NetSpec()
    n.conv = _conv(_input(n), 3, d=2)
    assert receptive_field(n.to_proto(), 'conv').size == 5


def test_per_axis_kernels_give_per_axis_fields():
    n = NetSpec()
    n.conv = L.Convolution(_input(n), num_output=1, kernel_h=3, kernel_w=5)
    net = n.to_proto()
    assert receptive_field(net, 'conv', axis=0).size == 3
    assert receptive_field(net, 'conv', axis=1).size == 5


def test_deconvolution_field_depends_on_the_phase():
    # conv 1/2: unit x sees pixel 2x. Deconv 4/2 pad 1: unit y sees x in [ceil((y - 2) / 2), floor((y + 1) / 2)]
    # y = 0: x in [-1, 0] -> pixels [-2, 0]; y = 1: x in [0, 1] -> pixels [0, 2]; then every 2 units move 2 pixels
    n = NetSpec()
    n.down = _conv(_input(n), 1, s=2)
    n.up = L.Deconvolution(n.down, convolution_param=dict(num_output=1, kernel_size=4, stride=2, pad=1))
    f = receptive_field(n.to_proto(), 'up')
    assert f == Field(period=2, step=2, lo=(-2, 0), hi=(0, 2))
    assert (f.stride, f.sizes, f.window(3)) == (1, (3, 3), (2, 4))


def test_deconvolution_shorter_than_its_stride_leaves_units_that_see_nothing():
    n = NetSpec()
    n.up = L.Deconvolution(_input(n), convolution_param=dict(num_output=1, kernel_size=1, stride=2))
    f = receptive_field(n.to_proto(), 'up')
    assert (f.stride, f.sizes, f.window(4), f.window(5)) == (Fraction(1, 2), (1, None), (2, 2), None)


def test_crop_shifts_by_its_offset_and_ignores_the_reference():
    n = NetSpec()
    data = _input(n)
    n.conv = _conv(data, 3)
    n.crop = L.Crop(n.conv, data, crop_param=dict(axis=2, offset=2))
    assert receptive_field(n.to_proto(), 'crop').window(0) == (2, 4)


def test_eltwise_sees_the_union_of_its_bottoms():
    n = NetSpec()
    data = _input(n)
    n.a = _conv(data, 1)
    n.b = _conv(data, 5, p=2)
    n.sum = L.Eltwise(n.a, n.b)
    assert receptive_field(n.to_proto(), 'sum').window(0) == (-2, 2)


def test_bottoms_of_different_strides_are_refused():
    n = NetSpec()
    data = _input(n)
    n.a = _conv(data, 1)
    n.b = _conv(data, 1, s=2)
    n.cat = L.Concat(n.a, n.b)
    with pytest.raises(ReceptiveFieldError, match=r"layer 'cat' \(Concat\): its bottoms have different strides"):
        receptive_fields(n.to_proto())


def test_blob_behind_inner_product_has_no_field_and_the_error_names_the_layer():
    n = NetSpec()
    n.fc = L.InnerProduct(_input(n), num_output=2)
    n.relu = L.ReLU(n.fc, in_place=True)
    with pytest.raises(ReceptiveFieldError, match=r"'fc' has no receptive field: behind layer 'fc' \(InnerProduct\)"):
        receptive_field(n.to_proto(), 'fc')


def test_global_pooling_has_no_field():
    n = NetSpec()
    n.pool = L.Pooling(_input(n), pool=P.Pooling.AVE, global_pooling=True)
    with pytest.raises(ReceptiveFieldError, match='global pooling'):
        receptive_field(n.to_proto(), 'pool')


def test_each_input_gives_its_own_field():
    n = NetSpec()
    n.a = _conv(_input(n, 'color'), 3)
    n.b = _conv(_input(n, 'depth'), 5)
    n.fused = L.Eltwise(n.a, n.b)
    net = n.to_proto()
    assert receptive_field(net, 'fused', 'color').size == 3
    assert receptive_field(net, 'fused', 'depth').size == 5
    with pytest.raises(ReceptiveFieldError, match='several inputs'):
        receptive_field(net, 'fused')


def test_max_stride_is_the_coarsest_blob():
    n = NetSpec()
    n.down = _conv(_input(n), 2, s=2)
    n.down2 = _conv(n.down, 2, s=3)
    n.up = L.Deconvolution(n.down2, convolution_param=dict(num_output=1, kernel_size=6, stride=6))
    assert max_stride(n.to_proto()) == 6


def test_conv_depth_follows_the_longest_path():
    n = NetSpec()
    data = _input(n)
    n.a = _conv(_conv(_conv(data, 1), 1), 1)
    n.b = _conv(data, 1)
    n.relu = L.ReLU(n.b, in_place=True)
    n.cat = L.Concat(n.a, n.relu)
    n.up = L.Deconvolution(n.cat, convolution_param=dict(num_output=1, kernel_size=2, stride=2))
    net = n.to_proto()
    assert (conv_depth(net, 'b'), conv_depth(net, 'cat'), conv_depth(net, 'up')) == (1, 3, 3)
    assert conv_depth(net, 'up', counted=('Convolution', 'Deconvolution')) == 4


def _skip_net(batch, size):
    """A small FCN: conv pad, max pool, conv, 2x upsampling fused with a skip, crop back to the input."""
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[batch, 1, size, size]))
    n.c1 = _conv(n.data, 3, p=5)
    n.relu1 = L.ReLU(n.c1, in_place=True)
    n.p1 = L.Pooling(n.c1, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    n.c2 = _conv(n.p1, 4, s=2)
    n.up = L.Deconvolution(n.c2, convolution_param=dict(num_output=1, kernel_size=4, stride=2, bias_term=False))
    n.skip = _conv(n.p1, 1, p=1)
    n.skipc = crop(n.skip, n.up)
    n.fuse = L.Eltwise(n.up, n.skipc)
    n.up2 = L.Deconvolution(n.fuse, convolution_param=dict(num_output=1, kernel_size=4, stride=2, bias_term=False))
    n.score = crop(n.up2, n.data)
    return n.to_proto()


def test_field_is_exactly_the_pixels_that_change_the_unit(one_thread):
    """The runtime, positive weights, zero biases: a one-pixel impulse at row x reaches unit (y, c) exactly when
    x lies in the unit's field (within the image); every impulse runs in one batch."""
    from runtime import Net
    size = 40
    net = Net(_skip_net(size, size))
    with torch.no_grad():
        for blobs in net.params.values():
            blobs[0].uniform_(0.5, 1.0)
            for b in blobs[1:]:
                b.zero_()
    impulses = np.zeros((size, 1, size, size), np.float32)
    impulses[np.arange(size), 0, np.arange(size), size // 2] = 1
    out = net.forward(data=impulses)
    for blob in ('c2', 'up', 'fuse', 'score'):
        field = receptive_field(net.net_param, blob)
        value = net.blobs[blob][:, 0, :, :].numpy()
        for y in range(value.shape[1]):
            reached = set(np.nonzero(value[:, y, :].max(axis=1) > 0)[0].tolist())
            window = field.window(y)
            expected = set() if window is None else set(range(max(window[0], 0), min(window[1], size - 1) + 1))
            assert reached == expected, (blob, y, window)
    assert out['score'].shape[2:] == (size, size)
