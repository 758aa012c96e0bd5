"""Element-wise layers: ReLU, Sigmoid, TanH, Power, Dropout (each top shaped like its bottom)."""
import torch
import torch.nn.functional as F

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
