"""Reduction: each item of the axes before `axis` reduced over the axes from `axis` on (SUM, ASUM, SUMSQ, MEAN),
times `coeff` (src/caffe/layers/reduction_layer.cpp). Gradients: coeff, coeff sign(x), 2 coeff x, coeff / count."""
import torch

from netspec import caffe_pb2, sizes
from .registry import register
from .base import CaffeLayer

_R = caffe_pb2.ReductionParameter


@register
class Reduction(CaffeLayer):
    type_name = 'Reduction'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.reduction_param
        self.axis = self.sized(sizes.canonical_axis, p.axis, len(bottom_shapes[0]))
        self.op, self.coeff = p.operation, p.coeff
        if self.op not in (_R.SUM, _R.ASUM, _R.SUMSQ, _R.MEAN):
            raise self.error(f'unknown reduction operation {self.op}')

    def forward(self, x):
        lead = tuple(x.shape[:self.axis])
        flat = x.reshape(lead + (-1,))
        if self.op == _R.ASUM:
            flat = flat.abs()
        elif self.op == _R.SUMSQ:
            flat = flat * flat
        y = flat.sum(dim=-1)
        coeff = self.coeff / flat.shape[-1] if self.op == _R.MEAN else self.coeff
        if coeff != 1:
            y = y * float(torch.tensor(coeff, dtype=torch.float32))
        return (y,)
