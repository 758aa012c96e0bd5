"""Convolution and Deconvolution (Caffe's BaseConvolutionLayer geometry; weights in Caffe's and torch's layout).

Convolution weight: (C_out, C_in/group, *kernel); Deconvolution weight: (C_in, C_out/group, *kernel), the same as
torch's conv_transpose. Bias: (C_out,). Sizes: conv out = (H + 2p - (d(k-1)+1))/s + 1 (floor);
deconv out = s(H-1) + d(k-1) + 1 - 2p.
"""
import torch
import torch.nn.functional as F

from .registry import register
from .base import CaffeLayer

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_DECONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _spatial(layer, name, values, nsp, default, hw=None):
    """One of kernel/stride/pad/dilation per spatial axis, from the repeated field or its _h/_w pair."""
    p = layer.lp.convolution_param
    if hw is not None and (p.HasField(hw[0]) or p.HasField(hw[1])):
        if nsp != 2:
            raise layer.error(f'{hw[0]}/{hw[1]} can only be used for 2-D convolution')
        if len(values):
            raise layer.error(f'give either {name} or {hw[0]}/{hw[1]}, not both')
        if name == 'kernel_size' and not (p.HasField(hw[0]) and p.HasField(hw[1])):
            raise layer.error('kernel_h and kernel_w must both be given')
        return (getattr(p, hw[0]), getattr(p, hw[1]))
    if len(values) == 0:
        if default is None:
            raise layer.error(f'{name} is required')
        return (default,) * nsp
    if len(values) == 1:
        return (int(values[0]),) * nsp
    if len(values) != nsp:
        raise layer.error(f'{name} has {len(values)} values; give 1 or {nsp} (one per spatial axis)')
    return tuple(int(v) for v in values)


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
        if any(tuple(s) != tuple(shape) for s in bottom_shapes[1:]):
            raise self.error(f'all bottoms must have the same shape, got {[tuple(s) for s in bottom_shapes]}')
        if p.axis not in (1, 1 - len(shape)):
            raise self.error(f'only the channel axis 1 is supported, not axis {p.axis}')
        nsp = len(shape) - 2
        if nsp not in _CONV:
            raise self.error(f'needs a 3- to 5-axis bottom (N, C, spatial...), got shape {tuple(shape)}')
        self.nsp = nsp
        self.kernel = _spatial(self, 'kernel_size', p.kernel_size, nsp, None, ('kernel_h', 'kernel_w'))
        self.stride = _spatial(self, 'stride', p.stride, nsp, 1, ('stride_h', 'stride_w'))
        self.pad = _spatial(self, 'pad', p.pad, nsp, 0, ('pad_h', 'pad_w'))
        self.dilation = _spatial(self, 'dilation', p.dilation, nsp, 1)
        if any(k <= 0 for k in self.kernel):
            raise self.error(f'kernel size must be positive, got {self.kernel}')
        if any(s <= 0 for s in self.stride):
            raise self.error(f'stride must be positive, got {self.stride}')
        if not p.HasField('num_output') or p.num_output == 0:
            raise self.error('convolution_param.num_output must be given and positive')
        self.group = p.group
        cin, cout = shape[1], p.num_output
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
        fn = (_DECONV if self.transposed else _CONV)[nsp]
        self._fn = fn

    def _out(self, size, i):
        k = self.dilation[i] * (self.kernel[i] - 1) + 1
        if self.transposed:
            return self.stride[i] * (size - 1) + k - 2 * self.pad[i]
        return (size + 2 * self.pad[i] - k) // self.stride[i] + 1

    def top_shapes(self, bottom_shapes):
        out = []
        for s in bottom_shapes:
            sp = tuple(self._out(s[2 + i], i) for i in range(self.nsp))
            if any(v <= 0 for v in sp):
                raise self.error(f'bottom shape {tuple(s)} gives the output size {sp}')
            out.append((s[0], self.num_output) + sp)
        return out


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
