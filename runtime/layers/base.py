"""The base of every layer: built from its LayerParameter and its bottoms' shapes, owns its blobs in Caffe's order."""
import math

import torch
from torch import nn

from netspec import sizes
from netspec.layertypes import LAYER_TYPES
from ..fillers import fill


class LayerError(ValueError):
    """A layer that cannot be built or run; the message names the layer and its type."""


class CaffeLayer(nn.Module):
    """One Caffe layer.

    Subclasses set `type_name`, build their blobs in __init__ (`self.add_blob`), and compute tops from bottoms in
    `forward(*bottoms)`, returning a tuple of tensors (one per top). What Caffe knows of the type is its record
    (netspec.layertypes, `self.record`): the bottom and top counts (checked here), the tops' shapes (Caffe's
    Reshape, used to build the net without running it), whether it is a loss, which bottoms a backward reaches.
    A class whose type has no record (a type of your own) or whose record has no top rule (a Python layer) gives its
    tops' shapes in its own `top_shapes(bottom_shapes)`, and may set `loss_by_default` and the counts below.
    """
    type_name = None
    loss_by_default = False      # without a record: top[0] gets loss_weight 1 unless the prototxt says otherwise
    exact_tops = None            # without a record: number of tops required (None: any)
    exact_bottoms = None
    min_bottoms = 0
    fresh_top = False            # its top is a new tensor no saved-for-backward state refers to (see Net._fresh)

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__()
        self.lp = lp
        self.name = lp.name
        self.ctx = ctx
        self.phase = ctx.phase
        self.blobs = nn.ParameterList()
        self.specs = []
        nb, nt = len(lp.bottom), len(lp.top)
        self.record = LAYER_TYPES.get(self.type_name)
        if self.record is not None:
            self.loss_by_default = self.record.loss
            wrong = self.record.count_error(nb, nt)
            if wrong:
                raise self.error(wrong)
            return
        if self.exact_bottoms is not None and nb != self.exact_bottoms:
            raise self.error(f'needs {self.exact_bottoms} bottom(s), has {nb}')
        if nb < self.min_bottoms:
            raise self.error(f'needs at least {self.min_bottoms} bottom(s), has {nb}')
        if self.exact_tops is not None and nt != self.exact_tops:
            raise self.error(f'needs {self.exact_tops} top(s), has {nt}')

    def error(self, msg):
        return LayerError(f'layer {self.name!r} (type {self.type_name}): {msg}')

    def add_blob(self, shape, filler=None):
        """A new learnable blob, filled as Caffe fills it; lr_mult 0 makes it a constant (no gradient computed)."""
        i = len(self.blobs)
        lr, decay = 1.0, 1.0
        if i < len(self.lp.param):
            spec = self.lp.param[i]
            lr, decay = spec.lr_mult, spec.decay_mult
            if spec.name:
                owner = self.ctx.param_names.setdefault(spec.name, self.name)
                if owner != self.name:
                    raise self.error(f'blob {i} shares the parameter {spec.name!r} with layer {owner!r}; sharing '
                                     'parameters by ParamSpec.name is not supported')
        shape = tuple(int(s) for s in shape)
        if any(s <= 0 for s in shape):
            raise self.error(f'blob {i} would have the shape {shape}')
        t = torch.empty(shape, dtype=self.ctx.dtype, device=self.ctx.device)
        fill(t, filler, where=f'layer {self.name!r} blob {i}')
        p = nn.Parameter(self.ctx.layout(t), requires_grad=lr != 0)
        self.blobs.append(p)
        self.specs.append((lr, decay))
        return p

    def sized(self, rule, *args):
        """`rule(*args)`, a function of netspec.sizes, with its ShapeError reported as this layer's error."""
        try:
            return rule(*args)
        except sizes.ShapeError as e:
            raise self.error(str(e)) from None

    def top_shapes(self, bottom_shapes):
        """Shapes of the tops for these bottom shapes: the rule of this layer's type (its record's; for a type
        without one, one top per name shaped like bottom 0)."""
        if self.record is None or self.record.tops is None:
            return [tuple(bottom_shapes[0])] * len(self.lp.top)
        return self.sized(sizes.top_shapes, self.lp, bottom_shapes)

    def extra_repr(self):
        return f'{self.name!r}'


def canonical_axis(axis, ndim, layer, what='axis'):
    """netspec.sizes.canonical_axis, its error naming `layer`."""
    return layer.sized(sizes.canonical_axis, axis, ndim, what)


def count(shape, start=0, end=None):
    return math.prod(shape[start:end])
