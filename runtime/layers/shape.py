"""Layers that move data without arithmetic: Crop, Concat, Split, Flatten, Reshape, Silence (their top shapes:
netspec.sizes)."""
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
