"""Layers that move data without arithmetic: Crop, Concat, Split, Flatten, Reshape, Silence, Slice, Tile (their top
shapes: their types' records)."""
import torch

from netspec import sizes
from .registry import register
from .base import CaffeLayer


@register
class Crop(CaffeLayer):
    """Bottom 0 cropped to bottom 1's shape on the axes from `axis` on, starting at `offset` (one value for all
    cropped axes, or one per cropped axis). Bottom 1 gives only a shape: the gradient goes to bottom 0 alone."""
    type_name = 'Crop'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.axis, self.offsets = self.sized(sizes.crop_offsets, lp.crop_param, bottom_shapes)

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

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.axis = self.sized(sizes.concat_axis, lp.concat_param, len(bottom_shapes[0]))

    def forward(self, *bottoms):
        if len(bottoms) == 1:
            return (bottoms[0],)
        return (torch.cat(bottoms, dim=self.axis),)


@register
class Split(CaffeLayer):
    """Every top is the bottom; the gradients of the tops add up (autograd does the sum)."""
    type_name = 'Split'

    def forward(self, x):
        return (x,) * len(self.lp.top)


@register
class Flatten(CaffeLayer):
    type_name = 'Flatten'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.start, self.end = self.sized(sizes.flatten_axes, lp.flatten_param, len(bottom_shapes[0]))

    def forward(self, x):
        return (x.flatten(self.start, self.end),)


@register
class Reshape(CaffeLayer):
    """Caffe's Reshape: dims 0 copy the bottom's dim, one -1 is inferred; `axis`/`num_axes` select the replaced
    range."""
    type_name = 'Reshape'

    def forward(self, x):
        return (x.reshape(self.top_shapes([x.shape])[0]),)


@register
class Silence(CaffeLayer):
    """Consumes its bottoms, produces nothing."""
    type_name = 'Silence'

    def forward(self, *bottoms):
        return ()


@register
class Slice(CaffeLayer):
    """Bottom cut along `axis` (or the legacy slice_dim) at the slice points, or into equal parts; the gradient is
    the tops' diffs put back in place."""
    type_name = 'Slice'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.axis, points = self.sized(sizes.slice_points, lp.slice_param, tuple(bottom_shapes[0]), len(lp.top))
        bounds = [0] + points + [bottom_shapes[0][self.axis]]
        self.lengths = [b - a for a, b in zip(bounds, bounds[1:])]

    def forward(self, x):
        if len(self.lengths) == 1:
            return (x,)
        return tuple(torch.split(x, self.lengths, dim=self.axis))


@register
class Tile(CaffeLayer):
    """The bottom repeated `tiles` times along `axis` (whole copies one after another); the gradient sums them."""
    type_name = 'Tile'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.axis = sizes.canonical_axis(lp.tile_param.axis, len(bottom_shapes[0]))
        self.tiles = lp.tile_param.tiles

    def forward(self, x):
        reps = [1] * x.dim()
        reps[self.axis] = self.tiles
        return (x.repeat(*reps),)
