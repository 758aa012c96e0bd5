"""A Caffe Python data layer over samples in an .npz (arrays `data`, `label`), drawn in a seeded random order the
way the reference data layers draw theirs: one draw at setup, the current sample loaded in reshape, copied out in
forward, then the next draw. It runs in the real Caffe (tests/golden/make_solvers.py) and in runtime.Net."""
import os
import random

import numpy as np

try:
    import caffe
except ImportError:  # the project's runtime serves Caffe's Python-layer interface
    import runtime as caffe


class NpzDataLayer(caffe.Layer):
    def setup(self, bottom, top):
        params = eval(self.param_str)
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), params['npz'])
        with np.load(path) as f:
            self.data, self.label = f['data'].copy(), f['label'].copy()
        self.rng = random.Random(params['seed'])
        self.idx = self._draw()

    def _draw(self):
        return int(self.rng.random() * len(self.data))

    def reshape(self, bottom, top):
        top[0].reshape(*self.data[self.idx].shape)
        top[1].reshape(*self.label[self.idx].shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.data[self.idx]
        top[1].data[...] = self.label[self.idx]
        self.idx = self._draw()

    def backward(self, top, propagate_down, bottom):
        pass
