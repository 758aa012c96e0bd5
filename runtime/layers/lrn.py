"""LRN (local response normalization) as Caffe computes it (src/caffe/layers/lrn_layer.cpp).

ACROSS_CHANNELS: scale_c = k + alpha/n * sum of x^2 over the n channels [c - (n-1)/2, c - (n-1)/2 + n) (zeros
outside), top = x * scale^-beta. WITHIN_CHANNEL: scale = 1 + alpha * AVE-pool(x^2) over an n x n window with pad
(n-1)/2 (Caffe's pooling divisor), top = x * scale^-beta.
"""
import torch.nn.functional as F

from netspec import caffe_pb2
from .registry import register
from .base import CaffeLayer

_L = caffe_pb2.LRNParameter


@register
class LRN(CaffeLayer):
    type_name = 'LRN'
    fresh_top = True

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.lrn_param
        self.size, self.alpha, self.beta, self.k = p.local_size, p.alpha, p.beta, p.k
        self.region = p.norm_region
        if self.size % 2 == 0:
            raise self.error(f'local_size must be odd, got {self.size}')
        if len(bottom_shapes[0]) != 4:
            raise self.error(f'needs a 4-axis bottom (N, C, H, W), got shape {tuple(bottom_shapes[0])}')
        self.pre_pad = (self.size - 1) // 2

    def forward(self, x):
        sq = x * x
        if self.region == _L.ACROSS_CHANNELS:
            padded = F.pad(sq.unsqueeze(1), (0, 0, 0, 0, self.pre_pad, self.size - 1 - self.pre_pad))
            total = F.avg_pool3d(padded, (self.size, 1, 1), stride=1, divisor_override=1).squeeze(1)
            scale = total * (self.alpha / self.size) + self.k
        else:
            pooled = F.avg_pool2d(sq, self.size, 1, self.pre_pad, True, True)
            scale = pooled * self.alpha + 1.0
        return (x * scale.pow(-self.beta),)
