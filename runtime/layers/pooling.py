"""Pooling with Caffe's geometry (src/caffe/layers/pooling_layer.cpp).

Sizes (netspec.sizes.pooled_size): out = ceil((H + 2p - k)/s) + 1 (floor with round_mode FLOOR); with padding, if
(out-1)*s >= H + p the last window would start in the padding, so out -= 1. MAX windows are clipped to the image.
AVE divides by the window size clipped to H + p (padding counts, the overhang past it does not). torch's ceil_mode
pooling follows the same rules where its own constraints allow (pad <= k/2); other cases take an explicit-padding
path with Caffe's divisors.
"""
import torch
import torch.nn.functional as F

from netspec import caffe_pb2, sizes
from netspec.sizes import pool_geometry, pool_window, pooled_size
from ..phase import TRAIN
from .registry import register
from .base import CaffeLayer

_P = caffe_pb2.PoolingParameter
FLT_MAX = 3.4028234663852886e38
FLT_MIN = 1.1754943508222875e-38


caffe_pooled_size = pooled_size    # Caffe's output size along one axis (the rule lives in netspec.sizes)


def _torch_pooled_size(size, k, s, p, ceil):
    """torch's output size (its pooling_output_shape): Caffe's, except that in ceil mode torch also drops a last
    window starting past the input when there is no padding (Caffe drops it only with padding)."""
    out = pooled_size(size, k, s, p, ceil)
    if ceil and not p and (out - 1) * s >= size:
        out -= 1
    return out


def _ave_divisor(size, k, s, p, out):
    start = torch.arange(out, dtype=torch.float64) * s - p
    end = torch.minimum(start + k, torch.tensor(float(size + p), dtype=torch.float64))
    return end - start


class _NoTestBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y, x, error):
        ctx.error = error
        return y.clone()

    @staticmethod
    def backward(ctx, g):
        raise ctx.error


@register
class Pooling(CaffeLayer):
    type_name = 'Pooling'
    fresh_top = True

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.pooling_param
        if len(lp.top) not in (1, 2):
            raise self.error(f'has {len(lp.top)} tops (1, or 2 for MAX with the argmax mask)')
        if len(lp.top) == 2 and p.pool != _P.MAX:
            raise self.error('only MAX pooling has a second top (the argmax mask)')
        self.with_mask = len(lp.top) == 2
        self.pool = p.pool
        self.train_phase = ctx.phase == TRAIN
        self.geometry = self.sized(pool_geometry, p, bottom_shapes[0])
        self.global_pooling, self.ceil = self.geometry.global_pooling, self.geometry.ceil
        self.stride, self.pad, self.kernel = self.geometry.stride, self.geometry.pad, self.geometry.kernel
        self._plan_for = None

    def _geometry(self, shape):
        return self.sized(pool_window, self.geometry, (shape[2], shape[3]))

    def _plan(self, shape):
        """How to pool a bottom of this spatial shape: torch's kernel directly, or explicit padding."""
        key = (shape[2], shape[3])
        if self._plan_for is not None and self._plan_for[0] == key:
            return self._plan_for[1]
        k, out = self._geometry(shape)
        direct = all(pp <= kk // 2 for pp, kk in zip(self.pad, k)) and all(
            _torch_pooled_size(n, kk, s, pp, self.ceil) == o
            for n, kk, s, pp, o in zip(key, k, self.stride, self.pad, out))
        extra = divisor = None
        if not direct:
            # pad so that every Caffe window fits, pool without padding, keep Caffe's output size
            extra = tuple(max(0, (o - 1) * s + kk - n - pp) for n, kk, s, pp, o in zip(key, k, self.stride,
                                                                                         self.pad, out))
            if self.pool == _P.AVE:
                dh = _ave_divisor(key[0], k[0], self.stride[0], self.pad[0], out[0])
                dw = _ave_divisor(key[1], k[1], self.stride[1], self.pad[1], out[1])
                divisor = (dh[:, None] * dw[None, :]).to(torch.float32)
        plan = (direct, k, out, extra, divisor)
        self._plan_for = (key, plan)
        return plan

    def _max_with_mask(self, x, direct, k, out, extra):
        """MAX pooling and Caffe's mask top: the flat index h * W + w in its map of each window's (first) maximum,
        as a float blob; the mask gets no diff."""
        if direct:
            y, idx = F.max_pool2d(x, k, self.stride, self.pad, 1, self.ceil, return_indices=True)
        else:
            (ph, pw), (eh, ew) = self.pad, extra
            xp = F.pad(x, (pw, ew, ph, eh), value=-FLT_MAX)
            y, idx = F.max_pool2d(xp, k, self.stride, 0, 1, False, return_indices=True)
            y, idx = y[:, :, :out[0], :out[1]], idx[:, :, :out[0], :out[1]]
            wp = x.shape[3] + pw + ew
            idx = (idx // wp - ph) * x.shape[3] + (idx % wp - pw)
        return y, idx.detach().to(x.dtype)

    def _stochastic(self, x):
        """Caffe's STOCHASTIC pooling (its CUDA kernels; the CPU build has none). Windows start at s * y, padding
        ignored, clipped to the map. TRAIN: in each window an element is drawn with probability value / sum (the
        first whose running sum reaches u * sum, u uniform in [0, 1): inputs are meant to be non-negative) and
        passed on, its diff going back to it; TEST: sum(v^2) / (FLT_MIN + sum(v))."""
        (kh, kw), (oh, ow) = self._geometry(x.shape)
        (sh, sw) = self.stride
        nh, nw = (oh - 1) * sh + kh, (ow - 1) * sw + kw
        xp = F.pad(x, (0, max(0, nw - x.shape[3]), 0, max(0, nh - x.shape[2])))[:, :, :nh, :nw]
        n, c = x.shape[:2]
        cols = F.unfold(xp.reshape(n * c, 1, nh, nw), (kh, kw), stride=(sh, sw)).reshape(n, c, kh * kw, oh * ow)
        if self.train_phase:
            with torch.no_grad():
                cum = torch.cumsum(cols, dim=2)
                thres = torch.rand_like(cols[:, :, :1]) * cum[:, :, -1:]
                reached = cum >= thres
                idx = torch.where(reached.any(dim=2, keepdim=True), reached.to(torch.uint8).argmax(dim=2, keepdim=True),
                                  torch.full_like(thres, kh * kw - 1, dtype=torch.long))
            return (cols.gather(2, idx).reshape(n, c, oh, ow),)
        with torch.no_grad():
            y = ((cols * cols).sum(dim=2) / (cols.sum(dim=2) + FLT_MIN)).reshape(n, c, oh, ow)
        if torch.is_grad_enabled() and x.requires_grad:
            y = _NoTestBackward.apply(y, x, self.error('STOCHASTIC pooling has no backward in the TEST phase in '
                                                       'Caffe (its backward reads the TRAIN draw)'))
        return (y,)

    def forward(self, x):
        if self.pool == _P.STOCHASTIC:
            return self._stochastic(x)
        direct, k, out, extra, divisor = self._plan(x.shape)
        if self.with_mask:
            return self._max_with_mask(x, direct, k, out, extra)
        if direct:
            if self.pool == _P.MAX:
                return (F.max_pool2d(x, k, self.stride, self.pad, 1, self.ceil),)
            return (F.avg_pool2d(x, k, self.stride, self.pad, self.ceil, True),)
        (ph, pw), (eh, ew) = self.pad, extra
        if self.pool == _P.MAX:
            xp = F.pad(x, (pw, ew, ph, eh), value=-FLT_MAX)
            y = F.max_pool2d(xp, k, self.stride, 0, 1, False)
        else:
            xp = F.pad(x, (pw, ew, ph, eh), value=0.0)
            y = F.avg_pool2d(xp, k, self.stride, 0, False, True, divisor_override=1)
        y = y[:, :, :out[0], :out[1]]
        if divisor is not None:
            y = y / divisor.to(device=y.device, dtype=y.dtype)
        return (y,)


@register
class SPP(CaffeLayer):
    """Spatial pyramid pooling (src/caffe/layers/spp_layer.cpp): level l pools the map into 2^l x 2^l bins
    (netspec.sizes.spp_levels: kernel ceil(size / bins), stride the kernel, padding to cover the map) with this
    runtime's Pooling; pyramid_height 1 gives that pooling's output, more levels their flattened outputs
    concatenated along axis 1."""
    type_name = 'SPP'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.spp_param
        self.levels = []
        for i, g in enumerate(self.sized(sizes.spp_levels, p, tuple(bottom_shapes[0]))):
            level = caffe_pb2.LayerParameter(name=f'{lp.name}_level{i}', type='Pooling', bottom=[lp.bottom[0]],
                                             top=[f'{lp.name}_level{i}'])
            q = level.pooling_param
            q.pool = p.pool
            q.kernel_h, q.kernel_w = g.kernel
            q.stride_h, q.stride_w = g.stride
            q.pad_h, q.pad_w = g.pad
            self.levels.append(Pooling(level, bottom_shapes, ctx))

    def forward(self, x):
        outs = [level(x)[0] for level in self.levels]
        if len(outs) == 1:
            return (outs[0],)
        return (torch.cat([o.reshape(o.shape[0], -1) for o in outs], dim=1),)
