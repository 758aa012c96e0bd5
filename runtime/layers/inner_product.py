"""InnerProduct: the axes from `axis` on are flattened into K inputs; weight (N, K) (or (K, N) with transpose)."""
import torch.nn.functional as F

from .registry import register
from .base import CaffeLayer, canonical_axis, count


@register
class InnerProduct(CaffeLayer):
    type_name = 'InnerProduct'
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.inner_product_param
        shape = bottom_shapes[0]
        if not p.HasField('num_output') or p.num_output == 0:
            raise self.error('inner_product_param.num_output must be given and positive')
        self.axis = canonical_axis(p.axis, len(shape), self)
        self.N = p.num_output
        self.K = count(shape, self.axis)
        self.transpose = p.transpose
        wshape = (self.K, self.N) if self.transpose else (self.N, self.K)
        self.weight = self.add_blob(wshape, p.weight_filler if p.HasField('weight_filler') else None)
        self.bias = self.add_blob((self.N,), p.bias_filler if p.HasField('bias_filler') else None) \
            if p.bias_term else None

    def top_shapes(self, bottom_shapes):
        s = bottom_shapes[0]
        if count(s, self.axis) != self.K:
            raise self.error(f'bottom shape {tuple(s)} has {count(s, self.axis)} inputs past axis {self.axis}; '
                             f'the weights expect {self.K}')
        return [tuple(s[:self.axis]) + (self.N,)]

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
