"""Caffe's update rules (src/caffe/solvers/*.cpp), on plain tensors.

`apply_update` is SGDSolver::ApplyUpdate after the forward/backward passes: ClipGradients (global L2 norm, BEFORE
the 1/iter_size normalization), then per learnable blob Normalize (1/iter_size), Regularize (L2: + decay*w, L1:
+ decay*sign(w), decay = weight_decay * decay_mult), ComputeUpdateValue (the solver type's rule, which updates the
history) and finally Net::Update (w -= diff). Every learnable blob takes part, frozen ones (lr_mult 0) included,
exactly as in Caffe: their history is part of the .solverstate.

All arithmetic is float32 in Caffe's operation order; scalars that Caffe forms in float (rate * lr_mult,
weight_decay * decay_mult, 1 - momentum, ...) are formed in float32 here too.
"""
import collections
import math

import numpy as np
import torch

from netspec import caffe_pb2

f32 = np.float32

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


def solver_kind(solver_type):
    """The SOLVER_TYPES entry of a type name; an unknown name is an error listing the known ones."""
    try:
        return SOLVER_TYPES[solver_type]
    except KeyError:
        raise ValueError(f'Unknown solver type: {solver_type!r} (known types: {", ".join(TYPES)})') from None


def history_sets(solver_type):
    """How many history blobs per learnable blob the solverstate keeps (AdaDelta and Adam keep two sets)."""
    return solver_kind(solver_type).history_sets


def check_param(param, solver_type):
    """Caffe's constructor checks for each solver type."""
    kind = solver_kind(solver_type)
    if kind.check is not None:
        kind.check(param)
    if param.regularization_type not in ('L1', 'L2'):
        raise ValueError(f'Unknown regularization type: {param.regularization_type}')


def new_history(learnables, solver_type):
    """Zero history blobs in Caffe's layout: one per learnable blob, then (AdaDelta, Adam) a second set."""
    return [torch.zeros_like(l.param.data) for _ in range(history_sets(solver_type)) for l in learnables]


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


# ---------------------------------------------------------------------------------- each solver type's own parts
# An update rule turns learnable blob i's diff into its update (left in the diff), given the blob's history blobs
# (one, or two for AdaDelta and Adam), its local rate (rate * lr_mult), the SolverParameter and the iteration.

def _sgd(diff, hist, local_rate, param, it):
    h, = hist
    _axpby(local_rate, diff, f32(param.momentum), h)
    diff.copy_(h)


def _nesterov(diff, hist, local_rate, param, it):
    h, = hist
    momentum = f32(param.momentum)
    update = h.clone()
    _axpby(local_rate, diff, momentum, h)
    _axpby(f32(1) + momentum, h, -momentum, update)
    diff.copy_(update)


def _adagrad(diff, hist, local_rate, param, it):
    h, = hist
    update = diff * diff
    h.add_(update)
    update = torch.sqrt(h).add_(float(f32(param.delta)))
    update = diff / update
    diff.copy_(update.mul_(float(local_rate)))


def _rmsprop(diff, hist, local_rate, param, it):
    h, = hist
    rms_decay = f32(param.rms_decay)
    update = diff * diff
    _axpby(f32(1) - rms_decay, update, rms_decay, h)
    update = torch.sqrt(h).add_(float(f32(param.delta)))
    update = diff / update
    diff.copy_(update.mul_(float(local_rate)))


def _adadelta(diff, hist, local_rate, param, it):
    hg, hu = hist
    momentum = f32(param.momentum)
    update = diff * diff
    _axpby(f32(1) - momentum, update, momentum, hg)
    temp = torch.full_like(diff, float(f32(param.delta)))
    update = hu + temp
    temp = hg + temp
    update = torch.sqrt(update / temp)
    diff.mul_(update)
    update = diff * diff
    _axpby(f32(1) - momentum, update, momentum, hu)
    diff.mul_(float(local_rate))


def _adam(diff, hist, local_rate, param, it):
    m, v = hist
    beta1, beta2 = f32(param.momentum), f32(param.momentum2)
    t = it + 1
    correction = f32(math.sqrt(1.0 - math.pow(float(beta2), t)) / (1.0 - math.pow(float(beta1), t)))
    _axpby(f32(1) - beta1, diff, beta1, m)
    val_t = diff * diff
    _axpby(f32(1) - beta2, val_t, beta2, v)
    val_t = torch.sqrt(v).add_(float(f32(param.delta)))
    val_t = m / val_t
    diff.copy_(val_t.mul_(float(f32(local_rate * correction))))


def _no_momentum(name):
    def check(param):
        if param.momentum != 0:
            raise ValueError(f'Momentum cannot be used with {name}.')
    return check


def _check_rmsprop(param):
    _no_momentum('RMSProp')(param)
    if not 0 <= param.rms_decay < 1:
        raise ValueError('rms_decay should lie between 0 and 1.')


#: One solver type: its update rule (ComputeUpdateValue), how many history blobs per learnable blob it keeps (the
#: .solverstate's history holds one set, then the second), and its constructor's checks of the SolverParameter.
SolverKind = collections.namedtuple('SolverKind', 'update history_sets check')

#: Caffe's solver types by their SolverRegistry name (SolverParameter.type): the one table every other place looks up.
SOLVER_TYPES = {
    'SGD': SolverKind(_sgd, 1, None),
    'Nesterov': SolverKind(_nesterov, 1, None),
    'AdaGrad': SolverKind(_adagrad, 1, _no_momentum('AdaGrad')),
    'RMSProp': SolverKind(_rmsprop, 1, _check_rmsprop),
    'AdaDelta': SolverKind(_adadelta, 2, None),
    'Adam': SolverKind(_adam, 2, None),
}
TYPES = tuple(SOLVER_TYPES)

#: The legacy SolverParameter.solver_type enum value -> the type name (Caffe's UpgradeSolverType): each enum value's
#: name is its type's name upper-cased.
LEGACY_TYPES = {value: {t.upper(): t for t in TYPES}[name]
                for name, value in caffe_pb2.SolverParameter.SolverType.items()}


def _fit_history(history, i, n, data):
    """A blob reshaped since the history was made (Blob.reshape from Python): Caffe's update runs over the blob's
    count on the history's memory, so the history is read as its flat prefix (and extended by zeros where the
    blob grew past it)."""
    for j in range(i, len(history), n):
        h = history[j]
        if h.shape == data.shape:
            continue
        flat = h.reshape(-1)
        if flat.numel() < data.numel():
            flat = torch.cat([flat, flat.new_zeros(data.numel() - flat.numel())])
        history[j] = flat[:data.numel()].view(data.shape)


def compute_update_value(solver_type, i, learnable, history, rate, param, it):
    """The solver type's ComputeUpdateValue for learnable blob i; leaves the update in its diff."""
    kind = solver_kind(solver_type)
    n = len(history) // kind.history_sets
    _fit_history(history, i, n, learnable.data)
    local_rate = f32(f32(rate) * f32(learnable.lr_mult))
    kind.update(learnable.diff(), history[i::n], local_rate, param, it)


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
