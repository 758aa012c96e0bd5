"""Scale: top = bottom * scale (+ bias), the scale broadcast over axes [axis, axis + num_axes).

One bottom: the scale is a learned blob (default filler constant 1). Two bottoms: bottom 1 is the scale.
With bias_term, a learned bias of the scale's shape (default filler constant 0) follows, as Caffe's BiasLayer.
"""
from netspec import caffe_pb2, sizes
from .registry import register
from .base import CaffeLayer


@register
class Scale(CaffeLayer):
    type_name = 'Scale'
    fresh_top = True

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.scale_param
        nb = len(lp.bottom)
        if nb not in (1, 2):
            raise self.error(f'needs 1 or 2 bottoms, has {nb}')
        self.axis, sshape = self.sized(sizes.scale_axes, p, bottom_shapes)
        self.scale = None
        if nb == 1:
            filler = p.filler if p.HasField('filler') else caffe_pb2.FillerParameter(type='constant', value=1)
            self.scale = self.add_blob(sshape, filler)
        self.nax = len(sshape)
        self.bias = None
        if p.bias_term:
            self.bias = self.add_blob(sshape, p.bias_filler if p.HasField('bias_filler') else None)

    def _view(self, t, nd):
        return t.reshape((1,) * self.axis + tuple(t.shape) + (1,) * (nd - self.axis - self.nax))

    def forward(self, x, s=None):
        nd = x.dim()
        y = x * self._view(self.scale if s is None else s, nd)
        if self.bias is not None:
            y = y + self._view(self.bias, nd)
        return (y,)
