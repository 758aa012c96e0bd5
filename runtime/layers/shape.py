"""Layers that move data without arithmetic: Crop, Concat, Split, Flatten, Reshape, Silence."""
import torch

from .registry import register
from .base import CaffeLayer, canonical_axis, count


@register
class Crop(CaffeLayer):
    """Bottom 0 cropped to bottom 1's shape on the axes from `axis` on, starting at `offset` (one value for all
    cropped axes, or one per cropped axis). Bottom 1 gives only a shape: the gradient goes to bottom 0 alone."""
    type_name = 'Crop'
    exact_bottoms = 2
    exact_tops = 1

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.crop_param
        nd = len(bottom_shapes[0])
        if len(bottom_shapes[1]) != nd:
            raise self.error(f'bottoms have {nd} and {len(bottom_shapes[1])} axes; they must have the same number')
        self.axis = canonical_axis(p.axis, nd, self)
        ncrop = nd - self.axis
        offs = list(p.offset)
        if len(offs) == 0:
            offs = [0] * ncrop
        elif len(offs) == 1:
            offs = offs * ncrop
        elif len(offs) != ncrop:
            raise self.error(f'crop_param has {len(offs)} offsets; give 1, or {ncrop} (one per axis from '
                             f'axis {self.axis} on)')
        self.offsets = [0] * self.axis + [int(o) for o in offs]

    def top_shapes(self, bottom_shapes):
        a, b = bottom_shapes
        for i in range(self.axis, len(a)):
            if a[i] - self.offsets[i] < b[i]:
                raise self.error(f'cannot crop axis {i} of size {a[i]} at offset {self.offsets[i]} to size {b[i]} '
                                 f'(bottom shapes {tuple(a)} and {tuple(b)})')
        return [tuple(a[:self.axis]) + tuple(b[self.axis:])]

    def forward(self, x, ref):
        idx = [slice(None)] * self.axis
        full = True
        for i in range(self.axis, x.dim()):
            o, n = self.offsets[i], ref.shape[i]
            if x.shape[i] - o < n:
                self.top_shapes([tuple(x.shape), tuple(ref.shape)])
            idx.append(slice(o, o + n))
            full = full and o == 0 and n == x.shape[i]
        return (x if full else x[tuple(idx)],)


@register
class Concat(CaffeLayer):
    type_name = 'Concat'
    min_bottoms = 1
    exact_tops = 1

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.concat_param
        nd = len(bottom_shapes[0])
        self.axis = p.concat_dim if p.HasField('concat_dim') else canonical_axis(p.axis, nd, self)

    def top_shapes(self, bottom_shapes):
        first = tuple(bottom_shapes[0])
        total = 0
        for s in bottom_shapes:
            if len(s) != len(first) or any(s[i] != first[i] for i in range(len(first)) if i != self.axis):
                raise self.error(f'bottoms {[tuple(b) for b in bottom_shapes]} differ outside the concat axis '
                                 f'{self.axis}')
            total += s[self.axis]
        return [first[:self.axis] + (total,) + first[self.axis + 1:]]

    def forward(self, *bottoms):
        if len(bottoms) == 1:
            return (bottoms[0],)
        return (torch.cat(bottoms, dim=self.axis),)


@register
class Split(CaffeLayer):
    """Every top is the bottom; the gradients of the tops add up (autograd does the sum)."""
    type_name = 'Split'
    exact_bottoms = 1

    def forward(self, x):
        return (x,) * len(self.lp.top)


@register
class Flatten(CaffeLayer):
    type_name = 'Flatten'
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        nd = len(bottom_shapes[0])
        self.start = canonical_axis(lp.flatten_param.axis, nd, self)
        self.end = canonical_axis(lp.flatten_param.end_axis, nd, self, 'end_axis')

    def top_shapes(self, bottom_shapes):
        s = tuple(bottom_shapes[0])
        return [s[:self.start] + (count(s, self.start, self.end + 1),) + s[self.end + 1:]]

    def forward(self, x):
        return (x.reshape(self.top_shapes([x.shape])[0]),)


@register
class Reshape(CaffeLayer):
    """Caffe's Reshape: dims 0 copy the bottom's dim, one -1 is inferred; `axis`/`num_axes` select the replaced
    range."""
    type_name = 'Reshape'
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.reshape_param
        self.dims = [int(d) for d in p.shape.dim]
        if sum(d == -1 for d in self.dims) > 1:
            raise self.error('reshape_param.shape has more than one -1 dimension')
        if any(d < -1 for d in self.dims):
            raise self.error(f'reshape_param.shape has an invalid dimension in {self.dims}')
        self.axis, self.num_axes = p.axis, p.num_axes
        if self.num_axes < -1:
            raise self.error(f'num_axes must be >= -1, got {self.num_axes}')

    def top_shapes(self, bottom_shapes):
        s = tuple(bottom_shapes[0])
        n = len(s)
        start = self.axis if self.axis >= 0 else n + self.axis + 1
        if not 0 <= start <= n:
            raise self.error(f'axis {self.axis} is out of range for a {n}-axis bottom')
        end = n if self.num_axes == -1 else start + self.num_axes
        if end > n:
            raise self.error(f'axis {self.axis} + num_axes {self.num_axes} exceed the bottom\'s {n} axes')
        new = []
        for i, d in enumerate(self.dims):
            if d == 0:
                if start + i >= n:
                    raise self.error(f'dimension {i} copies axis {start + i}, which the bottom lacks')
                new.append(s[start + i])
            else:
                new.append(d)
        out = list(s[:start]) + new + list(s[end:])
        if -1 in out:
            known = count([d for d in out if d != -1])
            total = count(s)
            if known == 0 or total % known:
                raise self.error(f'cannot infer the -1 dimension: {total} values into {out}')
            out[out.index(-1)] = total // known
        if count(out) != count(s):
            raise self.error(f'cannot reshape {s} ({count(s)} values) to {tuple(out)} ({count(out)} values)')
        return [tuple(out)]

    def forward(self, x):
        return (x.reshape(self.top_shapes([x.shape])[0]),)


@register
class Silence(CaffeLayer):
    """Consumes its bottoms, produces nothing."""
    type_name = 'Silence'
    exact_tops = 0

    def top_shapes(self, bottom_shapes):
        return []

    def forward(self, *bottoms):
        return ()
