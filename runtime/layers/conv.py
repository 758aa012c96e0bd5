"""Convolution and Deconvolution (Caffe's BaseConvolutionLayer geometry; weights in Caffe's and torch's layout).

Convolution weight: (C_out, C_in/group, *kernel); Deconvolution weight: (C_in, C_out/group, *kernel), the same as
torch's conv_transpose. Bias: (C_out,). Sizes and settings: netspec.sizes (conv_size, deconv_size, conv_geometry).
"""
import torch
import torch.nn.functional as F

from netspec import sizes
from .registry import register
from .base import CaffeLayer

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_DECONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class _ConvBase(CaffeLayer):
    exact_bottoms = None
    min_bottoms = 1
    transposed = False

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.convolution_param
        if len(lp.bottom) != len(lp.top):
            raise self.error(f'needs as many tops as bottoms ({len(lp.bottom)} bottoms, {len(lp.top)} tops)')
        shape = bottom_shapes[0]
        g = self.sized(sizes.conv_geometry, p, bottom_shapes)
        self.nsp = len(g.kernel)
        self.kernel, self.stride, self.pad, self.dilation = g.kernel, g.stride, g.pad, g.dilation
        self.group = p.group
        cin, cout = shape[1], g.num_output
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
        fn = (_DECONV if self.transposed else _CONV)[self.nsp]
        self._fn = fn


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


def _im2col(x, w, b, stride, pad, dilation):
    """Caffe's own scheme, im2col then one matrix product: faster than torch's CPU kernels for large kernels on small
    maps (FCN's fc6, 7x7 on 22x22 at 500x500)."""
    n, _, h, wd = x.shape
    cols = F.unfold(x.contiguous(), w.shape[2:], dilation, pad, stride)
    y = torch.matmul(w.reshape(w.shape[0], -1), cols)
    if b is not None:
        y = y + b.reshape(1, -1, 1)
    oh = (h + 2 * pad[0] - dilation[0] * (w.shape[2] - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dilation[1] * (w.shape[3] - 1) - 1) // stride[1] + 1
    return y.reshape(n, -1, oh, ow)


@register
class Convolution(_ConvBase):
    """On the CPU, kernels of 5 or more on maps of at most 32x32 outputs (FCN's fc6) run as im2col + one matrix
    product, forward and backward, and forward-only 1x1 convolutions as one matrix product: both measured faster
    than torch's CPU convolution kernels there. Everything else uses torch's convolution."""
    type_name = 'Convolution'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        simple = self.nsp == 2 and self.group == 1 and ctx.device.type == 'cpu'
        self._one = simple and self.kernel == (1, 1) and self.stride == (1, 1) and self.pad == (0, 0) \
            and self.dilation == (1, 1)
        self._big = simple and min(self.kernel) >= 5
        if self._one or self._big:     # the matrix-product paths read the weight as (C_out, C_in * kh * kw)
            self.weight.data = self.weight.data.contiguous()

    def forward(self, *bottoms):
        w, b, s, p, d, g = self.weight, self.bias, self.stride, self.pad, self.dilation, self.group
        if self._big or (self._one and not torch.is_grad_enabled()):
            if self._one:
                return tuple(_matmul_1x1(x, w, b) for x in bottoms)
            out = []
            for x in bottoms:
                oh = (x.shape[2] + 2 * p[0] - d[0] * (self.kernel[0] - 1) - 1) // s[0] + 1
                ow = (x.shape[3] + 2 * p[1] - d[1] * (self.kernel[1] - 1) - 1) // s[1] + 1
                out.append(_im2col(x, w, b, s, p, d) if oh * ow <= 1024 else self._fn(x, w, b, s, p, d, g))
            return tuple(out)
        return tuple(self._fn(x, w, b, s, p, d, g) for x in bottoms)


@register
class Deconvolution(_ConvBase):
    type_name = 'Deconvolution'
    transposed = True

    def forward(self, *bottoms):
        w, b, s, p, d, g = self.weight, self.bias, self.stride, self.pad, self.dilation, self.group
        return tuple(self._fn(x, w, b, s, p, 0, g, d) for x in bottoms)
