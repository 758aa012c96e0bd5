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
        self.expected = []           # blob i: the shape this layer computes with (what add_blob was given)
        self.sharer_shape = {}       # blob i shared under another shape (PERMISSIVE): the shape this layer shows
        self.mismatched = set()      # blobs whose memory does not have the expected shape (see run)
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
        shape must equal the owner's (share_mode PERMISSIVE: the count; the sharer then sees the owner's memory in
        its own shape, as Caffe's ShareData/ShareDiff), and an lr_mult or decay_mult given by both must agree (one
        given by a sharer only becomes the blob's)."""
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
        self.check_size(shape, f'parameter blob {i}')
        t = torch.empty(shape, dtype=self.ctx.dtype, device=self.ctx.device)
        fill(t, filler, where=f'layer {self.name!r} blob {i}')
        p = nn.Parameter(self.ctx.layout(t), requires_grad=lr != 0)
        self.blobs.append(p)
        self.specs.append((lr, decay))
        self.expected.append(shape)
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
                self.sharer_shape[i] = shape
                self.mismatched.add(i)
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
        self.expected.append(shape)
        return p

    # -- blobs whose memory has another shape than the one this layer computes with --------------------------------
    def blob_shape(self, i):
        """The shape of blob i as Caffe shows and saves it: a sharer's own shape (PERMISSIVE), else its memory's."""
        return self.sharer_shape.get(i) or tuple(self.blobs[i].shape)

    def blob_view(self, t, i):
        """`t` (blob i's data or diff, in its memory's shape) in blob_shape(i) (a view: writes reach the memory)."""
        shape = self.sharer_shape.get(i)
        return t if shape is None or tuple(t.shape) == shape else t.view(shape)

    def reshape_blob(self, i, shape, adopt=False):
        """Caffe's Blob::Reshape of parameter blob i: the new shape over the blob's memory, which keeps its capacity
        (data and diff read as its flat prefix while the count fits; growing past the capacity gives new memory
        that reads zeros, as Caffe reallocates and its first read fills zeros). The blob keeps its identity (the
        solver and the sharing layers hold it). adopt: the layer computes with the new shape from now on (a Python
        layer's own blob); otherwise `run` holds the layer to the shape it was built with."""
        shape = tuple(int(s) for s in shape)
        if any(s < 0 for s in shape):
            raise self.error(f'blob {i} cannot take the shape {shape}')
        if i in self.sharer_shape:
            raise self.error(f'blob {i} is shared from another layer under its own shape (PERMISSIVE); reshape the '
                             'owner\'s blob')
        p = self.blobs[i]
        n = math.prod(shape)
        store = getattr(self, '_capacity', None)
        if store is None:
            store = self._capacity = {}
        with torch.no_grad():
            kept = store.get(i)
            if kept is not None and kept[0].untyped_storage().data_ptr() != p.data.untyped_storage().data_ptr():
                kept = None         # the blob's memory was replaced since (moved to a device, shared)
            data, diff = kept or (p.data.contiguous().reshape(-1),
                                          (p.grad if p.grad is not None else torch.zeros_like(p.data))
                                          .contiguous().reshape(-1))
            if n > data.numel():
                data, diff = (torch.zeros(n, dtype=p.dtype, device=p.device) for _ in range(2))
            store[i] = (data, diff)
            p.data = data[:n].view(shape)
            p.grad = diff[:n].view(shape)
        if adopt:
            self.expected[i] = shape
        self._note_shapes()

    def _note_shapes(self):
        self.mismatched = {i for i in range(len(self.blobs))
                           if tuple(self.blobs[i].shape) != self.expected[i]}

    def run(self, *bottoms):
        """forward(*bottoms), the net's way of running the layer: where a blob's memory has another shape than
        the layer computes with (shared PERMISSIVE, or reshaped from Python), the layer reads that memory in its own
        shape when the count is the same (Caffe reads the memory as it is); otherwise a one-line error."""
        if not self.mismatched:
            return self.forward(*bottoms)
        saved = {}
        try:
            for i in sorted(self.mismatched):
                p, want = self.blobs[i], self.expected[i]
                if p.numel() != math.prod(want):
                    raise self.error(f'parameter blob {i} has the shape {tuple(p.shape)} (reshaped), but this layer '
                                     f'computes with {want}: reshape it back to {want} (Caffe would read the '
                                     'memory with the old geometry)')
                names = [name for name, q in self._parameters.items() if q is p]
                if not names:
                    raise self.error(f'parameter blob {i} has the shape {tuple(p.shape)}, but this layer computes '
                                     f'with {want} and reads the blob in no other shape')
                for name in names:
                    saved[name] = p
                    self._parameters[name] = p.reshape(want)
            return self.forward(*bottoms)
        finally:
            self._parameters.update(saved)

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
