"""Input: blobs the caller fills (net.forward(name=array)); each keeps its last value, as a pycaffe blob does.

With force_backward the Input blobs receive gradients too (their .grad is Caffe's input diff)."""
import numpy as np
import torch

from netspec import sizes
from .registry import register
from .base import CaffeLayer


@register
class Input(CaffeLayer):
    type_name = 'Input'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        shapes = self.sized(sizes.input_shapes, lp)
        self.shapes = shapes
        self.values = [self._leaf(torch.zeros(s, dtype=ctx.dtype, device=ctx.device)) for s in shapes]

    def _leaf(self, t):
        t = self.ctx.layout(t)
        return t.requires_grad_(True) if self.ctx.force_backward else t

    def set(self, i, value):
        """Make `value` (numpy array, tensor or number) the i-th top's value, as float32 on the net's device."""
        if isinstance(value, torch.Tensor):
            t = value.detach().to(device=self.ctx.device, dtype=self.ctx.dtype)
        else:
            t = torch.from_numpy(np.array(value, dtype=np.float32, copy=True)).to(self.ctx.device)
        self.values[i] = self._leaf(t)

    def forward(self):
        return self.values


@register
class Parameter(CaffeLayer):
    """Its one learned blob (parameter_param.shape, filled with zeros as Caffe leaves it until weights load) as its
    top; the top's diff accumulates into the blob's."""
    type_name = 'Parameter'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        shape, = self.sized(self.record.blobs, lp, bottom_shapes)
        self.blob = self.add_blob(shape)

    def forward(self):
        return (self.blob.clone(),)
