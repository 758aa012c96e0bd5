"""Caffe's size rules: the shapes of a layer's tops from its LayerParameter and its bottoms' shapes (each layer's
Reshape in Caffe).

Each type's rule is part of its record (netspec.layertypes); this module holds what the rules share: the lengths
along one axis and the settings as the rules read them, which the runtime's layers read too (kernel, stride, pad,
crop offsets, axes). `netspec.shapes.infer_shapes` walks a net with the rules.

    top_shapes(layer_param, bottom_shapes) -> [top shape, ...]    the rule of the layer's type (its record)
    conv_size / deconv_size / pooled_size                         the output length along one axis
    conv_geometry, conv_window, pool_geometry, pool_window, crop_offsets, ...  the settings as the rules read them

A rule raises ShapeError with a message that does not name the layer; the caller adds that (netspec as
"layer 'x' (Crop): ...", the runtime as "layer 'x' (type Crop): ...").
"""
import math
from collections import namedtuple

from . import caffe_pb2

__all__ = ['ShapeError', 'top_shapes', 'rule_for', 'conv_size', 'deconv_size', 'pooled_size', 'canonical_axis',
           'ConvGeometry', 'conv_geometry', 'conv_window', 'PoolGeometry', 'pool_geometry', 'pool_window',
           'spp_levels', 'crop_offsets', 'concat_axis', 'flatten_axes', 'inner_product_geometry', 'scale_axes',
           'slice_points', 'input_shapes', 'like_bottom', 'reshape_shape']

class ShapeError(ValueError):
    """A layer whose settings or bottoms do not fit its rule (a crop window past the edge, an empty output, ...)."""


# ------------------------------------------------------------------------------------------ lengths along one axis

def conv_size(size, kernel, stride=1, pad=0, dilation=1):
    """Convolution: floor((size + 2 pad - (dilation (kernel - 1) + 1)) / stride) + 1."""
    return (size + 2 * pad - (dilation * (kernel - 1) + 1)) // stride + 1


def deconv_size(size, kernel, stride=1, pad=0, dilation=1):
    """Deconvolution: stride (size - 1) + dilation (kernel - 1) + 1 - 2 pad."""
    return stride * (size - 1) + dilation * (kernel - 1) + 1 - 2 * pad


def pooled_size(size, kernel, stride=1, pad=0, ceil=True):
    """Pooling (pooling_layer.cpp): ceil((size + 2 pad - kernel) / stride) + 1 for round_mode CEIL (the default),
    floor for FLOOR; with padding, a last window that would start in the padding past the image is dropped
    ((out - 1) stride >= size + pad gives out - 1)."""
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


# ------------------------------------------------------------------------------------------------ reading settings

def canonical_axis(axis, ndim, what='axis'):
    """Caffe's CanonicalAxisIndex: a negative axis counts from the end."""
    if not -ndim <= axis < ndim:
        raise ShapeError(f'{what} {axis} is out of range for a {ndim}-axis blob')
    return axis % ndim


def _count(shape, start=0, end=None):
    return math.prod(shape[start:end])


def _per_axis(param, name, nsp, default, hw=None):
    """One of kernel/stride/pad/dilation per spatial axis, from the repeated field or its _h/_w pair."""
    values = getattr(param, name)
    if hw is not None and (param.HasField(hw[0]) or param.HasField(hw[1])):
        if nsp != 2:
            raise ShapeError(f'{hw[0]}/{hw[1]} can only be used for 2-D convolution')
        if len(values):
            raise ShapeError(f'give either {name} or {hw[0]}/{hw[1]}, not both')
        if name == 'kernel_size' and not (param.HasField(hw[0]) and param.HasField(hw[1])):
            raise ShapeError('kernel_h and kernel_w must both be given')
        return (getattr(param, hw[0]), getattr(param, hw[1]))
    if len(values) == 0:
        if default is None:
            raise ShapeError(f'{name} is required')
        return (default,) * nsp
    if len(values) == 1:
        return (int(values[0]),) * nsp
    if len(values) != nsp:
        raise ShapeError(f'{name} has {len(values)} values; give 1 or {nsp} (one per spatial axis)')
    return tuple(int(v) for v in values)


#: A Convolution's or Deconvolution's settings, one value per spatial axis; `axis` is the channel axis (the axes
#: before it are batch axes, the axes after it spatial).
ConvGeometry = namedtuple('ConvGeometry', 'num_output kernel stride pad dilation axis')


def conv_geometry(param, bottom_shapes):
    """The ConvGeometry of a convolution_param over these bottoms (all of one shape): the channel axis `axis`
    (default 1, negative from the end), every axis after it spatial (one or more: Caffe's CPU build computes any
    number through im2col_nd)."""
    shape = tuple(bottom_shapes[0])
    if any(tuple(s) != shape for s in bottom_shapes[1:]):
        raise ShapeError(f'all bottoms must have the same shape, got {[tuple(s) for s in bottom_shapes]}')
    axis = canonical_axis(param.axis, len(shape), 'convolution_param.axis')
    nsp = len(shape) - axis - 1
    if nsp < 1:
        raise ShapeError(f'needs at least one spatial axis after the channel axis {axis}, got shape {shape}')
    window = conv_window(param, nsp)
    if not param.HasField('num_output') or param.num_output == 0:
        raise ShapeError('convolution_param.num_output must be given and positive')
    return ConvGeometry(param.num_output, *window, axis)


def conv_window(param, nsp=2):
    """(kernel, stride, pad, dilation) of a convolution_param, one value per each of `nsp` spatial axes, checked
    (the part of conv_geometry that does not depend on the bottoms; netspec.receptive reads it)."""
    kernel = _per_axis(param, 'kernel_size', nsp, None, ('kernel_h', 'kernel_w'))
    stride = _per_axis(param, 'stride', nsp, 1, ('stride_h', 'stride_w'))
    pad = _per_axis(param, 'pad', nsp, 0, ('pad_h', 'pad_w'))
    dilation = _per_axis(param, 'dilation', nsp, 1)
    if any(k <= 0 for k in kernel):
        raise ShapeError(f'kernel size must be positive, got {kernel}')
    if any(s <= 0 for s in stride):
        raise ShapeError(f'stride must be positive, got {stride}')
    return kernel, stride, pad, dilation


#: A Pooling's settings, (height, width) pairs; kernel is None with global_pooling (the whole map).
PoolGeometry = namedtuple('PoolGeometry', 'kernel stride pad ceil global_pooling')


def pool_geometry(param, bottom_shape):
    """The PoolGeometry of a pooling_param over an N x C x H x W bottom, checked as Caffe's LayerSetUp checks it."""
    if len(bottom_shape) != 4:
        raise ShapeError(f'needs a 4-axis bottom (N, C, H, W), got shape {tuple(bottom_shape)}')
    p = param
    if p.global_pooling:
        if p.HasField('kernel_size') or p.HasField('kernel_h') or p.HasField('kernel_w'):
            raise ShapeError('with global_pooling the kernel size cannot be given')
    else:
        if p.HasField('kernel_size') == (p.HasField('kernel_h') or p.HasField('kernel_w')):
            raise ShapeError('give either kernel_size or kernel_h and kernel_w')
        if not p.HasField('kernel_size') and not (p.HasField('kernel_h') and p.HasField('kernel_w')):
            raise ShapeError('kernel_h and kernel_w must both be given')
    if p.HasField('pad') and (p.HasField('pad_h') or p.HasField('pad_w')):
        raise ShapeError('give either pad or pad_h and pad_w')
    if p.HasField('stride') and (p.HasField('stride_h') or p.HasField('stride_w')):
        raise ShapeError('give either stride or stride_h and stride_w')
    pad = (p.pad_h, p.pad_w) if not p.HasField('pad') else (p.pad, p.pad)
    stride = (p.stride_h, p.stride_w) if (p.HasField('stride_h') or p.HasField('stride_w')) else (p.stride, p.stride)
    kernel = None if p.global_pooling else \
        (p.kernel_size, p.kernel_size) if p.HasField('kernel_size') else (p.kernel_h, p.kernel_w)
    if p.global_pooling and (any(pad) or any(s != 1 for s in stride)):
        raise ShapeError('with global_pooling, pad must be 0 and stride 1')
    if any(s <= 0 for s in stride):
        raise ShapeError(f'stride must be positive, got {stride}')
    return PoolGeometry(kernel, stride, pad, p.round_mode == caffe_pb2.PoolingParameter.CEIL, bool(p.global_pooling))


def pool_window(geometry, spatial):
    """(kernel, output size) of a pooling over a map of `spatial` (height, width)."""
    g = geometry
    kernel = tuple(spatial) if g.global_pooling else g.kernel
    if any(k <= 0 for k in kernel):
        raise ShapeError(f'kernel size must be positive, got {kernel}')
    if any(p >= k for p, k in zip(g.pad, kernel)):
        raise ShapeError(f'pad {g.pad} must be smaller than the kernel {kernel}')
    out = tuple(pooled_size(n, k, s, p, g.ceil) for n, k, s, p in zip(spatial, kernel, g.stride, g.pad))
    return kernel, out


def spp_levels(param, bottom_shape):
    """The PoolGeometry of each level of an SPP layer over an N x C x H x W bottom (SPPLayer::GetPoolingParam):
    level l has 2^l bins; kernel ceil(size / bins), stride the kernel, pad (kernel bins - size + 1) // 2."""
    if len(bottom_shape) != 4:
        raise ShapeError(f'needs a 4-axis bottom (N, C, H, W), got shape {tuple(bottom_shape)}')
    if param.pyramid_height < 1:
        raise ShapeError(f'pyramid_height must be positive, got {param.pyramid_height}')
    out = []
    for level in range(param.pyramid_height):
        bins = 2 ** level
        kernel = tuple(-(-n // bins) for n in bottom_shape[2:])
        pad = tuple((k * bins - n + 1) // 2 for k, n in zip(kernel, bottom_shape[2:]))
        out.append(PoolGeometry(kernel, kernel, pad, True, False))
    return out


def crop_offsets(param, bottom_shapes):
    """(axis, offsets): the first cropped axis and the offset on every axis (0 before `axis`)."""
    nd = len(bottom_shapes[0])
    if len(bottom_shapes[1]) != nd:
        raise ShapeError(f'bottoms have {nd} and {len(bottom_shapes[1])} axes; they must have the same number')
    axis = canonical_axis(param.axis, nd)
    ncrop = nd - axis
    offsets = list(param.offset)
    if len(offsets) == 0:
        offsets = [0] * ncrop
    elif len(offsets) == 1:
        offsets = offsets * ncrop
    elif len(offsets) != ncrop:
        raise ShapeError(f'crop_param has {len(offsets)} offsets; give 1, or {ncrop} (one per axis from axis {axis} '
                         'on)')
    return axis, [0] * axis + [int(o) for o in offsets]


def concat_axis(param, ndim):
    """The concatenation axis (the legacy concat_dim when given)."""
    return param.concat_dim if param.HasField('concat_dim') else canonical_axis(param.axis, ndim)


def flatten_axes(param, ndim):
    """(first, last) axis that Flatten merges."""
    return canonical_axis(param.axis, ndim), canonical_axis(param.end_axis, ndim, 'end_axis')


def inner_product_geometry(param, bottom_shape):
    """(axis, num_output): the axes from `axis` on are the inputs."""
    if not param.HasField('num_output') or param.num_output == 0:
        raise ShapeError('inner_product_param.num_output must be given and positive')
    return canonical_axis(param.axis, len(bottom_shape)), param.num_output


def scale_axes(param, bottom_shapes):
    """(axis, scale shape) of a Scale layer: the learned scale covers [axis, axis + num_axes) of bottom 0; with two
    bottoms, bottom 1 is the scale and must match bottom 0 from `axis` on."""
    shape = tuple(bottom_shapes[0])
    if len(bottom_shapes) == 1:
        axis = canonical_axis(param.axis, len(shape))
        if param.num_axes < -1:
            raise ShapeError(f'num_axes must be >= -1, got {param.num_axes}')
        nax = len(shape) - axis if param.num_axes == -1 else param.num_axes
        if axis + nax > len(shape):
            raise ShapeError(f'axis {axis} + num_axes {nax} exceed the bottom\'s {len(shape)} axes')
        return axis, shape[axis:axis + nax]
    scale = tuple(bottom_shapes[1])
    axis = 0 if len(scale) == 0 else canonical_axis(param.axis, len(shape))
    if shape[axis:axis + len(scale)] != scale:
        raise ShapeError(f'the scale shape {scale} does not match the bottom shape {shape} from axis {axis} on')
    return axis, scale


def input_shapes(lp):
    """The shapes of an Input layer's tops: one input_param shape for all, or one per top."""
    shapes = [tuple(int(d) for d in s.dim) for s in lp.input_param.shape]
    nt = len(lp.top)
    if len(shapes) not in (1, nt):
        raise ShapeError(f'input_param has {len(shapes)} shapes for {nt} tops (give one, or one per top)')
    return shapes * nt if len(shapes) == 1 else shapes


# ---------------------------------------------------------------------------------------------------------- rules

def like_bottom(lp, bottoms):
    """The rule of a layer whose tops have bottom 0's shape."""
    if not bottoms:
        raise ShapeError('needs a bottom')
    return [tuple(bottoms[0])] * len(lp.top)


def slice_points(param, shape, ntop):
    """(axis, slice points) of a slice_param over a bottom of `shape` into `ntop` tops: the given points, or equal
    parts when none are given."""
    axis = param.slice_dim if param.HasField('slice_dim') else canonical_axis(param.axis, len(shape))
    if not 0 <= axis < len(shape):
        raise ShapeError(f'slice axis {axis} is out of range for a {len(shape)}-axis bottom')
    n = shape[axis]
    points = [int(p) for p in param.slice_point]
    if points:
        if len(points) != ntop - 1:
            raise ShapeError(f'{len(points)} slice points for {ntop} tops (give one fewer than the tops)')
        if any(b <= a for a, b in zip([0] + points, points + [n])):
            raise ShapeError(f'slice points {points} must increase strictly within (0, {n}) on axis {axis}')
        return axis, points
    if n % ntop:
        raise ShapeError(f'cannot slice {n} items on axis {axis} into {ntop} equal parts')
    return axis, [n // ntop * i for i in range(1, ntop)]


def reshape_shape(lp, bottoms):
    """Caffe's Reshape: dims 0 copy the bottom's dim, one -1 is inferred; `axis`/`num_axes` select the replaced
    range."""
    p = lp.reshape_param
    dims = [int(d) for d in p.shape.dim]
    if sum(d == -1 for d in dims) > 1:
        raise ShapeError('reshape_param.shape has more than one -1 dimension')
    if any(d < -1 for d in dims):
        raise ShapeError(f'reshape_param.shape has an invalid dimension in {dims}')
    if p.num_axes < -1:
        raise ShapeError(f'num_axes must be >= -1, got {p.num_axes}')
    s = tuple(bottoms[0])
    n = len(s)
    start = p.axis if p.axis >= 0 else n + p.axis + 1
    if not 0 <= start <= n:
        raise ShapeError(f'axis {p.axis} is out of range for a {n}-axis bottom')
    end = n if p.num_axes == -1 else start + p.num_axes
    if end > n:
        raise ShapeError(f'axis {p.axis} + num_axes {p.num_axes} exceed the bottom\'s {n} axes')
    new = []
    for i, d in enumerate(dims):
        if d == 0:
            if start + i >= n:
                raise ShapeError(f'dimension {i} copies axis {start + i}, which the bottom lacks')
            new.append(s[start + i])
        else:
            new.append(d)
    out = list(s[:start]) + new + list(s[end:])
    if -1 in out:
        known = _count([d for d in out if d != -1])
        total = _count(s)
        if known == 0 or total % known:
            raise ShapeError(f'cannot infer the -1 dimension: {total} values into {out}')
        out[out.index(-1)] = total // known
    if _count(out) != _count(s):
        raise ShapeError(f'cannot reshape {s} ({_count(s)} values) to {tuple(out)} ({_count(out)} values)')
    return [tuple(out)]



def rule_for(layer_type):
    """The size rule of a layer type (its record's), or None when it has none (or no record)."""
    from .layertypes import LAYER_TYPES
    record = LAYER_TYPES.get(layer_type)
    return None if record is None else record.tops


def top_shapes(lp, bottom_shapes):
    """The shapes of `lp`'s tops for these bottom shapes, by the rule of its type (the bottom and top counts
    checked first, as Caffe's Layer::CheckBlobCounts)."""
    from .layertypes import LAYER_TYPES
    record = LAYER_TYPES.get(lp.type)
    if record is None or record.tops is None:
        raise ShapeError('no size rule for this layer type')
    wrong = record.count_error(len(bottom_shapes), len(lp.top))
    if wrong:
        raise ShapeError(wrong)
    return record.tops(lp, bottom_shapes)
