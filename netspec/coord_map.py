"""Coordinate maps between blobs, and crop(): Caffe's python/caffe/coord_map.py, in exact arithmetic.

Each layer maps its top's spatial coordinates to its bottom's as x_bottom = a * x_top + b (per spatial axis):
- Convolution / Pooling (kernel k, stride s, pad p, dilation d; k' = d(k-1)+1): a = s, b = (k'-1)/2 - p, i.e. the
  top-to-bottom direction of Caffe's (scale 1/s, shift (p - (k'-1)/2)/s).
- Deconvolution: a = 1/s, b = (p - (k'-1)/2)/s (the inverse of the conv map).
- Crop: a = 1, b = offset (only the first bottom is walked; the second gives only the shape).
- Pass-through layers (ReLU, Dropout, LRN, Eltwise, Scale, Concat over channels, ...): identity.
crop(top, reference) walks back from both blobs to their nearest common ancestor, composes the maps, and emits a
Crop layer whose offset is where the reference's origin falls in `top`. Numbers are Fractions, so "integral" is exact.
"""
from fractions import Fraction

from .dsl import Top, layers as L
from .sizes import PASS_THROUGH

__all__ = ['crop', 'coord_map_from_to', 'CropError', 'PASS_THROUGH_LAYERS']

# Caffe's list (kept once, in netspec.sizes); Concat over batch or channels is handled as identity too (GoogLeNet's
# inception outputs).
PASS_THROUGH_LAYERS = PASS_THROUGH
_CONV_LIKE = {'Convolution', 'Pooling', 'Im2col'}


class CropError(ValueError):
    """No valid crop between two blobs (unrelated blobs, scale mismatch, negative or fractional offset)."""


class _Undefined(Exception):
    pass


def _one(value, what, fn):
    if isinstance(value, (list, tuple)):
        if len(set(value)) > 1:
            raise CropError(f'{_desc_fn(fn)}: per-axis {what} {list(value)} is not supported by crop '
                            f'(one value for both spatial axes)')
        value = value[0] if value else None
    return value


def _settings(fn, own):
    return fn.params.get(own, fn.params)


def _conv_geometry(fn):
    p = _settings(fn, 'pooling_param' if fn.type_name == 'Pooling' else 'convolution_param')
    legacy = {'pad_h', 'pad_w', 'kernel_h', 'kernel_w', 'stride_h', 'stride_w'} & set(p)
    if legacy:
        raise CropError(f'{_desc_fn(fn)}: crop does not support the per-axis settings {sorted(legacy)}')
    if p.get('global_pooling'):
        raise _Undefined
    if p.get('axis', 1) != 1:
        raise CropError(f'{_desc_fn(fn)}: crop supports convolution over axis 1 only')
    k = _one(p.get('kernel_size'), 'kernel_size', fn)
    if k is None:
        raise CropError(f'{_desc_fn(fn)}: no kernel_size, so its coordinate map is unknown')
    s = _one(p.get('stride', 1), 'stride', fn)
    pad = _one(p.get('pad', 0), 'pad', fn)
    d = _one(p.get('dilation', 1), 'dilation', fn)
    return Fraction(s), Fraction((int(k) - 1) * int(d) + 1), Fraction(pad)


def _layer_map(fn):
    """(a, b) with x_bottom = a * x_top + b for the (first) bottom of fn; raises _Undefined where unknown."""
    t = fn.type_name
    if t in _CONV_LIKE:
        s, k, p = _conv_geometry(fn)
        return s, (k - 1) / 2 - p
    if t == 'Deconvolution':
        s, k, p = _conv_geometry(fn)
        return 1 / s, (p - (k - 1) / 2) / s
    if t in PASS_THROUGH_LAYERS:
        return Fraction(1), Fraction(0)
    if t == 'Concat':
        p = _settings(fn, 'concat_param')
        if p.get('concat_dim', p.get('axis', 1)) in (0, 1, -3, -4):   # batch or channels: same grid
            return Fraction(1), Fraction(0)
        raise _Undefined
    if t == 'Crop':
        p = _settings(fn, 'crop_param')
        if p.get('axis', 2) != 2:
            raise CropError(f'{_desc_fn(fn)}: crop maps need Crop layers over the spatial axes (axis 2)')
        return Fraction(1), Fraction(_one(p.get('offset', 0), 'offset', fn))
    raise _Undefined


def _bottoms(top):
    fn = top.fn
    return fn.inputs[:1] if fn.type_name == 'Crop' else fn.inputs


def _desc_fn(fn):
    named = [t.name_hint for t in fn.tops if t.name_hint]
    return f'{fn.type_name} layer {named[0]!r}' if named else f'{fn.type_name} layer'


def _fmt(m):
    a, b = m
    return f'x = {a} y {"+" if b >= 0 else "-"} {abs(b)}'


def _ancestors(top):
    """{ancestor top: (a, b)} with x_ancestor = a * x_top + b, breadth-first so nearer ancestors come first."""
    maps = {top: (Fraction(1), Fraction(0))}
    order = [top]
    i = 0
    while i < len(order):
        cur = order[i]
        i += 1
        try:
            a, b = _layer_map(cur.fn)
        except _Undefined:
            continue
        ca, cb = maps[cur]
        for bottom in _bottoms(cur):
            m = (a * ca, a * cb + b)                 # x_bottom = a * (ca x + cb) + b
            if bottom not in maps:
                maps[bottom] = m
                order.append(bottom)
            elif maps[bottom] != m:
                raise CropError(f'{bottom.describe()} is reached from {top.describe()} along paths whose '
                                f'coordinate maps differ ({_fmt(maps[bottom])} vs {_fmt(m)}): the blobs merged on '
                                f'the way are not aligned')
    return maps, order


def coord_map_from_to(top_from, top_to):
    """(a, b) with x_from = a * x_to + b, through the nearest common ancestor of the two blobs."""
    for top, role in ((top_from, 'top'), (top_to, 'reference')):
        if not isinstance(top, Top):
            raise TypeError(f'crop: the {role} must be a Top, not {type(top).__name__}')
    from_maps, _ = _ancestors(top_from)
    to_maps, to_order = _ancestors(top_to)
    for anc in to_order:
        if anc in from_maps:
            fa, fb = from_maps[anc]   # x_anc = fa x_from + fb
            ta, tb = to_maps[anc]     # x_anc = ta x_to + tb
            return ta / fa, (tb - fb) / fa, anc
    raise CropError(f'cannot crop {top_from.describe()} to {top_to.describe()}: the two blobs share no ancestor '
                    f'through spatial layers (Convolution, Pooling, Deconvolution, Crop, pass-through), '
                    f'so their coordinates are unrelated')


def crop(top, reference):
    """A Crop layer cutting `top` to the spatial size of `reference`, offset computed from the layer geometry."""
    a, b, anc = coord_map_from_to(top, reference)
    where = f'cannot crop {top.describe()} to {reference.describe()} (common ancestor {anc.describe()})'
    if a != 1:
        sign = '+' if b >= 0 else '-'
        raise CropError(f'{where}: scale mismatch, x_top = {a} * x_reference {sign} {abs(b)}; the two blobs have '
                        f'different strides')
    if b < 0:   # checked before integrality, as Caffe's coord_map.crop does
        raise CropError(f'{where}: it would need a negative offset {b} '
                        f'(the first pixel of the reference lies before that of the top)')
    if b.denominator != 1:
        raise CropError(f'{where}: the offset {b} = {float(b)} is not integral')
    return L.Crop(top, reference, crop_param=dict(axis=2, offset=int(b)))
