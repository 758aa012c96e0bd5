"""Coordinate maps between blobs, and crop(): Caffe's python/caffe/coord_map.py, in exact arithmetic.

Each layer maps its top's spatial coordinates to its bottom's as x_bottom = a * x_top + b (per spatial axis), by the
Spatial kind of its type's record (netspec.layertypes):
- 'window', Convolution / Pooling / Im2col (kernel k, stride s, pad p, dilation d; k' = d(k-1)+1): a = s,
  b = (k'-1)/2 - p, i.e. the top-to-bottom direction of Caffe's (scale 1/s, shift (p - (k'-1)/2)/s).
- 'upsample', Deconvolution: a = 1/s, b = (p - (k'-1)/2)/s (the inverse of the conv map).
- 'offset', Crop: a = 1, b = offset (only the first bottom is walked; the second gives only the shape).
- 'same', the pass-through layers (ReLU, Dropout, LRN, Eltwise, Scale, ...), and 'concat' over batch or channels:
  identity.
crop(top, reference) walks back from both blobs to their nearest common ancestor, composes the maps, and emits a
Crop layer whose offset is where the reference's origin falls in `top`. Numbers are Fractions, so "integral" is exact.
"""
from fractions import Fraction

from . import caffe_pb2
from .dsl import Top, assign_proto, layers as L
from .layertypes import LAYER_TYPES, NoWindow, pass_through
from .sizes import ShapeError

__all__ = ['crop', 'coord_map_from_to', 'layer_map', 'CropError', 'PASS_THROUGH_LAYERS']

#: Caffe's pass-through list (the records whose Spatial is SAME)
PASS_THROUGH_LAYERS = pass_through()
_LEGACY = ('pad_h', 'pad_w', 'kernel_h', 'kernel_w', 'stride_h', 'stride_w')


class CropError(ValueError, AssertionError):
    """No valid crop between two blobs (unrelated blobs, scale mismatch, negative or fractional offset). It is also
    an AssertionError, as the assertions of Caffe's coord_map.crop raise."""


class _Undefined(Exception):
    pass


def _settings(fn, record):
    """A LayerParameter holding the settings of the call `fn` in its type's own message (record.params[0]), read
    as Caffe's coord_map reads them: from that message's dict when given, else from the call's keywords (which
    may then be flat even where NetSpec would not accept them, as for Deconvolution)."""
    field = record.params[0]
    lp = caffe_pb2.LayerParameter(type=fn.type_name)
    given = fn.params.get(field, fn.params)
    msg = getattr(lp, field)
    for key, value in given.items():
        if key in msg.DESCRIPTOR.fields_by_name:
            assign_proto(msg, key, value)
    return lp


def _window(fn, record):
    """(stride, dilated kernel extent, pad) of a window layer, one value for both spatial axes."""
    lp = _settings(fn, record)
    settings = getattr(lp, record.params[0])
    legacy = sorted(f for f in _LEGACY if f in settings.DESCRIPTOR.fields_by_name and settings.HasField(f))
    if legacy:
        raise CropError(f'{_desc_fn(fn)}: crop does not support the per-axis settings {legacy}')
    try:
        per_axis = record.spatial.settings(lp, 2)
    except NoWindow:
        raise _Undefined from None
    except ShapeError as e:
        raise CropError(f'{_desc_fn(fn)}: {e}, so its coordinate map is unknown') from None
    if len(set(per_axis)) > 1:
        raise CropError(f'{_desc_fn(fn)}: per-axis settings (kernel extent, stride, pad) {list(per_axis)} are not '
                        'supported by crop (one value for both spatial axes)')
    k, s, p = per_axis[0]
    return Fraction(s), Fraction(k), Fraction(p)


def layer_map(fn):
    """(a, b) with x_bottom = a * x_top + b for the (first) bottom of the layer call `fn`, by its type's Spatial
    record; raises _Undefined where the type has no fixed map."""
    record = LAYER_TYPES.get(fn.type_name)
    kind = None if record is None or record.spatial is None else record.spatial.kind
    if kind == 'window':
        s, k, p = _window(fn, record)
        return s, (k - 1) / 2 - p
    if kind == 'upsample':
        s, k, p = _window(fn, record)
        return 1 / s, (p - (k - 1) / 2) / s
    if kind == 'same':
        return Fraction(1), Fraction(0)
    if kind == 'concat':
        c = _settings(fn, record).concat_param
        if (c.concat_dim if c.HasField('concat_dim') else c.axis) in (0, 1, -3, -4):   # batch or channels
            return Fraction(1), Fraction(0)
        raise _Undefined
    if kind == 'offset':
        c = _settings(fn, record).crop_param
        if c.axis != 2:
            raise CropError(f'{_desc_fn(fn)}: crop maps need Crop layers over the spatial axes (axis 2)')
        offsets = set(c.offset) or {0}
        if len(offsets) > 1:
            raise CropError(f'{_desc_fn(fn)}: per-axis offset {list(c.offset)} is not supported by crop '
                            '(one value for both spatial axes)')
        return Fraction(1), Fraction(offsets.pop())
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
            a, b = layer_map(cur.fn)
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
