"""The loss layers besides SoftmaxWithLoss: EuclideanLoss, SigmoidCrossEntropyLoss, InfogainLoss, HingeLoss,
ContrastiveLoss, MultinomialLogisticLoss (src/caffe/layers/*_loss_layer.cpp). Each gives a scalar top; labels get
no diff (their records name them). Where Caffe's backward is not the gradient of its forward (floors, the 1e-4 of
ContrastiveLoss), a custom autograd Function gives Caffe's."""
import numpy as np
import torch

from netspec import caffe_pb2, read_binary
from .registry import register
from .base import CaffeLayer, count

_N = caffe_pb2.LossParameter
LOG_THRESHOLD = 1e-20      # Caffe's kLOG_THRESHOLD


def normalizer(mode, outer, inner, valid_count=None):
    """Caffe's LossLayer::GetNormalizer: FULL outer x inner, VALID the non-ignored count (all without an
    ignore_label), BATCH_SIZE outer, NONE 1; at least 1."""
    if mode == _N.FULL:
        n = outer * inner
    elif mode == _N.VALID:
        n = outer * inner if valid_count is None else valid_count
    elif mode == _N.BATCH_SIZE:
        n = outer
    else:
        n = 1
    return max(1.0, float(n))


def _sum(t):
    """A float32 sum accumulated in float64."""
    return t.sum(dtype=torch.float64).to(t.dtype)


@register
class EuclideanLoss(CaffeLayer):
    """sum((a - b)^2) / N / 2; both bottoms get a diff (+-(a - b) / N)."""
    type_name = 'EuclideanLoss'

    def forward(self, a, b):
        d = a - b.reshape(a.shape)
        return (_sum(d * d) / a.shape[0] / 2,)


class _SigmoidCEFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, target, valid, norm):
        pos = (x >= 0).to(x.dtype)
        per = x * (target - pos) - torch.log1p(torch.exp(x - 2 * x * pos))
        if valid is not None:
            per = torch.where(valid, per, torch.zeros_like(per))
        ctx.save_for_backward(x, target, valid if valid is not None else torch.empty(0))
        ctx.has_valid, ctx.norm = valid is not None, norm
        return -_sum(per) / norm

    @staticmethod
    def backward(ctx, g):
        x, target, valid = ctx.saved_tensors
        d = torch.sigmoid(x) - target
        if ctx.has_valid:
            d = torch.where(valid, d, torch.zeros_like(d))
        return d * (g / ctx.norm), None, None, None


@register
class SigmoidCrossEntropyLoss(CaffeLayer):
    """-sum(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) in Caffe's stable form, over the targets that are not
    loss_param.ignore_label, divided by the normalizer (loss_param.normalization; BATCH_SIZE by default, the legacy
    `normalize` meaning VALID when true); gradient (sigmoid(x) - t) / normalizer, 0 where ignored."""
    type_name = 'SigmoidCrossEntropyLoss'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.loss_param
        self.ignore = p.ignore_label if p.HasField('ignore_label') else None
        if p.HasField('normalization'):
            self.mode = p.normalization
        elif p.HasField('normalize'):
            self.mode = _N.VALID if p.normalize else _N.BATCH_SIZE
        else:
            self.mode = _N.BATCH_SIZE

    def forward(self, x, target):
        t = target.detach().reshape(x.shape).to(x.dtype)
        valid = None if self.ignore is None else t != self.ignore
        nvalid = None if valid is None else int(valid.sum().item())
        norm = normalizer(self.mode, x.shape[0], count(x.shape, 1), nvalid)
        return (_SigmoidCEFn.apply(x, t, valid, norm),)


def _int_labels(layer, label, num, dim):
    if label.numel() != num:
        raise layer.error(f'needs one label per item ({num}), got shape {tuple(label.shape)}')
    lab = label.detach().reshape(num).to(torch.long)
    if bool(((lab < 0) | (lab >= dim)).any()):
        raise layer.error(f'label value {int(lab[(lab < 0) | (lab >= dim)][0])} is outside [0, {dim})')
    return lab


class _LogLossFn(torch.autograd.Function):
    """-sum(w * log(max(p, 1e-20))) / num with Caffe's gradient -w / max(p, 1e-20) / num (also where floored)."""

    @staticmethod
    def forward(ctx, p, w, num):
        floored = torch.clamp(p, min=LOG_THRESHOLD)
        ctx.save_for_backward(floored, w)
        ctx.num = num
        return -_sum(w * torch.log(floored)) / num

    @staticmethod
    def backward(ctx, g):
        floored, w = ctx.saved_tensors
        return -w / floored * (g / ctx.num), None, None


@register
class MultinomialLogisticLoss(CaffeLayer):
    """-sum_n log(max(p[n, label_n], 1e-20)) / N over probabilities p (N x dim)."""
    type_name = 'MultinomialLogisticLoss'

    def forward(self, p, label):
        num = p.shape[0]
        p2 = p.reshape(num, -1)
        lab = _int_labels(self, label, num, p2.shape[1])
        w = torch.zeros_like(p2).scatter_(1, lab[:, None], 1.0)
        return (_LogLossFn.apply(p2, w, num),)


@register
class InfogainLoss(CaffeLayer):
    """-sum_n sum_j H[label_n, j] log(max(p[n, j], 1e-20)) / N over probabilities p (N x dim), H the dim x dim
    infogain matrix: bottom 2, or the binary BlobProto infogain_loss_param.source. Caffe 1.0's layer: it reads
    probabilities (the softmax inside, and `axis`, came later: a non-default axis is refused)."""
    type_name = 'InfogainLoss'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.infogain_loss_param
        if p.HasField('axis') and p.axis != 1:
            raise self.error(f'infogain_loss_param.axis {p.axis}: the axis (and the softmax) of InfogainLoss came '
                             'after Caffe 1.0, whose layer reads probabilities N x dim')
        dim = count(bottom_shapes[0], 1)
        self.H = None
        if len(bottom_shapes) < 3:
            if not p.source:
                raise self.error('the infogain matrix source must be specified (or given as bottom 2)')
            try:
                blob = read_binary(p.source, 'BlobProto')
            except Exception as e:
                raise self.error(f'cannot read the infogain matrix {p.source!r}: {e}') from None
            H = np.asarray(blob.data, dtype=np.float32)
            if H.size != dim * dim:
                raise self.error(f'the infogain matrix {p.source!r} has {H.size} values, needs {dim} x {dim}')
            self.H = torch.from_numpy(H.reshape(dim, dim)).to(ctx.device)

    def forward(self, p, label, H=None):
        num = p.shape[0]
        p2 = p.reshape(num, -1)
        lab = _int_labels(self, label, num, p2.shape[1])
        H = (self.H if H is None else H.detach()).reshape(p2.shape[1], p2.shape[1]).to(p2.dtype)
        return (_LogLossFn.apply(p2, H[lab], num),)


@register
class HingeLoss(CaffeLayer):
    """One-vs-all hinge: with t = -1 at the label and +1 elsewhere, m = max(0, 1 + t x); L1 sum(m) / N, L2
    sum(m^2) / N (hinge_loss_param.norm)."""
    type_name = 'HingeLoss'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.norm = lp.hinge_loss_param.norm

    def forward(self, x, label):
        num = x.shape[0]
        x2 = x.reshape(num, -1)
        lab = _int_labels(self, label, num, x2.shape[1])
        sign = torch.ones_like(x2).scatter_(1, lab[:, None], -1.0)
        m = torch.relu(1 + sign * x2)
        if self.norm == caffe_pb2.HingeLossParameter.L1:
            return (_sum(m) / num,)
        return (_sum(m * m) / num,)


class _ContrastiveFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, similar, margin, legacy):
        diff = a - b
        dist_sq = (diff * diff).sum(dim=1)
        if legacy:
            dissimilar = torch.clamp(margin - dist_sq, min=0)
        else:
            dissimilar = torch.clamp(margin - torch.sqrt(dist_sq), min=0) ** 2
        per = torch.where(similar, dist_sq, dissimilar)
        ctx.save_for_backward(diff, dist_sq, similar)
        ctx.margin, ctx.legacy = margin, legacy
        return _sum(per) / a.shape[0] / 2

    @staticmethod
    def backward(ctx, g):
        diff, dist_sq, similar = ctx.saved_tensors
        alpha = g / diff.shape[0]
        if ctx.legacy:
            mdist = ctx.margin - dist_sq
            beta = -alpha * torch.ones_like(dist_sq)
        else:
            dist = torch.sqrt(dist_sq)
            mdist = ctx.margin - dist
            beta = -alpha * mdist / (dist + 1e-4)
        coef = torch.where(similar, alpha * torch.ones_like(dist_sq), torch.where(mdist > 0, beta,
                                                                                    torch.zeros_like(beta)))
        da = coef[:, None] * diff
        return da, -da, None, None, None


@register
class ContrastiveLoss(CaffeLayer):
    """sum over pairs of d^2 (similar, label != 0) or max(margin - d, 0)^2 (dissimilar; legacy_version:
    max(margin - d^2, 0)), over 2N; d the Euclidean distance of the two N x C features. Caffe's backward divides
    by d + 1e-4 for dissimilar pairs."""
    type_name = 'ContrastiveLoss'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.contrastive_loss_param
        self.margin, self.legacy = p.margin, p.legacy_version

    def forward(self, a, b, y):
        n = a.shape[0]
        similar = y.detach().reshape(n).to(torch.int64) != 0
        return (_ContrastiveFn.apply(a.reshape(n, -1), b.reshape(n, -1), similar, self.margin, self.legacy),)
