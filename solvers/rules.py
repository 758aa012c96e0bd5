"""Caffe's update rules (src/caffe/solvers/*.cpp), on plain tensors.

`apply_update` is SGDSolver::ApplyUpdate after the forward/backward passes: ClipGradients (global L2 norm, BEFORE
the 1/iter_size normalization), then per learnable blob Normalize (1/iter_size), Regularize (L2: + decay*w, L1:
+ decay*sign(w), decay = weight_decay * decay_mult), ComputeUpdateValue (the solver type's rule, which updates the
history) and finally Net::Update (w -= diff). Every learnable blob takes part, frozen ones (lr_mult 0) included,
exactly as in Caffe: their history is part of the .solverstate.

All arithmetic is float32 in Caffe's operation order; scalars that Caffe forms in float (rate * lr_mult,
weight_decay * decay_mult, 1 - momentum, ...) are formed in float32 here too.
"""
import math

import numpy as np
import torch

f32 = np.float32

#: Caffe's solver type names (SolverRegistry keys) and the legacy SolverParameter.solver_type enum order.
TYPES = ('SGD', 'Nesterov', 'AdaGrad', 'RMSProp', 'AdaDelta', 'Adam')


class Learnable:
    """One learnable blob: its tensor, where it comes from, and its ParamSpec multipliers."""
    __slots__ = ('layer', 'index', 'param', 'lr_mult', 'decay_mult')

    def __init__(self, layer, index, param, lr_mult=1.0, decay_mult=1.0):
        self.layer, self.index, self.param = layer, index, param
        self.lr_mult, self.decay_mult = float(lr_mult), float(decay_mult)

    @property
    def data(self):
        return self.param.data

    def diff(self):
        """The blob's diff (its .grad; created as zeros where backward left none, e.g. lr_mult 0)."""
        if self.param.grad is None:
            self.param.grad = torch.zeros_like(self.param.data)
        return self.param.grad.data

    def __repr__(self):
        return f'Learnable({self.layer}[{self.index}], {tuple(self.param.shape)}, lr_mult={self.lr_mult}, ' \
               f'decay_mult={self.decay_mult})'


def history_sets(solver_type):
    """How many history blobs per learnable blob the solverstate keeps (AdaDelta and Adam keep two sets)."""
    return 2 if solver_type in ('AdaDelta', 'Adam') else 1


def check_param(param, solver_type):
    """Caffe's constructor checks for each solver type."""
    if solver_type not in TYPES:
        raise ValueError(f'Unknown solver type: {solver_type!r} (known types: {", ".join(TYPES)})')
    if solver_type == 'AdaGrad' and param.momentum != 0:
        raise ValueError('Momentum cannot be used with AdaGrad.')
    if solver_type == 'RMSProp':
        if param.momentum != 0:
            raise ValueError('Momentum cannot be used with RMSProp.')
        if not 0 <= param.rms_decay < 1:
            raise ValueError('rms_decay should lie between 0 and 1.')
    if param.regularization_type not in ('L1', 'L2'):
        raise ValueError(f'Unknown regularization type: {param.regularization_type}')


def new_history(learnables, solver_type):
    """Zero history blobs in Caffe's layout: one per learnable blob, then (AdaDelta, Adam) a second set."""
    h = [torch.zeros_like(l.param.data) for l in learnables]
    if history_sets(solver_type) == 2:
        h += [torch.zeros_like(l.param.data) for l in learnables]
    return h


def _axpby(alpha, x, beta, y):
    """caffe_cpu_axpby: y = alpha * x + beta * y (scal then axpy)."""
    y.mul_(float(beta)).add_(x, alpha=float(alpha))
    return y


def clip_gradients(learnables, clip):
    """Scale all diffs down to a global L2 norm of `clip` (clip < 0: off). Returns (norm, scale or None)."""
    if clip < 0:
        return None, None
    sumsq = f32(0)
    for l in learnables:
        d = l.diff()
        sumsq = f32(sumsq + f32(torch.dot(d.reshape(-1), d.reshape(-1)).item()))
    norm = f32(math.sqrt(float(sumsq)))
    if norm > f32(clip):
        scale = f32(f32(clip) / norm)
        for l in learnables:
            l.diff().mul_(float(scale))
        return float(norm), float(scale)
    return float(norm), None


def normalize(learnable, iter_size):
    if iter_size != 1:
        learnable.diff().mul_(float(f32(1) / f32(iter_size)))


def regularize(learnable, weight_decay, regularization_type):
    local_decay = f32(f32(weight_decay) * f32(learnable.decay_mult))
    if local_decay:
        d, w = learnable.diff(), learnable.data
        if regularization_type == 'L2':
            d.add_(w, alpha=float(local_decay))
        elif regularization_type == 'L1':
            d.add_(torch.sign(w), alpha=float(local_decay))
        else:
            raise ValueError(f'Unknown regularization type: {regularization_type}')


def compute_update_value(solver_type, i, learnable, history, rate, param, it):
    """The solver type's ComputeUpdateValue for learnable blob i; leaves the update in its diff."""
    n = len(history) // history_sets(solver_type)
    diff = learnable.diff()
    local_rate = f32(f32(rate) * f32(learnable.lr_mult))
    momentum = f32(param.momentum)
    delta = f32(param.delta)
    if solver_type == 'SGD':
        h = history[i]
        _axpby(local_rate, diff, momentum, h)
        diff.copy_(h)
    elif solver_type == 'Nesterov':
        h = history[i]
        update = h.clone()
        _axpby(local_rate, diff, momentum, h)
        _axpby(f32(1) + momentum, h, -momentum, update)
        diff.copy_(update)
    elif solver_type == 'AdaGrad':
        h = history[i]
        update = diff * diff
        h.add_(update)
        update = torch.sqrt(h).add_(float(delta))
        update = diff / update
        diff.copy_(update.mul_(float(local_rate)))
    elif solver_type == 'RMSProp':
        h = history[i]
        rms_decay = f32(param.rms_decay)
        update = diff * diff
        _axpby(f32(1) - rms_decay, update, rms_decay, h)
        update = torch.sqrt(h).add_(float(delta))
        update = diff / update
        diff.copy_(update.mul_(float(local_rate)))
    elif solver_type == 'AdaDelta':
        hg, hu = history[i], history[i + n]
        update = diff * diff
        _axpby(f32(1) - momentum, update, momentum, hg)
        temp = torch.full_like(diff, float(delta))
        update = hu + temp
        temp = hg + temp
        update = torch.sqrt(update / temp)
        diff.mul_(update)
        update = diff * diff
        _axpby(f32(1) - momentum, update, momentum, hu)
        diff.mul_(float(local_rate))
    elif solver_type == 'Adam':
        m, v = history[i], history[i + n]
        beta1, beta2 = momentum, f32(param.momentum2)
        t = it + 1
        correction = f32(math.sqrt(1.0 - math.pow(float(beta2), t)) / (1.0 - math.pow(float(beta1), t)))
        _axpby(f32(1) - beta1, diff, beta1, m)
        val_t = diff * diff
        _axpby(f32(1) - beta2, val_t, beta2, v)
        val_t = torch.sqrt(v).add_(float(delta))
        val_t = m / val_t
        diff.copy_(val_t.mul_(float(f32(local_rate * correction))))
    else:
        raise ValueError(f'Unknown solver type: {solver_type!r}')


def apply_update(solver_type, learnables, history, rate, param, it):
    """SGDSolver::ApplyUpdate (after GetLearningRate) plus Net::Update. Returns the clipping (norm, scale)."""
    clipped = clip_gradients(learnables, param.clip_gradients)
    with torch.no_grad():
        for i, l in enumerate(learnables):
            normalize(l, param.iter_size)
            regularize(l, param.weight_decay, param.regularization_type)
            compute_update_value(solver_type, i, l, history, rate, param, it)
        for l in learnables:
            l.data.sub_(l.diff())
    return clipped
