"""Convolution and Deconvolution (Caffe's BaseConvolutionLayer geometry; weights in Caffe's and torch's layout).

Convolution weight: (C_out, C_in/group, *kernel); Deconvolution weight: (C_in, C_out/group, *kernel), the same as
torch's conv_transpose. Bias: (C_out,). Sizes and settings: netspec.sizes (conv_size, deconv_size, conv_geometry).
The channel axis is convolution_param.axis (the axes before it batch axes, folded into one); 1 to 3 spatial axes
run on torch's convolutions, more on Caffe's im2col_nd scheme (im2col_nd.py), as Caffe's CPU build computes them.
"""
import math

import torch
import torch.nn.functional as F

from netspec import sizes
from ..precision import autocast_on_cpu
from .registry import register
from .base import CaffeLayer
from .im2col_nd import conv_nd, deconv_nd, im2col

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_DECONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class _ConvBase(CaffeLayer):
    fresh_top = True
    transposed = False

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.convolution_param
        if len(lp.bottom) != len(lp.top):
            raise self.error(f'needs as many tops as bottoms ({len(lp.bottom)} bottoms, {len(lp.top)} tops)')
        shape = bottom_shapes[0]
        g = self.sized(sizes.conv_geometry, p, bottom_shapes)
        self.axis = g.axis
        self.nsp = len(g.kernel)
        # another channel axis than 1 (batch axes folded) or more spatial axes than torch's convolutions take
        self.generic = self.axis != 1 or self.nsp > 3
        self.kernel, self.stride, self.pad, self.dilation = g.kernel, g.stride, g.pad, g.dilation
        self.group = p.group
        cin, cout = shape[self.axis], g.num_output
        if cin % self.group or cout % self.group:
            raise self.error(f'group {self.group} must divide the input channels ({cin}) and num_output ({cout})')
        self.num_output = cout
        if self.transposed:
            wshape = (cin, cout // self.group) + self.kernel
        else:
            wshape = (cout, cin // self.group) + self.kernel
        self.weight = self.add_blob(wshape, p.weight_filler if p.HasField('weight_filler') else None)
        self.bias = None
        if p.bias_term:
            self.bias = self.add_blob((cout,), p.bias_filler if p.HasField('bias_filler') else None)
        fn = (_DECONV if self.transposed else _CONV).get(self.nsp)
        self._fn = fn

    def _generic(self, x):
        """The batch axes folded into one, then torch's convolution (1 to 3 spatial axes) or Caffe's im2col_nd
        scheme (more)."""
        lead = tuple(x.shape[:self.axis])
        x = x.reshape((math.prod(lead),) + tuple(x.shape[self.axis:]))
        w, b, s, p, d, g = self.weight, self.bias, self.stride, self.pad, self.dilation, self.group
        if self._fn is None:
            y = (deconv_nd if self.transposed else conv_nd)(x, w, b, s, p, d, g)
        elif self.transposed:
            y = self._fn(x, w, b, s, p, 0, g, d)
        else:
            y = self._fn(x, w, b, s, p, d, g)
        return y.reshape(lead + tuple(y.shape[1:]))


def _matmul_1x1(x, w, b):
    """A 1x1, stride-1, unpadded, ungrouped convolution as one matrix product over the channels (in the input's own
    memory layout); faster than torch's CPU convolution kernels for FCN's fc7 and score layers."""
    if x.is_contiguous(memory_format=torch.channels_last):
        y = F.linear(x.permute(0, 2, 3, 1), w.reshape(w.shape[0], -1), b)
        return y.permute(0, 3, 1, 2)
    n, c, h, wd = x.shape
    y = torch.matmul(w.reshape(w.shape[0], -1), x.reshape(n, c, h * wd))
    if b is not None:
        y = y + b.reshape(1, -1, 1)
    return y.reshape(n, -1, h, wd)


class _Im2colConv(torch.autograd.Function):
    """Caffe's own scheme, im2col then one matrix product per image, forward and backward (weight diff = top diff x
    columns^T, bottom diff = col2im(W^T x top diff)): faster than torch's CPU kernels for large kernels on small maps
    (FCN's fc6, 7x7 on 22x22 at 500x500). The columns are recomputed in backward instead of kept (they are 49x the
    bottom there), and only what backward needs is saved: the bottom only when the weight learns."""

    @staticmethod
    def forward(ctx, x, w, b, stride, pad, dilation):
        n, _, h, wd = x.shape
        x = x.contiguous()
        oh, ow = (sizes.conv_size(v, k, s, p, d) for v, k, s, p, d in zip((h, wd), w.shape[2:], stride, pad, dilation))
        cols = F.unfold(x, w.shape[2:], dilation, pad, stride)
        w2 = w.reshape(w.shape[0], -1)
        y = x.new_empty((n, w.shape[0], oh, ow))      # a fresh tensor, not a view: in-place ReLU may follow
        torch.matmul(w2, cols, out=y.view(n, w.shape[0], oh * ow))
        if b is not None:
            y.add_(b.reshape(1, -1, 1, 1))
        ctx.geometry = (tuple(w.shape[2:]), stride, pad, dilation, (h, wd))
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, w)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        kernel, stride, pad, dilation, size = ctx.geometry
        n = g.shape[0]
        g2 = g.reshape(n, g.shape[1], -1)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = F.fold(torch.matmul(w.reshape(w.shape[0], -1).t(), g2), size, kernel, dilation, pad, stride)
        if ctx.needs_input_grad[1]:     # one product per image, summed as Caffe sums them (2-D products are faster)
            cols = F.unfold(x, kernel, dilation, pad, stride)
            gw = torch.mm(g2[0], cols[0].t())
            for i in range(1, n):
                gw.addmm_(g2[i], cols[i].t())
            gw = gw.reshape(w.shape)
        if ctx.needs_input_grad[2]:
            gb = g2.sum((0, 2))
        return gx, gw, gb, None, None, None


class _FrozenWeightConv(torch.autograd.Function):
    """A convolution (or deconvolution) whose weight does not learn (lr_mult 0: Caffe computes no diff for it): the
    bottom diff is the adjoint operation applied to the top diff, so only the weight is saved for backward, not the
    bottom that torch's own convolution backward would keep."""

    @staticmethod
    def forward(ctx, x, w, b, transposed, stride, pad, dilation, groups):
        fn = F.conv_transpose2d if transposed else F.conv2d
        y = fn(x, w, b, stride, pad, 0, groups, dilation) if transposed else fn(x, w, b, stride, pad, dilation, groups)
        ctx.geometry = (transposed, stride, pad, dilation, groups, tuple(x.shape[2:]))
        ctx.save_for_backward(w)
        return y

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        transposed, stride, pad, dilation, groups, size = ctx.geometry
        w = w.to(g.dtype)      # (a bfloat16 top diff after an autocast forward)
        gx = gb = None
        if ctx.needs_input_grad[0]:
            if transposed:
                gx = F.conv2d(g, w, None, stride, pad, dilation, groups)
            else:       # output_padding restores the rows and columns the strided forward skipped
                extra = tuple(sz - ((o - 1) * s - 2 * p + d * (k - 1) + 1)
                              for sz, o, s, p, d, k in zip(size, g.shape[2:], stride, pad, dilation, w.shape[2:]))
                gx = F.conv_transpose2d(g, w, None, stride, pad, extra, groups, dilation)
        if ctx.needs_input_grad[2]:
            gb = g.sum((0, 2, 3))
        return gx, None, gb, None, None, None, None, None


# Convolutions whose output has at least this many positions compute in channels_last on the CPU when a net records
# gradients (memory_format 'auto'): there oneDNN's channels_last kernels are faster forward and backward (VGG's
# conv1-conv3 at 500x500), while on smaller maps (conv4, conv5, fc6) NCHW is faster; README's "Speed and memory"
# gives the per-layer times.
CHANNELS_LAST_MIN_POSITIONS = 128 * 128


def compute_layout(ctx, out_positions):
    """The memory format a convolution converts a CPU bottom to before computing, or None to keep the bottom's own."""
    if getattr(ctx, 'mixed_layout', False):
        return torch.channels_last if out_positions >= CHANNELS_LAST_MIN_POSITIONS else torch.contiguous_format
    return None


@register
class Convolution(_ConvBase):
    """On the CPU, kernels of 5 or more on maps of at most 32x32 outputs (FCN's fc6) run as im2col + one matrix
    product, forward and backward, and forward-only 1x1 convolutions as one matrix product: both measured faster
    than torch's CPU convolution kernels there. A weight that does not learn (lr_mult 0) keeps no bottom for
    backward. Everything else uses torch's convolution."""
    type_name = 'Convolution'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        simple = self.nsp == 2 and self.group == 1 and not self.generic   # (matrix-product paths: CPU bottoms)
        self._one = simple and self.kernel == (1, 1) and self.stride == (1, 1) and self.pad == (0, 0) \
            and self.dilation == (1, 1)
        self._big = simple and min(self.kernel) >= 5
        if self._one or self._big:     # the matrix-product paths read the weight as (C_out, C_in * kh * kw)
            self.weight.data = self.weight.data.contiguous()
        out = self.top_shapes(bottom_shapes[:1])[0]
        self.layout = compute_layout(ctx, math.prod(out[2:])) if self.nsp == 2 and not self.generic else None

    def _one_bottom(self, x):
        if self.generic:
            return self._generic(x)
        w, b, s, p, d, g = self.weight, self.bias, self.stride, self.pad, self.dilation, self.group
        cpu = x.device.type == 'cpu'
        small_map = math.prod(sizes.conv_size(v, k, ss, pp, dd) for v, k, ss, pp, dd in
                              zip(x.shape[2:], self.kernel, s, p, d)) <= 1024
        if self._big and cpu and small_map and not autocast_on_cpu():
            return _Im2colConv.apply(x, w, b, s, p, d)
        if self.layout is not None and cpu:
            x = x.contiguous(memory_format=self.layout)
        if not torch.is_grad_enabled():
            return _matmul_1x1(x, w, b) if self._one and cpu else self._fn(x, w, b, s, p, d, g)
        if self.nsp == 2 and not w.requires_grad:
            return _FrozenWeightConv.apply(x, w, b, False, s, p, d, g)
        if cpu and b is not None and b.requires_grad and x.is_contiguous(memory_format=torch.channels_last):
            # the bias added on its own: its diff is then a plain sum over positions (torch's channels_last
            # convolution backward sums it several times slower than it computes VGG's conv1_1 weight diff)
            return self._fn(x, w, None, s, p, d, g).add_(b.reshape((1, -1) + (1,) * self.nsp))
        return self._fn(x, w, b, s, p, d, g)

    def forward(self, *bottoms):
        return tuple(self._one_bottom(x) for x in bottoms)


@register
class Deconvolution(_ConvBase):
    """A weight that does not learn keeps no bottom for backward. A frozen weight whose channel-mixing entries are
    all zero (FCN's bilinear upsampling: each channel upsampled on its own, Caffe's weight (C, C, k, k) with only
    w[c, c] non-zero) is computed as C one-channel deconvolutions, which give the same sums without the zero terms
    (checked on every forward, so any weight with a non-zero off-diagonal entry takes the dense path; a NaN or inf
    bottom then stays in its channel instead of spreading through 0 x inf)."""
    type_name = 'Deconvolution'
    transposed = True

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        c = bottom_shapes[0][1]
        self._diagonal_candidate = self.nsp == 2 and self.group == 1 and c == self.num_output and c > 1 \
            and not self.generic
        self.layout = None

    def _diagonal(self, w):
        """The (C, 1, kh, kw) one-channel kernels if `w` has no non-zero entry off its channel diagonal, else None."""
        c = w.shape[0]
        flat = w.reshape(c * c, -1)
        diag = flat[::c + 1]
        if int(torch.count_nonzero(flat)) != int(torch.count_nonzero(diag)):
            return None
        return diag.reshape(c, 1, *w.shape[2:])

    def _one_bottom(self, x):
        if self.generic:
            return self._generic(x)
        w, b, s, p, d, g = self.weight, self.bias, self.stride, self.pad, self.dilation, self.group
        if self.nsp == 2 and not (w.requires_grad and torch.is_grad_enabled()):
            wd = self._diagonal(w) if self._diagonal_candidate and w.device.type != 'meta' else None
            if wd is not None:
                return _FrozenWeightConv.apply(x, wd, b, True, s, p, d, w.shape[0])
            return _FrozenWeightConv.apply(x, w, b, True, s, p, d, g)
        return self._fn(x, w, b, s, p, 0, g, d)

    def forward(self, *bottoms):
        return tuple(self._one_bottom(x) for x in bottoms)


@register
class Im2col(CaffeLayer):
    """The convolution's column buffer as a top: bottom[:axis] x (C prod(kernel)) x the output's spatial axes, the
    rows ordered channel, then kernel offset (row-major); the gradient adds the columns back (col2im). 2-D with the
    channel axis 1 takes F.unfold (unless force_nd_im2col), anything else Caffe's im2col_nd (the same columns)."""
    type_name = 'Im2col'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.convolution_param
        shape = tuple(bottom_shapes[0])
        self.top_shapes([shape])
        self.axis = sizes.canonical_axis(p.axis, len(shape), 'convolution_param.axis')
        nsp = len(shape) - self.axis - 1
        self.kernel, self.stride, self.pad, self.dilation = self.sized(sizes.conv_window, p, nsp)
        self.unfold = nsp == 2 and self.axis == 1 and not p.force_nd_im2col

    def forward(self, x):
        lead = tuple(x.shape[:self.axis])
        if self.unfold:
            cols = F.unfold(x, self.kernel, self.dilation, self.pad, self.stride)
            out = tuple(sizes.conv_size(v, k, s, p, d) for v, k, s, p, d in
                        zip(x.shape[2:], self.kernel, self.stride, self.pad, self.dilation))
        else:
            x = x.reshape((math.prod(lead),) + tuple(x.shape[self.axis:]))
            cols, out = im2col(x, self.kernel, self.stride, self.pad, self.dilation)
        return (cols.reshape(lead + (cols.shape[1],) + tuple(out)),)
