"""Training-data augmentation the paper tried (CVPR 2015 sec. 4.3: "randomly mirroring and 'jittering' the images
by translating them up to 32 pixels (the coarsest scale of prediction) in each direction"; it gave no gain).

Switched on by param_str keys of any reference data layer (voc_layers, siftflow_layers, nyud_layers,
pascalcontext_layers) and of own_layers; absent keys leave the layer exactly the reference's:
    'mirror': True   flip each sample left-right with probability 1/2
    'jitter': J      translate each sample by (dy, dx), each drawn uniformly from the integers -J..J (the paper: 32)
Every top of a sample moves together. A translation keeps the blob's size: the content moves by (dy, dx) (down /
right for positive values), pixels moved out are lost, and the uncovered border is filled with 0 in image tops
(the mean, since data are mean-subtracted; likewise for depth and HHA) and with the ignore label in label tops
(label, sem, geo: 255, or an own dataset's ignore_label), which FCN's losses ignore.

The draws come from a random.Random of their own, seeded from the layer's 'seed' (the string 'augment:<seed>', a
stream separate from the sample order's), one (flip, dy, dx) per sample in sample order, drawn when the sample's
index is drawn. So the samples do not depend on prefetch depth or workers, and the generator's state and the
pending draws are part of the layer's get_state() that a solver snapshot saves.
"""
import random

import numpy as np

# LABEL_TOPS: the tops filled with the ignore label where a translation uncovers them
from netspec.models.families import LABEL_TOPS

IGNORE_LABEL = 255
KEYS = ('mirror', 'jitter')


def settings(params, layer='data layer'):
    """(mirror, jitter) from a param dict, checked; (False, 0) when the keys are absent."""
    mirror = params.get('mirror', False)
    jitter = params.get('jitter', 0)
    if not isinstance(mirror, bool):
        raise ValueError(f'{layer}: param_str mirror must be True or False, not {mirror!r}')
    if isinstance(jitter, bool) or not isinstance(jitter, int) or jitter < 0:
        raise ValueError(f'{layer}: param_str jitter must be a non-negative number of pixels, not {jitter!r}')
    return mirror, jitter


def shift(a, dy, dx, fill):
    """`a` (... x H x W) with its content moved down by dy and right by dx, the uncovered border set to `fill`."""
    out = np.full_like(a, fill)
    h, w = a.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = a[..., ys, xs]
    return out


def apply(arrays, tops, flip, dy, dx, ignore_label=IGNORE_LABEL):
    """The augmented sample: each array (1 x C x H x W) mirrored if `flip`, then shifted by (dy, dx) (label tops
    filled with `ignore_label`)."""
    out = []
    for a, top in zip(arrays, tops):
        if flip:
            a = a[..., ::-1]
        if dy or dx:
            a = shift(a, dy, dx, ignore_label if top in LABEL_TOPS else 0)
        out.append(np.ascontiguousarray(a, dtype=np.float32))
    return tuple(out)


class AugmentedOrder:
    """A SampleOrder whose items are (index, flip, dy, dx): the augmentation drawn with each index."""

    def __init__(self, order, mirror, jitter, seed):
        self.order, self.mirror, self.jitter = order, mirror, jitter
        self.n, self.randomize, self.seed = order.n, order.randomize, order.seed
        self._rng = random.Random(None if seed is None else f'augment:{seed}')

    def __iter__(self):
        return self

    def __next__(self):
        i = next(self.order)
        flip = self._rng.random() < 0.5 if self.mirror else False
        dy = self._rng.randint(-self.jitter, self.jitter) if self.jitter else 0
        dx = self._rng.randint(-self.jitter, self.jitter) if self.jitter else 0
        return (i, flip, dy, dx)

    def get_state(self):
        return {'order': self.order.get_state(), 'augment': self._rng.getstate()}

    def set_state(self, state):
        self.order.set_state(state['order'])
        version, internal, gauss = state['augment']
        self._rng.setstate((version, tuple(internal), gauss))

    def take(self, k):
        return [next(self) for _ in range(k)]


class AugmentedDataset:
    """A dataset whose order() yields (index, flip, dy, dx) keys and whose load(key) returns the augmented sample;
    everything else (ids, tops, split, ...) is the wrapped dataset's."""

    def __init__(self, dataset, mirror=False, jitter=0):
        self.dataset, self.mirror, self.jitter = dataset, mirror, jitter

    def __getattr__(self, name):
        if name == 'dataset':      # not yet set (unpickling)
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __len__(self):
        return len(self.dataset)

    def order(self):
        return AugmentedOrder(self.dataset.order(), self.mirror, self.jitter, self.dataset.seed)

    def load(self, key):
        i, flip, dy, dx = key
        return apply(self.dataset.load(i), self.dataset.tops, flip, dy, dx,
                     getattr(self.dataset, 'ignore_label', IGNORE_LABEL))


def augmented(dataset, params):
    """`dataset` wrapped in AugmentedDataset when params set 'mirror' or 'jitter', else `dataset` itself."""
    mirror, jitter = settings(params, getattr(dataset, 'layer', 'data layer'))
    if not mirror and not jitter:
        return dataset
    return AugmentedDataset(dataset, mirror, jitter)


def index_of(key):
    """The split index of a sample key (an int, or an AugmentedOrder item)."""
    return key[0] if isinstance(key, tuple) else key
