"""Scale: top = bottom * scale (+ bias), the scale broadcast over axes [axis, axis + num_axes).

One bottom: the scale is a learned blob (default filler constant 1). Two bottoms: bottom 1 is the scale.
With bias_term, a learned bias of the scale's shape (default filler constant 0) follows, as Caffe's BiasLayer.
"""
from netspec import caffe_pb2
from .registry import register
from .base import CaffeLayer, canonical_axis


@register
class Scale(CaffeLayer):
    type_name = 'Scale'
    exact_tops = 1

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.scale_param
        nb = len(lp.bottom)
        if nb not in (1, 2):
            raise self.error(f'needs 1 or 2 bottoms, has {nb}')
        shape = tuple(bottom_shapes[0])
        if nb == 1:
            self.axis = canonical_axis(p.axis, len(shape), self)
            if p.num_axes < -1:
                raise self.error(f'num_axes must be >= -1, got {p.num_axes}')
            nax = len(shape) - self.axis if p.num_axes == -1 else p.num_axes
            if self.axis + nax > len(shape):
                raise self.error(f'axis {self.axis} + num_axes {nax} exceed the bottom\'s {len(shape)} axes')
            sshape = shape[self.axis:self.axis + nax]
            filler = p.filler if p.HasField('filler') else caffe_pb2.FillerParameter(type='constant', value=1)
            self.scale = self.add_blob(sshape, filler)
        else:
            sshape = tuple(bottom_shapes[1])
            self.axis = 0 if len(sshape) == 0 else canonical_axis(p.axis, len(shape), self)
            self.scale = None
            self._check(shape, sshape)
        self.nax = len(sshape)
        self.bias = None
        if p.bias_term:
            self.bias = self.add_blob(sshape, p.bias_filler if p.HasField('bias_filler') else None)

    def _check(self, shape, sshape):
        if tuple(shape[self.axis:self.axis + len(sshape)]) != tuple(sshape):
            raise self.error(f'the scale shape {tuple(sshape)} does not match the bottom shape {tuple(shape)} '
                             f'from axis {self.axis} on')

    def top_shapes(self, bottom_shapes):
        if len(bottom_shapes) == 2:
            self._check(bottom_shapes[0], bottom_shapes[1])
        else:
            self._check(bottom_shapes[0], tuple(self.scale.shape))
        return [tuple(bottom_shapes[0])]

    def _view(self, t, nd):
        return t.reshape((1,) * self.axis + tuple(t.shape) + (1,) * (nd - self.axis - self.nax))

    def forward(self, x, s=None):
        nd = x.dim()
        y = x * self._view(self.scale if s is None else s, nd)
        if self.bias is not None:
            y = y + self._view(self.bias, nd)
        return (y,)
