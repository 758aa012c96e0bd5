"""The base of every layer: built from its LayerParameter and its bottoms' shapes, owns its blobs in Caffe's order."""
import math

import torch
from torch import nn

from netspec import sizes
from ..fillers import fill


class LayerError(ValueError):
    """A layer that cannot be built or run; the message names the layer and its type."""


class CaffeLayer(nn.Module):
    """One Caffe layer.

    Subclasses set `type_name`, build their blobs in __init__ (`self.add_blob`), and compute tops from bottoms in
    `forward(*bottoms)`, returning a tuple of tensors (one per top). Their tops' shapes (Caffe's Reshape, used to
    build the net without running it) come from the size rule of their type in netspec.sizes; a class whose type has
    no rule there (a Python layer, a type of your own) gives them in its own `top_shapes(bottom_shapes)`.
    """
    type_name = None
    loss_by_default = False      # Caffe's LossLayer: top[0] gets loss_weight 1 unless the prototxt says otherwise
    exact_tops = None            # number of tops required (None: any)
    exact_bottoms = None
    min_bottoms = 0

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__()
        self.lp = lp
        self.name = lp.name
        self.ctx = ctx
        self.phase = ctx.phase
        self.blobs = nn.ParameterList()
        self.specs = []
        nb, nt = len(lp.bottom), len(lp.top)
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
        self.check_size(shape, f'parameter blob {i}')
        t = torch.empty(shape, dtype=self.ctx.dtype, device=self.ctx.device)
        fill(t, filler, where=f'layer {self.name!r} blob {i}')
        p = nn.Parameter(self.ctx.layout(t), requires_grad=lr != 0)
        self.blobs.append(p)
        self.specs.append((lr, decay))
        return p

    def check_size(self, shape, what):
        """LayerError naming the net's file, this layer and `what` when a blob of `shape` could not be allocated on
        the net's device (runtime.memory.check_blob), before it is."""
        from ..memory import check_blob
        source = getattr(self.ctx, 'source', None)
        check_blob(shape, self.ctx.dtype, self.ctx.device,
                   (f'{source}: ' if source else '') + f'layer {self.name!r} (type {self.type_name}) {what}')

    def sized(self, rule, *args):
        """`rule(*args)`, a function of netspec.sizes, with its ShapeError reported as this layer's error."""
        try:
            return rule(*args)
        except sizes.ShapeError as e:
            raise self.error(str(e)) from None

    def top_shapes(self, bottom_shapes):
        """Shapes of the tops for these bottom shapes: the netspec.sizes rule of this layer's type (for a type it
        has no rule for, one top per name shaped like bottom 0)."""
        if sizes.rule_for(self.lp.type) is None:
            return [tuple(bottom_shapes[0])] * len(self.lp.top)
        return self.sized(sizes.top_shapes, self.lp, bottom_shapes)

    def extra_repr(self):
        return f'{self.name!r}'


def canonical_axis(axis, ndim, layer, what='axis'):
    """netspec.sizes.canonical_axis, its error naming `layer`."""
    return layer.sized(sizes.canonical_axis, axis, ndim, what)


def count(shape, start=0, end=None):
    return math.prod(shape[start:end])
