"""Records of the layers that combine, reshape, normalize or select: InnerProduct, Eltwise, Scale, Bias, BatchNorm,
MVN, Concat, Slice, Split, Flatten, Reshape, Silence, Tile, Reduction, Embed, Filter, BatchReindex, Parameter,
Softmax, ArgMax."""
import math

from .. import sizes
from ..sizes import ShapeError, canonical_axis, like_bottom
from .record import ANY, CONCAT, SAME, LayerType, define


def _eltwise(lp, bottoms):
    first = tuple(bottoms[0])
    if any(tuple(s) != first for s in bottoms[1:]):
        raise ShapeError(f'bottoms must have the same shape, got {[tuple(b) for b in bottoms]}')
    return [first]


def _scale(lp, bottoms):
    sizes.scale_axes(lp.scale_param, bottoms)
    return [tuple(bottoms[0])]


def _scale_blobs(lp, bottoms):
    _, shape = sizes.scale_axes(lp.scale_param, bottoms)
    if len(bottoms) == 2:
        return [shape] if lp.scale_param.bias_term else []
    return [shape] + ([shape] if lp.scale_param.bias_term else [])


def _bias(lp, bottoms):
    sizes.scale_axes(lp.bias_param, bottoms)
    return [tuple(bottoms[0])]


def _bias_blobs(lp, bottoms):
    if len(bottoms) == 2:
        return []
    return [sizes.scale_axes(lp.bias_param, bottoms)[1]]


def _batch_norm_blobs(lp, bottoms):
    s = tuple(bottoms[0])
    c = 1 if len(s) == 1 else s[1]
    return [(c,), (c,), (1,)]


def _inner_product(lp, bottoms):
    s = tuple(bottoms[0])
    axis, n = sizes.inner_product_geometry(lp.inner_product_param, s)
    return [s[:axis] + (n,)]


def _inner_product_blobs(lp, bottoms):
    p = lp.inner_product_param
    s = tuple(bottoms[0])
    axis, n = sizes.inner_product_geometry(p, s)
    k = math.prod(s[axis:])
    return [(k, n) if p.transpose else (n, k)] + ([(n,)] if p.bias_term else [])


def _concat(lp, bottoms):
    first = tuple(bottoms[0])
    axis = sizes.concat_axis(lp.concat_param, len(first))
    total = 0
    for s in bottoms:
        if len(s) != len(first) or any(s[i] != first[i] for i in range(len(first)) if i != axis):
            raise ShapeError(f'bottoms {[tuple(b) for b in bottoms]} differ outside the concat axis {axis}')
        total += s[axis]
    return [first[:axis] + (total,) + first[axis + 1:]]


def _slice(lp, bottoms):
    s = tuple(bottoms[0])
    axis, points = sizes.slice_points(lp.slice_param, s, len(lp.top))
    bounds = [0] + points + [s[axis]]
    return [s[:axis] + (b - a,) + s[axis + 1:] for a, b in zip(bounds, bounds[1:])]


def _split(lp, bottoms):
    return [tuple(bottoms[0])] * len(lp.top)


def _flatten(lp, bottoms):
    s = tuple(bottoms[0])
    start, end = sizes.flatten_axes(lp.flatten_param, len(s))
    return [s[:start] + (math.prod(s[start:end + 1]),) + s[end + 1:]]


def _silence(lp, bottoms):
    return []


def _tile(lp, bottoms):
    s = tuple(bottoms[0])
    p = lp.tile_param
    axis = canonical_axis(p.axis, len(s))
    if not p.HasField('tiles') or p.tiles <= 0:
        raise ShapeError('tile_param.tiles must be given and positive')
    return [s[:axis] + (s[axis] * p.tiles,) + s[axis + 1:]]


def _reduction(lp, bottoms):
    s = tuple(bottoms[0])
    return [s[:canonical_axis(lp.reduction_param.axis, len(s))]]


def _embed(lp, bottoms):
    p = lp.embed_param
    if not p.num_output or not p.input_dim:
        raise ShapeError('embed_param.num_output and input_dim must be given and positive')
    return [tuple(bottoms[0]) + (p.num_output,)]


def _embed_blobs(lp, bottoms):
    p = lp.embed_param
    return [(p.input_dim, p.num_output)] + ([(p.num_output,)] if p.bias_term else [])


def _filter(lp, bottoms):
    """The filtered bottoms keep their shapes but for axis 0, whose length is the number of nonzero selectors (only
    known from the selector's values: before any, every item is kept)."""
    selector = tuple(bottoms[-1])
    if len(lp.top) != len(bottoms) - 1:
        raise ShapeError(f'needs one top per filtered bottom ({len(bottoms) - 1}), has {len(lp.top)}')
    if len(selector) < 1 or math.prod(selector[1:]) != 1:
        raise ShapeError(f'the selector (last bottom) must be N or N x 1 x ..., got shape {selector}')
    for s in bottoms[:-1]:
        if s[0] != selector[0]:
            raise ShapeError(f'a filtered bottom of shape {tuple(s)} does not have the selector\'s {selector[0]} '
                             'items')
    return [tuple(s) for s in bottoms[:-1]]


def _batch_reindex(lp, bottoms):
    s, permut = tuple(bottoms[0]), tuple(bottoms[1])
    if len(permut) != 1:
        raise ShapeError(f'the index bottom must have one axis, got shape {permut}')
    return [(permut[0],) + s[1:]]


def _parameter(lp, bottoms):
    return [tuple(int(d) for d in lp.parameter_param.shape.dim)]


def _parameter_blobs(lp, bottoms):
    return _parameter(lp, bottoms)


def _argmax(lp, bottoms):
    p = lp.argmax_param
    s = tuple(bottoms[0])
    if p.top_k < 1:
        raise ShapeError(f'top_k must be at least 1, got {p.top_k}')
    if not p.HasField('axis'):    # Caffe: max(3, axes) axes, (N, 1 or 2, top_k, 1, ...)
        if p.top_k > math.prod(s[1:]):
            raise ShapeError(f'top_k {p.top_k} exceeds the {math.prod(s[1:])} values per item')
        return [(s[0], 2 if p.out_max_val else 1, p.top_k) + (1,) * (len(s) - 3)]
    axis = canonical_axis(p.axis, len(s))
    if p.top_k > s[axis]:
        raise ShapeError(f'top_k {p.top_k} exceeds the {s[axis]} values along axis {axis}')
    return [s[:axis] + (p.top_k,) + s[axis + 1:]]


define(LayerType('InnerProduct', ('inner_product_param',), _inner_product, _inner_product_blobs))
define(LayerType('Eltwise', ('eltwise_param',), _eltwise, spatial=SAME, bottoms=(2, ANY)))
define(LayerType('Scale', ('scale_param',), _scale, _scale_blobs, SAME, bottoms=(1, 2)))
define(LayerType('Bias', ('bias_param',), _bias, _bias_blobs, SAME, bottoms=(1, 2)))
define(LayerType('BatchNorm', ('batch_norm_param',), like_bottom, _batch_norm_blobs, SAME))
define(LayerType('MVN', ('mvn_param',), like_bottom, spatial=SAME))
define(LayerType('Concat', ('concat_param',), _concat, spatial=CONCAT, bottoms=(1, ANY)))
define(LayerType('Slice', ('slice_param',), _slice, top_count=(1, ANY)))
define(LayerType('Split', (), _split, spatial=SAME, top_count=(1, ANY), in_place=False))
define(LayerType('Flatten', ('flatten_param',), _flatten, in_place=False))
define(LayerType('Reshape', ('reshape_param',), sizes.reshape_shape, in_place=False))
define(LayerType('Silence', (), _silence, bottoms=(1, ANY), top_count=(0, 0)))
define(LayerType('Tile', ('tile_param',), _tile))
define(LayerType('Reduction', ('reduction_param',), _reduction))
define(LayerType('Embed', ('embed_param',), _embed, _embed_blobs, no_diff=(0,)))   # indices: Caffe has no diff
define(LayerType('Filter', (), _filter, bottoms=(2, ANY), top_count=(1, ANY)))
define(LayerType('BatchReindex', (), _batch_reindex, bottoms=(2, 2), no_diff=(1,)))
define(LayerType('Parameter', ('parameter_param',), _parameter, _parameter_blobs, bottoms=(0, 0)))
define(LayerType('Softmax', ('softmax_param',), like_bottom))
define(LayerType('ArgMax', ('argmax_param',), _argmax, backward=False))
