"""Input: blobs the caller fills (net.forward(name=array)); each keeps its last value, as a pycaffe blob does.

With force_backward the Input blobs receive gradients too (their .grad is Caffe's input diff)."""
import numpy as np
import torch

from .registry import register
from .base import CaffeLayer


@register
class Input(CaffeLayer):
    type_name = 'Input'
    exact_bottoms = 0

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        shapes = [tuple(int(d) for d in s.dim) for s in lp.input_param.shape]
        nt = len(lp.top)
        if len(shapes) not in (1, nt):
            raise self.error(f'input_param has {len(shapes)} shapes for {nt} tops (give one, or one per top)')
        if len(shapes) == 1:
            shapes = shapes * nt
        self.shapes = shapes
        self.values = [self._leaf(torch.zeros(s, dtype=ctx.dtype, device=ctx.device)) for s in shapes]

    def _leaf(self, t):
        t = self.ctx.layout(t)
        return t.requires_grad_(True) if self.ctx.force_backward else t

    def top_shapes(self, bottom_shapes):
        return [tuple(v.shape) for v in self.values]

    def set(self, i, value):
        """Make `value` (numpy array, tensor or number) the i-th top's value, as float32 on the net's device."""
        if isinstance(value, torch.Tensor):
            t = value.detach().to(device=self.ctx.device, dtype=self.ctx.dtype)
        else:
            t = torch.from_numpy(np.array(value, dtype=np.float32, copy=True)).to(self.ctx.device)
        self.values[i] = self._leaf(t)

    def forward(self):
        return self.values
