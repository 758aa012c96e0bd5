"""Records of the spatial layers: Convolution, Deconvolution, Im2col, Pooling, SPP, LRN, Crop."""
import math

from .. import sizes
from ..sizes import ShapeError, conv_geometry, conv_size, deconv_size, pool_geometry, pool_window
from .record import ANY, OFFSET, SAME, LayerType, NoWindow, define, upsample, window


def _conv_settings(lp, nsp):
    p = lp.convolution_param
    if p.axis != 1:
        raise ShapeError(f'convolution over channel axis {p.axis}: coordinate maps and receptive fields follow '
                         'channel axis 1 only')
    kernel, stride, pad, dilation = sizes.conv_window(p, nsp)
    return tuple((d * (k - 1) + 1, s, q) for k, s, q, d in zip(kernel, stride, pad, dilation))


def _pool_settings(lp, nsp):
    if lp.pooling_param.global_pooling:
        raise NoWindow('global pooling sees the whole input, whatever its size')
    g = pool_geometry(lp.pooling_param, (1, 1) + (1,) * nsp)
    return tuple(zip(g.kernel, g.stride, g.pad))


def _convolution(lp, bottoms, size=conv_size):
    """bottom[:axis] + (num_output,) + each spatial axis's output size."""
    g = conv_geometry(lp.convolution_param, bottoms)
    first = g.axis + 1
    out = []
    for s in bottoms:
        sp = tuple(size(s[first + i], k, st, p, d) for i, (k, st, p, d) in
                   enumerate(zip(g.kernel, g.stride, g.pad, g.dilation)))
        if any(v <= 0 for v in sp):
            raise ShapeError(f'bottom shape {tuple(s)} gives an empty output: size {sp}')
        out.append(tuple(s[:g.axis]) + (g.num_output,) + sp)
    return out


def _deconvolution(lp, bottoms):
    return _convolution(lp, bottoms, deconv_size)


def _conv_blobs(lp, bottoms, transposed=False):
    p = lp.convolution_param
    g = conv_geometry(p, bottoms)
    cin, cout = bottoms[0][g.axis], g.num_output
    if cin % p.group or cout % p.group:
        raise ShapeError(f'group {p.group} must divide the input channels ({cin}) and num_output ({cout})')
    w = (cin, cout // p.group) + g.kernel if transposed else (cout, cin // p.group) + g.kernel
    return [w] + ([(cout,)] if p.bias_term else [])


def _deconv_blobs(lp, bottoms):
    return _conv_blobs(lp, bottoms, transposed=True)


def _im2col(lp, bottoms):
    """bottom[:axis] + (C * kernel count,) + each spatial axis's output size (Caffe's Im2colLayer)."""
    s = tuple(bottoms[0])
    p = lp.convolution_param
    axis = sizes.canonical_axis(p.axis, len(s), 'convolution_param.axis')
    nsp = len(s) - axis - 1
    if nsp < 1:
        raise ShapeError(f'needs at least one spatial axis after the channel axis {axis}, got shape {s}')
    kernel, stride, pad, dilation = sizes.conv_window(p, nsp)
    sp = tuple(conv_size(s[axis + 1 + i], k, st, q, d)
               for i, (k, st, q, d) in enumerate(zip(kernel, stride, pad, dilation)))
    if any(v <= 0 for v in sp):
        raise ShapeError(f'bottom shape {s} gives an empty output: size {sp}')
    return [s[:axis] + (s[axis] * math.prod(kernel),) + sp]


def _pooling(lp, bottoms):
    s = tuple(bottoms[0])
    _, out = pool_window(pool_geometry(lp.pooling_param, s), s[2:])
    if any(o <= 0 for o in out):
        raise ShapeError(f'bottom shape {s} gives an empty output: size {out}')
    return [s[:2] + out] * len(lp.top)    # the optional second top (MAX's argmax mask) has the same shape


def _spp(lp, bottoms):
    """pyramid_height 1: the one pooling's output; else each level's pooled map flattened, concatenated."""
    s = tuple(bottoms[0])
    levels = sizes.spp_levels(lp.spp_param, s)
    outs = [pool_window(g, s[2:])[1] for g in levels]
    if len(levels) == 1:
        return [s[:2] + outs[0]]
    return [(s[0], s[1] * sum(h * w for h, w in outs))]


def _crop(lp, bottoms):
    a, b = (tuple(s) for s in bottoms)
    axis, offsets = sizes.crop_offsets(lp.crop_param, bottoms)
    for i in range(axis, len(a)):
        if a[i] - offsets[i] < b[i]:
            raise ShapeError(f'cannot crop {lp.bottom[0]!r}: it is {a[i]} long on axis {i}, too short for offset '
                             f'{offsets[i]} + {lp.bottom[1]!r}\'s {b[i]} (bottom shapes {a} and {b})')
    return [a[:axis] + b[axis:]]


define(LayerType('Convolution', ('convolution_param',), _convolution, _conv_blobs, window(_conv_settings),
                 bottoms=(1, ANY), top_count=(1, ANY)))
define(LayerType('Deconvolution', ('convolution_param',), _deconvolution, _deconv_blobs, upsample(_conv_settings),
                 bottoms=(1, ANY), top_count=(1, ANY)))
define(LayerType('Im2col', ('convolution_param',), _im2col, spatial=window(_conv_settings)))
define(LayerType('Pooling', ('pooling_param',), _pooling, spatial=window(_pool_settings), top_count=(1, 2)))
define(LayerType('SPP', ('spp_param',), _spp))
define(LayerType('LRN', ('lrn_param',), sizes.like_bottom, spatial=SAME))
define(LayerType('Crop', ('crop_param',), _crop, spatial=OFFSET, bottoms=(2, 2), no_diff=(1,)))
