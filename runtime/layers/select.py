"""Layers that pick items or rows: Embed, BatchReindex, Filter (src/caffe/layers/embed_layer.cpp,
batch_reindex_layer.cpp, filter_layer.cpp). Their index bottoms get no diff."""
import torch

from .registry import register
from .base import CaffeLayer


def _indices(layer, t, limit, what):
    idx = t.detach().reshape(-1)
    ints = idx.to(torch.long)
    if bool((ints.to(idx.dtype) != idx).any()) or bool(((ints < 0) | (ints >= limit)).any()):
        bad = idx[(ints.to(idx.dtype) != idx) | (ints < 0) | (ints >= limit)][0].item()
        raise layer.error(f'{what} {bad} is not an integer in [0, {limit})')
    return ints


@register
class Embed(CaffeLayer):
    """One-hot lookup: top[..., :] = W[index] (+ bias), W input_dim x num_output (fillers from embed_param, constant
    0 when absent); the weight rows accumulate the diffs, the indices get none."""
    type_name = 'Embed'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.embed_param
        shapes = self.sized(self.record.blobs, lp, bottom_shapes)
        self.input_dim = p.input_dim
        self.weight = self.add_blob(shapes[0], p.weight_filler if p.HasField('weight_filler') else None)
        self.bias = self.add_blob(shapes[1], p.bias_filler if p.HasField('bias_filler') else None) \
            if p.bias_term else None

    def forward(self, x):
        idx = _indices(self, x, self.input_dim, 'index')
        y = self.weight[idx]
        if self.bias is not None:
            y = y + self.bias
        return (y.reshape(tuple(x.shape) + (self.weight.shape[1],)),)


@register
class BatchReindex(CaffeLayer):
    """top[i] = bottom[permut[i]] along axis 0; the diffs of repeated picks add up in the bottom's diff."""
    type_name = 'BatchReindex'

    def forward(self, x, permut):
        return (x.index_select(0, _indices(self, permut, x.shape[0], 'index')),)


@register
class Filter(CaffeLayer):
    """Each bottom but the last keeps the items (axis 0) whose selector (the last bottom) is nonzero; the diff goes
    back to those items, zero to the others. The tops' length is only known from the selector's values."""
    type_name = 'Filter'

    def forward(self, *bottoms):
        selector = bottoms[-1].detach().reshape(bottoms[-1].shape[0], -1)[:, 0]
        keep = torch.nonzero(selector != 0).reshape(-1)
        return tuple(b.index_select(0, keep) for b in bottoms[:-1])
