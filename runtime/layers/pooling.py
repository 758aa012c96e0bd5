"""Pooling with Caffe's geometry (src/caffe/layers/pooling_layer.cpp).

out = ceil((H + 2p - k)/s) + 1 (floor with round_mode FLOOR); with padding, if (out-1)*s >= H + p the last window
would start in the padding, so out -= 1. MAX windows are clipped to the image. AVE divides by the window size
clipped to H + p (padding counts, the overhang past it does not). torch's ceil_mode pooling follows the same rules
where its own constraints allow (pad <= k/2); other cases take an explicit-padding path with Caffe's divisors.
"""
import math

import torch
import torch.nn.functional as F

from netspec import caffe_pb2
from .registry import register
from .base import CaffeLayer

_P = caffe_pb2.PoolingParameter
FLT_MAX = 3.4028234663852886e38


def caffe_pooled_size(size, k, s, p, ceil=True):
    """Caffe's output size along one axis."""
    if ceil:
        out = int(math.ceil((size + 2 * p - k) / s)) + 1
    else:
        out = (size + 2 * p - k) // s + 1
    if p and (out - 1) * s >= size + p:
        out -= 1
    return out


def _torch_pooled_size(size, k, s, p, ceil):
    num = size + 2 * p - k + (s - 1 if ceil else 0)
    out = num // s + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def _ave_divisor(size, k, s, p, out):
    start = torch.arange(out, dtype=torch.float64) * s - p
    end = torch.minimum(start + k, torch.tensor(float(size + p), dtype=torch.float64))
    return end - start


@register
class Pooling(CaffeLayer):
    type_name = 'Pooling'
    exact_bottoms = 1

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.pooling_param
        if len(lp.top) not in (1, 2):
            raise self.error(f'has {len(lp.top)} tops (1, or 2 for MAX with the argmax mask)')
        if len(bottom_shapes[0]) != 4:
            raise self.error(f'needs a 4-axis bottom (N, C, H, W), got shape {tuple(bottom_shapes[0])}')
        if len(lp.top) == 2:
            raise self.error('the second (mask) top is not supported')
        self.pool = p.pool
        if self.pool == _P.STOCHASTIC:
            raise self.error('STOCHASTIC pooling is not supported')
        self.global_pooling = p.global_pooling
        if self.global_pooling:
            if p.HasField('kernel_size') or p.HasField('kernel_h') or p.HasField('kernel_w'):
                raise self.error('with global_pooling the kernel size cannot be given')
        else:
            if p.HasField('kernel_size') == (p.HasField('kernel_h') or p.HasField('kernel_w')):
                raise self.error('give either kernel_size or kernel_h and kernel_w')
            if not p.HasField('kernel_size') and not (p.HasField('kernel_h') and p.HasField('kernel_w')):
                raise self.error('kernel_h and kernel_w must both be given')
        if p.HasField('pad') and (p.HasField('pad_h') or p.HasField('pad_w')):
            raise self.error('give either pad or pad_h and pad_w')
        if p.HasField('stride') and (p.HasField('stride_h') or p.HasField('stride_w')):
            raise self.error('give either stride or stride_h and stride_w')
        self.pad = (p.pad_h, p.pad_w) if not p.HasField('pad') else (p.pad, p.pad)
        self.stride = (p.stride_h, p.stride_w) if (p.HasField('stride_h') or p.HasField('stride_w')) \
            else (p.stride, p.stride)
        self.kernel = (p.kernel_size, p.kernel_size) if p.HasField('kernel_size') else (p.kernel_h, p.kernel_w)
        if self.global_pooling and (any(self.pad) or any(s != 1 for s in self.stride)):
            raise self.error('with global_pooling, pad must be 0 and stride 1')
        self.ceil = p.round_mode == _P.CEIL
        if any(s <= 0 for s in self.stride):
            raise self.error(f'stride must be positive, got {self.stride}')
        self._plan_for = None

    def _geometry(self, shape):
        H, W = shape[2], shape[3]
        k = (H, W) if self.global_pooling else self.kernel
        if any(kk <= 0 for kk in k):
            raise self.error(f'kernel size must be positive, got {k}')
        if any(pp >= kk for pp, kk in zip(self.pad, k)):
            raise self.error(f'pad {self.pad} must be smaller than the kernel {k}')
        out = tuple(caffe_pooled_size(n, kk, s, pp, self.ceil) for n, kk, s, pp in zip((H, W), k, self.stride,
                                                                                         self.pad))
        return k, out

    def top_shapes(self, bottom_shapes):
        s = bottom_shapes[0]
        _, out = self._geometry(s)
        if any(o <= 0 for o in out):
            raise self.error(f'bottom shape {tuple(s)} gives the output size {out}')
        return [(s[0], s[1]) + out]

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

    def forward(self, x):
        direct, k, out, extra, divisor = self._plan(x.shape)
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
