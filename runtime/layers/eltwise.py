"""Eltwise: SUM (with an optional coefficient per bottom), PROD (the diff of a bottom the product of the others, or
with stable_prod_grad false top / bottom, as Caffe), MAX (the gradient goes to the first bottom holding the maximum,
as in Caffe)."""
import torch

from netspec import caffe_pb2
from .registry import register
from .base import CaffeLayer

_E = caffe_pb2.EltwiseParameter


class _QuotientProdFn(torch.autograd.Function):
    """PROD with stable_prod_grad false: Caffe's diff of bottom i is top_diff * top / bottom_i."""

    @staticmethod
    def forward(ctx, *bottoms):
        y = bottoms[0]
        for b in bottoms[1:]:
            y = y * b
        ctx.save_for_backward(y, *bottoms)
        return y

    @staticmethod
    def backward(ctx, g):
        y, *bottoms = ctx.saved_tensors
        return tuple(g * (y / b) for b in bottoms)


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
        self.stable = p.stable_prod_grad

    def forward(self, *bottoms):
        if self.op == _E.SUM:
            c = self.coeff
            y = bottoms[0] if c[0] == 1 else bottoms[0] * c[0]
            for b, ci in zip(bottoms[1:], c[1:]):
                y = y + b if ci == 1 else y + b * ci
            return (y,)
        if self.op == _E.PROD:
            if not self.stable and torch.is_grad_enabled() and any(b.requires_grad for b in bottoms):
                return (_QuotientProdFn.apply(*bottoms),)
            y = bottoms[0]
            for b in bottoms[1:]:
                y = y * b
            return (y,)
        if self.op == _E.MAX:
            return (torch.stack(bottoms, 0).max(dim=0).values,)
        raise self.error(f'unknown operation {self.op}')
