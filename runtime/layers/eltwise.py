"""Eltwise: SUM (with an optional coefficient per bottom), PROD, MAX (the gradient goes to the first bottom holding
the maximum, as in Caffe)."""
import torch

from netspec import caffe_pb2
from .registry import register
from .base import CaffeLayer

_E = caffe_pb2.EltwiseParameter


@register
class Eltwise(CaffeLayer):
    type_name = 'Eltwise'
    fresh_top = True

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.eltwise_param
        self.op = p.operation
        nb = len(lp.bottom)
        if len(p.coeff) and self.op != _E.SUM:
            raise self.error('coefficients are only allowed for the SUM operation')
        if len(p.coeff) not in (0, nb):
            raise self.error(f'has {len(p.coeff)} coefficients for {nb} bottoms (give none or one per bottom)')
        self.coeff = [float(c) for c in p.coeff] if len(p.coeff) else [1.0] * nb

    def forward(self, *bottoms):
        if self.op == _E.SUM:
            c = self.coeff
            y = bottoms[0] if c[0] == 1 else bottoms[0] * c[0]
            for b, ci in zip(bottoms[1:], c[1:]):
                y = y + b if ci == 1 else y + b * ci
            return (y,)
        if self.op == _E.PROD:
            y = bottoms[0]
            for b in bottoms[1:]:
                y = y * b
            return (y,)
        if self.op == _E.MAX:
            return (torch.stack(bottoms, 0).max(dim=0).values,)
        raise self.error(f'unknown operation {self.op}')
