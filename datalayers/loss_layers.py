"""The loss alternatives the paper studied (CVPR 2015 sec. 3.4 and 4.3), as Caffe Python layers (param_str).

Python layers keep the schema Caffe's own: a net using them is a plain Caffe prototxt (python_param module
'loss_layers', found in this package by the runtime) that the real Caffe parses, and the layers are numpy code with
pycaffe's interface (like the data layers, they run under pycaffe with `import caffe` for `import runtime as
caffe`). A schema extension (new LossParameter fields) was not chosen: the real Caffe could not even parse such a
net, and tests/test_netspec_schema.py holds the schema to Caffe's.

LossSamplingLayer (patchwise training as loss sampling, Fig. 5): bottom label -> top label in which each cell is
kept with probability `keep` and otherwise set to `ignore_label`; a SoftmaxWithLoss with that ignore_label after
it then sums over the kept cells only, and the gradient of every dropped cell is exactly zero (Caffe's
SoftmaxWithLoss zeroes ignored positions). keep = 1 copies the label unchanged and draws nothing, so the loss,
its gradient and every random stream are those of the net without the layer, bit for bit; in the TEST phase the
layer is a copy too (and draws nothing). param_str keys:
    keep          the probability p that a cell is kept (0 < p <= 1)
    ignore_label  the value of a dropped cell (255, as FCN's losses ignore)
    cell          the side of a cell in label pixels (1: every pixel is drawn alone; 32: one draw per 32 x 32
                  block from the top-left corner, the coarse cells of FCN-32s)
    seed          optional: the mask generator's seed. Without it the seed is drawn at setup from numpy's global
                  generator, which the solver seeds with solver.prototxt's random_seed (+ the process rank), so the
                  masks follow from random_seed; a solver snapshot saves the generator (get_state / set_state).
The paper keeps the expected batch size by taking 1/p times the images per batch (iter_size 1/p).

ClassWeightedSoftmaxLossLayer (class balancing, sec. 4.3): SoftmaxWithLoss whose term at each position is weighted
by the weight of its label's class: loss = -sum_i w[l_i] log(max(p_i,l_i, FLT_MIN)) / normalizer, gradient
w[l_i] (p_i - onehot(l_i)) / normalizer, zero at ignored positions. The normalizer is Caffe's (loss_param
semantics): VALID counts the non-ignored positions (not their weights), BATCH_SIZE the batch, FULL every position,
NONE 1. The layer's top needs `loss_weight: 1` (Python layers are not loss layers by default). param_str keys:
    class_weights  one weight per class (datalayers.balance.class_weights computes them from a training set)
    ignore_label   positions with this label add nothing (optional)
    normalize      the legacy flag as in loss_param: True = VALID, False = BATCH_SIZE (FCN's summed loss)
    normalization  'VALID' (Caffe's default), 'BATCH_SIZE', 'FULL' or 'NONE'; used when `normalize` is absent
"""
import numpy as np

import runtime as caffe

from netspec.param_str import parse_param_str

FLT_MIN = np.float32(1.1754943508222875e-38)
NORMALIZATIONS = ('FULL', 'VALID', 'BATCH_SIZE', 'NONE')


def _layer_params(layer, required, optional):
    """(layer class name, its param_str dict); ValueError naming the layer unless the dict has every `required`
    key and no key outside `required` and `optional`."""
    name = type(layer).__name__
    params = parse_param_str(layer.param_str, name)
    if set(params) - set(required) - set(optional) or set(required) - set(params):
        raise ValueError(f'{name}: param_str needs {", ".join(required)}, and may set {", ".join(optional)}; got '
                         f'{sorted(params)}')
    return name, params


def _state_of(rng):
    if rng is None:
        return None
    name, keys, pos, has_gauss, cached = rng.get_state()
    return {'name': name, 'keys': keys.tolist(), 'pos': int(pos), 'has_gauss': int(has_gauss),
            'cached': float(cached)}


def _restore(rng, state, layer):
    if (state is None) != (rng is None):
        raise ValueError(f'{layer}: a mask-generator state was saved by a layer with another `keep` setting')
    if state is not None:
        rng.set_state((state['name'], np.asarray(state['keys'], dtype=np.uint32), state['pos'], state['has_gauss'],
                       state['cached']))


class LossSamplingLayer(caffe.Layer):
    """label -> label with each cell dropped (set to ignore_label) with probability 1 - keep; see the module."""

    def setup(self, bottom, top):
        name, params = _layer_params(self, ('keep',), ('ignore_label', 'cell', 'seed'))
        self.keep = float(params['keep'])
        if not 0 < self.keep <= 1:
            raise ValueError(f'{name}: keep must be in (0, 1], not {self.keep}')
        self.ignore_label = int(params.get('ignore_label', 255))
        self.cell = int(params.get('cell', 1))
        if self.cell < 1:
            raise ValueError(f'{name}: cell must be a positive number of pixels, not {self.cell}')
        if len(bottom) != 1 or len(top) != 1:
            raise ValueError(f'{name}: needs one bottom (the label) and one top (got {len(bottom)} and {len(top)})')
        self.rng = None
        if self.keep < 1 and self.phase == caffe.TRAIN:
            seed = params.get('seed')
            if seed is None:
                seed = int(np.random.randint(0, 2 ** 31 - 1))
            self.rng = np.random.RandomState(int(seed) % (2 ** 32))

    def reshape(self, bottom, top):
        if len(bottom[0].shape) < 3:
            raise ValueError(f'{type(self).__name__}: the label must be N x ... x H x W, got {bottom[0].shape}')
        top[0].reshape(*bottom[0].shape)

    def mask(self, shape):
        """The kept cells (bool, N x H x W) for a label of `shape`, drawn from the layer's generator."""
        n, h, w = shape[0], shape[-2], shape[-1]
        c = self.cell
        cells = self.rng.random_sample((n, -(-h // c), -(-w // c))) < self.keep
        if c > 1:
            cells = cells.repeat(c, axis=1).repeat(c, axis=2)[:, :h, :w]
        return cells

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data
        if self.rng is None:
            return
        kept = self.mask(bottom[0].shape)
        shape = (kept.shape[0],) + (1,) * (len(bottom[0].shape) - 3) + kept.shape[1:]
        np.copyto(top[0].data, np.float32(self.ignore_label), where=~kept.reshape(shape))

    def backward(self, top, propagate_down, bottom):
        pass    # a label gets no gradient

    def get_state(self):
        """The mask generator's state (JSON-able), saved in a solver snapshot."""
        return _state_of(self.rng)

    def set_state(self, state):
        _restore(self.rng, state, type(self).__name__)


class ClassWeightedSoftmaxLossLayer(caffe.Layer):
    """SoftmaxWithLoss with a weight per class (over axis 1); see the module docstring."""

    def setup(self, bottom, top):
        name, params = _layer_params(self, ('class_weights',), ('ignore_label', 'normalize', 'normalization'))
        self.weights = np.asarray(params['class_weights'], dtype=np.float64)
        if self.weights.ndim != 1 or not np.all(np.isfinite(self.weights)) or np.any(self.weights < 0):
            raise ValueError(f'{name}: class_weights must be a list of finite non-negative numbers')
        self.ignore_label = params.get('ignore_label')
        if 'normalize' in params:
            self.normalization = 'VALID' if params['normalize'] else 'BATCH_SIZE'
        else:
            self.normalization = params.get('normalization', 'VALID')
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f'{name}: normalization must be one of {NORMALIZATIONS}, not {self.normalization!r}')
        if len(bottom) != 2 or len(top) != 1:
            raise ValueError(f'{name}: needs bottoms (scores, label) and one top (got {len(bottom)} and {len(top)})')

    def reshape(self, bottom, top):
        name = type(self).__name__
        shape = bottom[0].shape
        if len(shape) < 2:
            raise ValueError(f'{name}: the scores must be N x C x ..., got {shape}')
        if self.weights.size != shape[1]:
            raise ValueError(f'{name}: {self.weights.size} class_weights for {shape[1]} classes')
        inner = int(np.prod(shape[2:], dtype=np.int64))
        if bottom[1].count != shape[0] * inner:
            raise ValueError(f'{name}: the label shape {bottom[1].shape} does not match the scores {shape}')
        top[0].reshape(1)

    def forward(self, bottom, top):
        shape = bottom[0].shape
        n, c = shape[0], shape[1]
        x = bottom[0].data.reshape(n, c, -1)
        prob = np.exp(x - x.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        label = bottom[1].data.reshape(n, -1).astype(np.int64)
        valid = np.ones(label.shape, dtype=bool) if self.ignore_label is None else label != int(self.ignore_label)
        bad = valid & ((label < 0) | (label >= c))
        if bad.any():
            raise ValueError(f'{type(self).__name__}: label value {label[bad][0]} is outside [0, {c}) and is not '
                             f'the ignore_label ({self.ignore_label})')
        safe = np.where(valid, label, 0)
        p = np.take_along_axis(prob, safe[:, None, :], axis=1)[:, 0, :]
        w = np.where(valid, self.weights[safe], 0.0)
        loss = -(w * np.log(np.maximum(p, FLT_MIN), dtype=np.float64)).sum()
        self.norm = self.normalizer(n, label.size, int(valid.sum()))
        top[0].data[...] = np.float32(loss / self.norm)
        self.prob, self.safe, self.w = prob, safe, w

    def normalizer(self, batch, count, valid):
        return max(1.0, float({'FULL': count, 'VALID': valid, 'BATCH_SIZE': batch, 'NONE': 1}[self.normalization]))

    def backward(self, top, propagate_down, bottom):
        # the label gets no gradient (Caffe's loss layers do not let force_backward reach their label bottom)
        if not propagate_down[0]:
            return
        diff = self.prob.astype(np.float64)
        np.put_along_axis(diff, self.safe[:, None, :],
                          np.take_along_axis(diff, self.safe[:, None, :], axis=1) - 1.0, axis=1)
        diff *= (self.w * (float(top[0].diff.reshape(-1)[0]) / self.norm))[:, None, :]
        bottom[0].diff[...] = diff.reshape(bottom[0].shape).astype(np.float32)
