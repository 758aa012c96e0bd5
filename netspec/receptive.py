"""Receptive field, stride and depth of the blobs of a NetParameter, from the layer geometry alone (nothing runs).

Each spatial layer maps a unit y of its top to a contiguous window of units of its bottom (per spatial axis), by the
Spatial kind of its type's record (netspec.layertypes):
- Convolution / Pooling / Im2col (kernel k, stride s, pad p, dilation d; k' = d(k-1)+1): [s y - p, s y - p + k' - 1],
  Caffe's window before clipping to the bottom (so the field is the theoretical one, padding included);
- Deconvolution: the bottom units whose kernel covers y, [ceil((y + p - k' + 1) / s), floor((y + p) / s)];
- Crop: [y + offset, y + offset] (only the first bottom; the second gives only the shape);
- the pass-through layers of netspec.coord_map (ReLU, Dropout, LRN, Eltwise, ...) and Concat over batch or channels:
  [y, y], and a layer with several bottoms (Eltwise, Concat) sees the union of their fields.
Composing the windows down to a data blob gives each unit's receptive field in input pixels. After a Deconvolution
the field depends on where the unit lies within the upsampling stride, so a blob's field is kept as a periodic
pattern (a `Field`): unit y = period * q + r sees input pixels [step * q + lo[r], step * q + hi[r]]. Before any
Deconvolution the period is 1 and this is the familiar (stride, size, offset) of a conv net.

Sources are the tops of layers without bottoms (Input, Python and other data layers) and the legacy net inputs; a
blob fed by several (late fusion) has one field per source. A blob behind a layer without a fixed window
(InnerProduct, global pooling, losses, Reshape, ...) has no field; asking for it names that layer.

    receptive_fields(net, axis=0)          {blob: {source: Field}} for every blob with a field
    receptive_field(net, blob, source=None, axis=0) -> Field     .size, .stride, .window(y)
    max_stride(net, axis=0)                the largest stride of any blob (input pixels per unit)
    conv_depth(net, blob, counted=('Convolution', 'InnerProduct'))   the most counted layers on a path to blob
"""
import dataclasses
import math
from fractions import Fraction

from .io import read_net
from .layertypes import LAYER_TYPES, NoWindow
from .sizes import ShapeError

__all__ = ['Field', 'ReceptiveFieldError', 'receptive_fields', 'receptive_field', 'max_stride', 'conv_depth']


class ReceptiveFieldError(ValueError):
    """A blob without a receptive field (behind InnerProduct, global pooling, ...), or bottoms that do not align."""


class _NoField(Exception):
    """The layer's tops have no fixed window in their bottom (the reason is the message)."""


@dataclasses.dataclass(frozen=True)
class Field:
    """The input pixels seen by each unit of a blob along one axis: unit y = period * q + r sees
    [step * q + lo[r], step * q + hi[r]] (lo[r] is None where such units see nothing, e.g. a Deconvolution whose
    kernel is shorter than its stride)."""
    period: int
    step: int
    lo: tuple
    hi: tuple

    @property
    def stride(self):
        """Input pixels per unit (a Fraction: below 1 after upsampling)."""
        return Fraction(self.step, self.period)

    @property
    def sizes(self):
        """The field's size for each phase r (None where units see nothing)."""
        return tuple(None if a is None else b - a + 1 for a, b in zip(self.lo, self.hi))

    @property
    def size(self):
        """The largest field of any unit of the blob (the theoretical receptive field size)."""
        return max(s for s in self.sizes if s is not None)

    def window(self, y):
        """(first, last) input pixel seen by unit y, or None."""
        q, r = divmod(y, self.period)
        if self.lo[r] is None:
            return None
        return self.step * q + self.lo[r], self.step * q + self.hi[r]


IDENTITY = Field(1, 1, (0,), (0,))


def _describe(layer):
    return f'layer {layer.name!r} ({layer.type})'


def _conv_window(layer, record, axis):
    """(kernel extent k', stride, pad) of a window layer (Convolution, Deconvolution, Im2col, Pooling) along `axis`
    (0 = h), from the settings its record reads."""
    try:
        return record.spatial.settings(layer, 2)[axis]
    except NoWindow as e:
        raise _NoField(str(e)) from None
    except ShapeError as e:
        raise ReceptiveFieldError(f'{_describe(layer)}: {e}') from None


def _layer_window(layer, axis):
    """(rate, window): the top unit y sees bottom units window(y) = (first, last), and window(y + n) =
    window(y) + rate * n whenever rate * n is an integer. Raises _NoField where there is no fixed window (the
    Spatial kind of the type's record says which)."""
    record = LAYER_TYPES.get(layer.type)
    kind = None if record is None or record.spatial is None else record.spatial.kind
    if kind == 'window':
        k, s, p = _conv_window(layer, record, axis)
        return Fraction(s), lambda y: (s * y - p, s * y - p + k - 1)
    if kind == 'upsample':
        k, s, p = _conv_window(layer, record, axis)
        return Fraction(1, s), lambda y: (-((-(y + p - k + 1)) // s), (y + p) // s)
    if kind == 'offset':
        c = layer.crop_param
        spatial = axis + 2
        if spatial < c.axis:
            off = 0
        else:
            offs = list(c.offset) or [0]
            off = int(offs[0] if len(offs) == 1 else offs[spatial - c.axis])
        return Fraction(1), lambda y: (y + off, y + off)
    if kind == 'same':
        return Fraction(1), lambda y: (y, y)
    if kind == 'concat':
        c = layer.concat_param
        if (c.concat_dim if c.HasField('concat_dim') else c.axis) in (0, 1, -3, -4):
            return Fraction(1), lambda y: (y, y)
        raise _NoField('it concatenates along a spatial axis')
    raise _NoField(f'no fixed window for a {layer.type} layer')


def _compose(bottom, rate, window):
    """The top's Field, from the bottom's Field and the layer's window (see _layer_window)."""
    period = (rate / bottom.period).denominator          # the top pattern repeats when the window moves by
    step = bottom.step * int(rate * period / bottom.period)   # whole bottom periods
    lo, hi = [], []
    for r in range(period):
        first, last = window(r)
        seen = [bottom.window(x) for x in range(first, last + 1)]
        seen = [w for w in seen if w is not None]
        lo.append(min(w[0] for w in seen) if seen else None)
        hi.append(max(w[1] for w in seen) if seen else None)
    return Field(period, step, tuple(lo), tuple(hi))


def _union(fields, layer):
    """One Field covering every unit's fields in `fields` (several bottoms of one layer, same source)."""
    period = math.lcm(*(f.period for f in fields))
    steps = {f.step * period // f.period for f in fields}
    if len(steps) > 1:
        raise ReceptiveFieldError(f'{_describe(layer)}: its bottoms have different strides '
                                  f'({sorted(str(f.stride) for f in fields)} input pixels per unit)')
    lo, hi = [], []
    for r in range(period):
        seen = [w for w in (f.window(r) for f in fields) if w is not None]
        lo.append(min(w[0] for w in seen) if seen else None)
        hi.append(max(w[1] for w in seen) if seen else None)
    return Field(period, steps.pop(), tuple(lo), tuple(hi))


def _walk(net, axis):
    """({blob: {source: Field}}, {blob: reason it has none}) in layer order (in-place tops are overwritten)."""
    if axis not in (0, 1):
        raise ValueError(f'axis must be 0 (height) or 1 (width), not {axis!r}')
    fields = {name: {name: IDENTITY} for name in net.input}
    missing = {}
    for layer in net.layer:
        if not layer.bottom:
            for top in layer.top:
                fields[top] = {top: IDENTITY}
                missing.pop(top, None)
            continue
        bottoms = layer.bottom[:1] if layer.type == 'Crop' else layer.bottom
        lacking = [b for b in bottoms if b not in fields]
        out, reason = None, None
        if lacking:
            reason = missing.get(lacking[0], f'its bottom {lacking[0]!r} has no field')
        else:
            try:
                rate, window = _layer_window(layer, axis)
            except _NoField as e:
                reason = f'behind {_describe(layer)}: {e}'
            else:
                by_source = {}
                for b in bottoms:
                    for source, f in fields[b].items():
                        by_source.setdefault(source, []).append(f)
                out = {s: _compose(fs[0] if len(fs) == 1 else _union(fs, layer), rate, window)
                       for s, fs in by_source.items()}
        for top in layer.top:
            if out is None:
                fields.pop(top, None)
                missing[top] = reason
            else:
                fields[top] = out
                missing.pop(top, None)
    return fields, missing


def receptive_fields(net, axis=0):
    """{blob: {source: Field}} for every blob of `net` (any read_net source) that has a receptive field."""
    return _walk(read_net(net), axis)[0]


def receptive_field(net, blob, source=None, axis=0):
    """The Field of `blob` in the input `source` (optional when the blob depends on one input only)."""
    fields, missing = _walk(read_net(net), axis)
    if blob not in fields:
        if blob in missing:
            raise ReceptiveFieldError(f'blob {blob!r} has no receptive field: {missing[blob]}')
        raise ReceptiveFieldError(f'the net has no blob {blob!r}')
    per_source = fields[blob]
    if source is None:
        if len(per_source) > 1:
            raise ReceptiveFieldError(f'blob {blob!r} depends on several inputs {sorted(per_source)}; name one')
        return next(iter(per_source.values()))
    if source not in per_source:
        raise ReceptiveFieldError(f'blob {blob!r} does not depend on input {source!r} (only {sorted(per_source)})')
    return per_source[source]


def max_stride(net, axis=0):
    """The largest stride (input pixels per unit, a Fraction) of any blob with a receptive field."""
    fields = receptive_fields(net, axis)
    strides = [f.stride for per_source in fields.values() for f in per_source.values()]
    if not strides:
        raise ReceptiveFieldError('the net has no blob with a receptive field')
    return max(strides)


def conv_depth(net, blob, counted=('Convolution', 'InnerProduct')):
    """The largest number of `counted` layers on any path from an input to `blob` (a net's depth as papers count
    it: VGG16 is 13 convolutions and 3 fully connected layers; GoogLeNet "22 layers deep")."""
    net = read_net(net)
    depth = {name: 0 for name in net.input}
    for layer in net.layer:
        below = max((depth[b] for b in layer.bottom if b in depth), default=0)
        for top in layer.top:
            depth[top] = below + (layer.type in counted)
    if blob not in depth:
        raise ReceptiveFieldError(f'the net has no blob {blob!r}')
    return depth[blob]
