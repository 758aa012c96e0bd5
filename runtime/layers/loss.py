"""Softmax, SoftmaxWithLoss, Accuracy, ArgMax (src/caffe/layers/softmax_loss_layer.cpp and friends).

SoftmaxWithLoss: loss = -sum over non-ignored positions of log(max(p_label, FLT_MIN)) / max(1, normalizer), the
normalizer chosen by loss_param (FULL: all positions, VALID: non-ignored ones, BATCH_SIZE: the outer count, NONE: 1;
the legacy `normalize` means VALID when true and BATCH_SIZE when false). Its gradient is Caffe's, (p - onehot) *
top_diff / normalizer with zeros at ignored positions; it is NOT the gradient of the floored log (where
p_label < FLT_MIN the floor would make that zero), hence a custom autograd Function.
"""
import torch

from netspec import caffe_pb2
from .registry import register
from .base import CaffeLayer, canonical_axis, count

_N = caffe_pb2.LossParameter
FLT_MIN = 1.1754943508222875e-38


def _labels(layer, label, outer, inner, channels, ignore):
    """Labels as an (outer, inner) long tensor (Caffe casts the float label to int), checked against the classes."""
    if label.numel() != outer * inner:
        raise layer.error(f'the label has {label.numel()} values, the prediction needs {outer} x {inner} = '
                          f'{outer * inner} (label shape {tuple(label.shape)})')
    lab = label.detach().reshape(outer, inner)
    lab = lab.long() if lab.is_floating_point() else lab.to(torch.long)
    valid = None if ignore is None else lab != ignore
    if lab.device.type != 'meta':
        bad = (lab < 0) | (lab >= channels)
        if valid is not None:
            bad &= valid
        if bool(bad.any()):
            v = lab[bad][0].item()
            raise layer.error(f'label value {v} is outside [0, {channels}) and is not the ignore_label '
                              f'({ignore})')
    return lab, valid


class _SoftmaxLossFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, prob, lab, valid, normalizer):
        # x: (outer, C, inner); prob: its softmax; lab: (outer, inner) long; valid: bool mask or None
        safe = lab if valid is None else torch.where(valid, lab, torch.zeros_like(lab))
        p = prob.gather(1, safe.unsqueeze(1)).squeeze(1)
        logp = torch.log(torch.clamp(p, min=FLT_MIN))
        if valid is not None:
            logp = torch.where(valid, logp, torch.zeros_like(logp))
        loss = -logp.sum(dtype=torch.float64).to(x.dtype) / normalizer
        ctx.save_for_backward(prob, safe, valid if valid is not None else torch.empty(0))
        ctx.has_valid = valid is not None
        ctx.normalizer = normalizer
        return loss

    @staticmethod
    def backward(ctx, grad):
        prob, safe, valid = ctx.saved_tensors
        g = prob.clone()
        g.scatter_add_(1, safe.unsqueeze(1), torch.full_like(g[:, :1], -1.0))
        if ctx.has_valid:
            g = g * valid.unsqueeze(1).to(g.dtype)
        g = g * (grad / ctx.normalizer)
        return g, None, None, None, None


@register
class SoftmaxWithLoss(CaffeLayer):
    type_name = 'SoftmaxWithLoss'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        if len(lp.top) not in (1, 2):
            raise self.error(f'has {len(lp.top)} tops (the loss, and optionally the probabilities)')
        if len(lp.propagate_down) > 1 and lp.propagate_down[1]:
            raise self.error('cannot backpropagate to the label input')
        shape = bottom_shapes[0]
        self.axis = canonical_axis(lp.softmax_param.axis, len(shape), self)
        lpar = lp.loss_param
        self.ignore = lpar.ignore_label if lpar.HasField('ignore_label') else None
        if lpar.HasField('normalize'):
            self.mode = _N.VALID if lpar.normalize else _N.BATCH_SIZE
        else:
            self.mode = lpar.normalization

    def forward(self, x, label):
        s = x.shape
        outer, C, inner = count(s, 0, self.axis), s[self.axis], count(s, self.axis + 1)
        lab, valid = _labels(self, label, outer, inner, C, self.ignore)
        x3 = x.reshape(outer, C, inner)
        if x3.dtype in (torch.float16, torch.bfloat16):     # the fast modes: the loss itself in float32
            x3 = x3.float()
        prob = torch.softmax(x3.detach(), dim=1)
        if self.mode == _N.FULL:
            norm = float(outer * inner)
        elif self.mode == _N.VALID:
            norm = float(outer * inner) if valid is None else float(valid.sum().item()) \
                if valid.device.type != 'meta' else 1.0
        elif self.mode == _N.BATCH_SIZE:
            norm = float(outer)
        else:
            norm = 1.0
        norm = max(1.0, norm)
        loss = _SoftmaxLossFn.apply(x3, prob, lab, valid, norm)
        if len(self.lp.top) > 1:
            return loss, prob.reshape(s)
        return (loss,)


@register
class Softmax(CaffeLayer):
    type_name = 'Softmax'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.axis = canonical_axis(lp.softmax_param.axis, len(bottom_shapes[0]), self)

    def forward(self, x):
        return (torch.softmax(x, dim=self.axis),)


@register
class Accuracy(CaffeLayer):
    """Top-k accuracy over non-ignored positions (a class ranks above the true one if its score is >= the true
    score); an optional second top holds the per-class accuracy. No gradient."""
    type_name = 'Accuracy'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.accuracy_param
        if len(lp.top) not in (1, 2):
            raise self.error(f'has {len(lp.top)} tops (the accuracy, and optionally the per-class accuracy)')
        self.top_k = p.top_k
        self.axis = canonical_axis(p.axis, len(bottom_shapes[0]), self)
        self.ignore = p.ignore_label if p.HasField('ignore_label') else None
        C = bottom_shapes[0][self.axis]
        if self.top_k > C:
            raise self.error(f'top_k {self.top_k} exceeds the {C} classes')

    @torch.no_grad()
    def forward(self, x, label):
        s = x.shape
        outer, C, inner = count(s, 0, self.axis), s[self.axis], count(s, self.axis + 1)
        lab, valid = _labels(self, label, outer, inner, C, self.ignore)
        x3 = x.reshape(outer, C, inner)
        safe = lab if valid is None else torch.where(valid, lab, torch.zeros_like(lab))
        true = x3.gather(1, safe.unsqueeze(1))
        better = (x3 >= true).sum(dim=1) - 1
        correct = better < self.top_k
        if valid is None:
            valid = torch.ones_like(correct)
        n = valid.sum()
        acc = torch.where(n > 0, (correct & valid).sum().to(x.dtype) / n.clamp(min=1).to(x.dtype),
                          torch.zeros((), dtype=x.dtype, device=x.device))
        if len(self.lp.top) == 1:
            return (acc,)
        onehot = torch.zeros((C, outer * inner), dtype=x.dtype, device=x.device)
        flat_lab, flat_valid = safe.reshape(-1), valid.reshape(-1)
        onehot[flat_lab, torch.arange(outer * inner, device=x.device)] = flat_valid.to(x.dtype)
        nums = onehot.sum(dim=1)
        hits = (onehot * (correct.reshape(-1) & flat_valid).to(x.dtype)).sum(dim=1)
        per_class = torch.where(nums > 0, hits / nums.clamp(min=1), torch.zeros_like(nums))
        return acc, per_class


@register
class ArgMax(CaffeLayer):
    """Indices (or, with out_max_val, values) of the top_k largest entries along `axis`; without an axis, over all
    of each item's values, giving (N, 1 or 2, top_k). Ties are ordered as Caffe's sort orders them (the larger index
    first)."""
    type_name = 'ArgMax'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.argmax_param
        self.top_k, self.out_max_val = p.top_k, p.out_max_val
        shape = bottom_shapes[0]
        self.axis = canonical_axis(p.axis, len(shape), self) if p.HasField('axis') else None
        n = shape[self.axis] if self.axis is not None else count(shape, 1)
        if self.top_k < 1 or self.top_k > n:
            raise self.error(f'top_k {self.top_k} must be in [1, {n}]')

    @torch.no_grad()
    def forward(self, x):
        if self.axis is None:
            v = x.reshape(x.shape[0], -1)
            dim = 1
        else:
            v, dim = x, self.axis
        n = v.shape[dim]
        flipped = v.flip(dim)
        vals, idx = torch.sort(flipped, dim=dim, descending=True, stable=True)
        vals = vals.narrow(dim, 0, self.top_k)
        idx = (n - 1 - idx.narrow(dim, 0, self.top_k)).to(x.dtype)
        if self.axis is None:
            out = torch.stack([idx, vals], 1) if self.out_max_val else idx.unsqueeze(1)
            return (out.reshape(self.top_shapes([x.shape])[0]),)
        return (vals if self.out_max_val else idx,)
