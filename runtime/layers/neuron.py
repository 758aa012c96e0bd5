"""Element-wise layers: ReLU, Sigmoid, TanH, Power, Dropout, AbsVal, BNLL, ELU, Exp, Log, PReLU, Threshold (each
top shaped like its bottom)."""
import torch
import torch.nn.functional as F

from netspec import caffe_pb2

from ..phase import TRAIN
from .registry import register
from .base import CaffeLayer


class _Neuron(CaffeLayer):
    """One bottom, one top of its shape (the counts and shapes: the type's record)."""


@register
class ReLU(_Neuron):
    """max(x, 0) + negative_slope * min(x, 0); gradient 1 where x > 0, else negative_slope (0 at x = 0).

    In place (top = bottom), the net lets it overwrite its bottom when that is safe (Net._fresh), as Caffe does."""
    type_name = 'ReLU'
    can_run_in_place = True
    in_place = False

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.slope = lp.relu_param.negative_slope

    def forward(self, x):
        if self.in_place:
            return (torch.relu_(x) if self.slope == 0 else F.leaky_relu_(x, self.slope),)
        if self.slope == 0:
            return (torch.relu(x),)
        return (F.leaky_relu(x, self.slope),)


@register
class Sigmoid(_Neuron):
    type_name = 'Sigmoid'

    def forward(self, x):
        return (torch.sigmoid(x),)


@register
class TanH(_Neuron):
    type_name = 'TanH'

    def forward(self, x):
        return (torch.tanh(x),)


@register
class Power(_Neuron):
    """(shift + scale * x) ^ power."""
    type_name = 'Power'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.power_param
        self.power, self.scale, self.shift = p.power, p.scale, p.shift

    def forward(self, x):
        if self.power * self.scale == 0:   # Caffe: a constant, 1 for power 0, else shift ^ power
            value = 1.0 if self.power == 0 else self.shift ** self.power
            return (torch.full_like(x, value),)
        y = x
        if self.scale != 1:
            y = y * self.scale
        if self.shift != 0:
            y = y + self.shift
        if self.power != 1:
            y = torch.pow(y, self.power)
        return (y,)


@register
class Dropout(_Neuron):
    """Inverted dropout: in TRAIN each element is kept with probability 1 - ratio and scaled by 1/(1 - ratio);
    in TEST the identity."""
    type_name = 'Dropout'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.ratio = lp.dropout_param.dropout_ratio
        if not 0 <= self.ratio < 1:
            raise self.error(f'dropout_ratio must be in [0, 1), got {self.ratio}')
        self.scale = float(torch.tensor(1.0 / (1.0 - self.ratio), dtype=torch.float32))
        self.train_phase = ctx.phase == TRAIN

    def forward(self, x):
        if not self.train_phase:
            return (x,)
        mask = torch.empty_like(x).bernoulli_(1.0 - self.ratio).mul_(self.scale)
        return (x * mask,)


@register
class AbsVal(_Neuron):
    """|x|; gradient sign(x) (0 at 0)."""
    type_name = 'AbsVal'

    def forward(self, x):
        return (torch.abs(x),)


class _BNLLFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        xd = x.double()
        return torch.where(xd > 0, xd + torch.log1p(torch.exp(-xd)), torch.log1p(torch.exp(xd))).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        e = torch.exp(torch.clamp(x, max=BNLL_THRESHOLD))
        return (g.double() * e.double() / (e.double() + 1)).to(g.dtype)


BNLL_THRESHOLD = 50.0


@register
class BNLL(_Neuron):
    """log(1 + e^x), computed as x + log(1 + e^-x) for x > 0; gradient e^x' / (e^x' + 1) with x' = min(x, 50)."""
    type_name = 'BNLL'

    def forward(self, x):
        return (_BNLLFn.apply(x),)


@register
class ELU(_Neuron):
    """x for x > 0, alpha (e^x - 1) otherwise; gradient 1, or alpha e^x (= top + alpha)."""
    type_name = 'ELU'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.alpha = lp.elu_param.alpha

    def forward(self, x):
        return (torch.where(x > 0, x, self.alpha * torch.expm1(x)),)


def _base_log(base, layer):
    """log(base), with Caffe's base -1 meaning e."""
    if base == -1:
        return 1.0
    if base <= 0:
        raise layer.error(f'base must be strictly positive (or -1 for e), got {base}')
    return float(torch.log(torch.tensor(base, dtype=torch.float32)))


@register
class Exp(_Neuron):
    """base ^ (shift + scale x) = outer * e^(inner x), inner = ln(base) scale, outer = base ^ shift (base -1: e)."""
    type_name = 'Exp'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.exp_param
        log_base = _base_log(p.base, self)
        f32 = lambda v: float(torch.tensor(v, dtype=torch.float32))  # noqa: E731  (Caffe's Dtype arithmetic)
        self.inner = f32(log_base * p.scale)
        self.outer = 1.0 if p.shift == 0 else f32(p.base ** p.shift if p.base != -1 else torch.exp(
            torch.tensor(p.shift, dtype=torch.float32)).item())

    def forward(self, x):
        y = torch.exp(x if self.inner == 1 else x * self.inner)
        return (y if self.outer == 1 else y * self.outer,)


@register
class Log(_Neuron):
    """log_base(shift + scale x) (base -1: natural log)."""
    type_name = 'Log'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.log_param
        self.base_scale = 1.0 if p.base == -1 else float(torch.tensor(1.0 / _base_log(p.base, self),
                                                                       dtype=torch.float32))
        self.scale, self.shift = p.scale, p.shift

    def forward(self, x):
        y = x
        if self.scale != 1:
            y = y * self.scale
        if self.shift != 0:
            y = y + self.shift
        y = torch.log(y)
        return (y if self.base_scale == 1 else y * self.base_scale,)


@register
class PReLU(_Neuron):
    """max(x, 0) + a_c min(x, 0), one learned slope a_c per channel (axis 1), or one for all with channel_shared;
    the slopes start at the filler (default constant 0.25)."""
    type_name = 'PReLU'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.prelu_param
        shape, = self.sized(self.record.blobs, lp, bottom_shapes)
        filler = p.filler if p.HasField('filler') else caffe_pb2.FillerParameter(type='constant', value=0.25)
        self.slope = self.add_blob(shape, filler)
        self.shared = p.channel_shared

    def forward(self, x):
        a = self.slope if self.shared else self.slope.reshape((1, -1) + (1,) * (x.dim() - 2))
        return (torch.where(x > 0, x, x * a),)


@register
class Threshold(_Neuron):
    """1 where x > threshold, else 0. Caffe has no backward for it: a net that back-propagates through it fails."""
    type_name = 'Threshold'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.threshold = lp.threshold_param.threshold

    def forward(self, x):
        return ((x.detach() > self.threshold).to(x.dtype),)


@register
class Clip(_Neuron):
    """max(min, min(x, max)); gradient 1 where min <= x <= max, else 0 (Caffe's clip_layer.cpp, after 1.0)."""
    type_name = 'Clip'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.clip_param
        if not (p.HasField('min') and p.HasField('max')):
            raise self.error('clip_param needs both min and max')
        self.lo, self.hi = p.min, p.max

    def forward(self, x):
        return (torch.clamp(x, self.lo, self.hi),)


class _SwishFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, beta):
        s = torch.sigmoid(beta * x)
        y = x * s
        ctx.save_for_backward(s, y)
        ctx.beta = beta
        return y

    @staticmethod
    def backward(ctx, g):
        s, y = ctx.saved_tensors
        b = ctx.beta
        return g * (b * y + s * (1 - b * y)), None


@register
class Swish(_Neuron):
    """x sigmoid(beta x); Caffe's gradient top_diff (beta y + s (1 - beta y)) (swish_layer.cpp, after 1.0)."""
    type_name = 'Swish'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.beta = lp.swish_param.beta

    def forward(self, x):
        return (_SwishFn.apply(x, self.beta),)
