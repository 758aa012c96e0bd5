"""BatchNorm, Bias and MVN (src/caffe/layers/batch_norm_layer.cpp, bias_layer.cpp, mvn_layer.cpp).

BatchNorm normalizes each channel (axis 1) over the batch and the spatial axes: with batch statistics (TRAIN, unless
use_global_stats) y = (x - mean) / sqrt(var + eps), var the biased variance, and the three blobs updated in the
forward as Caffe does: s = maf s + 1, mean_blob = maf mean_blob + mean, var_blob = maf var_blob + m/(m-1) var (m =
count / channels); with global statistics (TEST by default) the blobs divided by s (0 where s is 0). Its blobs are
statistics, never learned: they take lr_mult 0 (given otherwise, Caffe 1.0 refuses the net; three given ParamSpecs,
the older definition's, are dropped first, as Caffe's UpgradeNetBatchNorm does). No scale or shift:
Caffe follows BatchNorm with a Scale layer (bias_term) for those.
(The oracle's fork lacks the lr_mult 0 masking, so there weight decay shrinks the statistics: the fixtures train
without weight decay.)
"""
import torch

from netspec import caffe_pb2, sizes
from ..phase import TEST
from .registry import register
from .base import CaffeLayer, LayerError


@register
class BatchNorm(CaffeLayer):
    type_name = 'BatchNorm'
    fresh_top = True

    def __init__(self, lp, bottom_shapes, ctx):
        lp = _with_fixed_params(lp)
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.batch_norm_param
        self.global_stats = p.use_global_stats if p.HasField('use_global_stats') else ctx.phase == TEST
        self.fraction = p.moving_average_fraction
        self.eps = p.eps
        zero = caffe_pb2.FillerParameter(type='constant', value=0)
        for shape in self.sized(self.record.blobs, lp, bottom_shapes):
            self.add_blob(shape, zero)

    def _axes(self, x):
        return (0,) + tuple(range(2, x.dim()))

    def _view(self, t, x):
        return t.reshape((1, -1) + (1,) * (x.dim() - 2)) if x.dim() > 1 else t

    def forward(self, x):
        mean_blob, var_blob, factor = self.blobs
        if self.global_stats:
            f = factor.detach()[0]
            scale = torch.where(f == 0, torch.zeros_like(f), 1 / f)
            mean, var = mean_blob.detach() * scale, var_blob.detach() * scale
            centered = x - self._view(mean, x)
        else:
            axes = self._axes(x) if x.dim() > 1 else (0,)
            mean = x.mean(dim=axes)
            centered = x - self._view(mean, x)
            var = (centered * centered).mean(dim=axes)
            if not getattr(self.ctx, 'replaying', False):
                self._update(mean.detach(), var.detach(), x)
        return (centered / self._view(torch.sqrt(var + self.eps), x),)

    @torch.no_grad()
    def _update(self, mean, var, x):
        mean_blob, var_blob, factor = self.blobs
        m = x.numel() // (1 if x.dim() == 1 else x.shape[1])
        correction = float(torch.tensor(m / (m - 1) if m > 1 else 1.0, dtype=torch.float32))
        factor.mul_(self.fraction).add_(1)
        mean_blob.mul_(self.fraction).add_(mean)
        var_blob.mul_(self.fraction).add_(var * correction)


def _with_fixed_params(lp):
    """lp with the ParamSpecs Caffe 1.0 gives the three statistics blobs: three given specs are dropped (the
    upgrade of the older definition, UpgradeNetBatchNorm), then each blob without one gets lr_mult 0; a given spec
    with another lr_mult is refused."""
    given = [] if len(lp.param) == 3 else list(lp.param)
    for i, spec in enumerate(given):
        if spec.lr_mult != 0:
            raise LayerError(f'layer {lp.name!r} (type {lp.type}): param {i} has lr_mult {spec.lr_mult}: batch '
                             'normalization statistics cannot be configured as layer parameters')
    out = caffe_pb2.LayerParameter()
    out.CopyFrom(lp)
    del out.param[:]
    out.param.extend(given)
    while len(out.param) < 3:
        out.param.add(lr_mult=0)
    return out


@register
class Bias(CaffeLayer):
    """top = bottom + bias, the bias broadcast over axes [axis, axis + num_axes): a learned blob (default filler
    constant 0) with one bottom, bottom 1 with two."""
    type_name = 'Bias'
    fresh_top = True

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.bias_param
        self.axis, shape = self.sized(sizes.scale_axes, p, bottom_shapes)
        self.nax = len(shape)
        self.bias = self.add_blob(shape, p.filler if p.HasField('filler') else None) if len(bottom_shapes) == 1 \
            else None

    def forward(self, x, b=None):
        b = self.bias if b is None else b
        return (x + b.reshape((1,) * self.axis + tuple(b.shape) + (1,) * (x.dim() - self.axis - self.nax)),)


class _MVNFn(torch.autograd.Function):
    """y = (x - mean) / (std + eps) with Caffe's backward: (dy - mean(dy) - y mean(dy y)) / (std + eps)."""

    @staticmethod
    def forward(ctx, x, dims, eps):
        centered = x - x.mean(dim=dims, keepdim=True)
        denom = torch.sqrt((centered * centered).mean(dim=dims, keepdim=True)) + eps
        y = centered / denom
        ctx.save_for_backward(y, denom)
        ctx.dims = dims
        return y

    @staticmethod
    def backward(ctx, g):
        y, denom = ctx.saved_tensors
        dims = ctx.dims
        d = g - g.mean(dim=dims, keepdim=True) - y * (g * y).mean(dim=dims, keepdim=True)
        return d / denom, None, None


@register
class MVN(CaffeLayer):
    """Mean (and variance) normalization of each item's channel (or, across_channels, of each item): x - mean, and
    with normalize_variance (the default) divided by std + eps (eps added to the standard deviation, as Caffe)."""
    type_name = 'MVN'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.mvn_param
        self.normalize, self.eps = p.normalize_variance, p.eps
        nd = len(bottom_shapes[0])
        self.dims = tuple(range(1 if p.across_channels else 2, nd))
        if not self.dims:
            raise self.error(f'needs axes to normalize over, got a {nd}-axis bottom')

    def forward(self, x):
        if self.normalize:
            return (_MVNFn.apply(x, self.dims, self.eps),)
        return (x - x.mean(dim=self.dims, keepdim=True),)
