"""InnerProduct: the axes from `axis` on are flattened into K inputs; weight (N, K) (or (K, N) with transpose)."""
import torch.nn.functional as F

from netspec import sizes
from .registry import register
from .base import CaffeLayer, count


@register
class InnerProduct(CaffeLayer):
    type_name = 'InnerProduct'
    fresh_top = True

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.inner_product_param
        shape = bottom_shapes[0]
        self.axis, self.N = self.sized(sizes.inner_product_geometry, p, shape)
        self.K = count(shape, self.axis)
        self.transpose = p.transpose
        wshape = (self.K, self.N) if self.transpose else (self.N, self.K)
        self.weight = self.add_blob(wshape, p.weight_filler if p.HasField('weight_filler') else None)
        self.bias = self.add_blob((self.N,), p.bias_filler if p.HasField('bias_filler') else None) \
            if p.bias_term else None

    def forward(self, x):
        lead = x.shape[:self.axis]
        x2 = x.reshape(-1, self.K)
        if self.transpose:
            y = x2 @ self.weight
            if self.bias is not None:
                y = y + self.bias
        else:
            y = F.linear(x2, self.weight, self.bias)
        return (y.reshape(tuple(lead) + (self.N,)),)
