"""The base of every layer: built from its LayerParameter and its bottoms' shapes, owns its blobs in Caffe's order."""
import math

import torch
from torch import nn

from netspec import caffe_pb2, sizes
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
            for k in self.record.no_diff:
                if k < len(lp.propagate_down) and lp.propagate_down[k]:
                    raise self.error(f'cannot backpropagate to bottom {k} ({lp.bottom[k]!r}): propagate_down must '
                                     'not be true for it')
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
        """A new learnable blob, filled as Caffe fills it; lr_mult 0 makes it a constant (no gradient computed).

        A ParamSpec `name` seen before shares the blob of the layer that named it first (Caffe's Net::AppendParam
        and ShareWeights): the same parameter, so both layers read one value and their diffs add up in it; its
        shape must equal the owner's (share_mode PERMISSIVE: the count; a different shape is refused here), and an
        lr_mult or decay_mult given by both must agree (one given by a sharer only becomes the blob's)."""
        i = len(self.blobs)
        lr, decay = 1.0, 1.0
        spec = self.lp.param[i] if i < len(self.lp.param) else None
        if spec is not None:
            lr, decay = spec.lr_mult, spec.decay_mult
        shape = tuple(int(s) for s in shape)
        if any(s <= 0 for s in shape):
            raise self.error(f'blob {i} would have the shape {shape}')
        if spec is not None and spec.name and spec.name in self.ctx.param_names:
            return self._share(spec, i, shape)
        t = torch.empty(shape, dtype=self.ctx.dtype, device=self.ctx.device)
        fill(t, filler, where=f'layer {self.name!r} blob {i}')
        p = nn.Parameter(self.ctx.layout(t), requires_grad=lr != 0)
        self.blobs.append(p)
        self.specs.append((lr, decay))
        if spec is not None and spec.name:
            self.ctx.param_names[spec.name] = (self, i, spec.HasField('lr_mult'), spec.HasField('decay_mult'))
        return p

    def _share(self, spec, i, shape):
        owner, j, has_lr, has_decay = self.ctx.param_names[spec.name]
        p = owner.blobs[j]
        where = f"cannot share param '{spec.name}' owned by layer '{owner.name}' with layer '{self.name}'"
        if spec.share_mode == caffe_pb2.ParamSpec.PERMISSIVE:
            if math.prod(shape) != p.numel():
                raise self.error(f'{where}: count mismatch (the owner\'s shape is {tuple(p.shape)}, this blob\'s '
                                 f'{shape})')
            if shape != tuple(p.shape):
                raise self.error(f'{where}: sharing a blob under another shape of the same count (PERMISSIVE) is '
                                 f'not supported (the owner\'s shape is {tuple(p.shape)}, this blob\'s {shape})')
        elif shape != tuple(p.shape):
            raise self.error(f'{where}: shape mismatch (the owner\'s shape is {tuple(p.shape)}, this blob\'s '
                             f'{shape}; share_mode PERMISSIVE checks only the count)')
        lr, decay = owner.specs[j]
        for what, given, mine, k in (('lr_mult', has_lr, spec.lr_mult, 0), ('decay_mult', has_decay,
                                                                                spec.decay_mult, 1)):
            if spec.HasField(what):
                if given and mine != owner.specs[j][k]:
                    raise self.error(f"shared param '{spec.name}' has mismatched {what}")
                if not given:
                    owner.specs[j] = (mine, owner.specs[j][1]) if k == 0 else (owner.specs[j][0], mine)
        has_lr, has_decay = has_lr or spec.HasField('lr_mult'), has_decay or spec.HasField('decay_mult')
        self.ctx.param_names[spec.name] = (owner, j, has_lr, has_decay)
        mine = (spec.lr_mult if spec.HasField('lr_mult') else 1.0, spec.decay_mult)
        if mine[0] != 0 or owner.specs[j][0] != 0:
            p.requires_grad_(True)
        self.blobs.append(p)
        self.specs.append(mine)
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
