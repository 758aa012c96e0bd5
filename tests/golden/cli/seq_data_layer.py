"""A Caffe Python data layer over the arrays of cli_data.npz: `batch` samples of its split at a time, in file
order, wrapping around. It runs in the real Caffe (tests/golden/make_cli.py, through the `caffe` binary) and in
this project (`import caffe` falls back to runtime). get_state/set_state keep its position across a resume."""
import os

import numpy as np

try:
    import caffe
except ImportError:  # the project's runtime serves Caffe's Python-layer interface
    import runtime as caffe


class SeqDataLayer(caffe.Layer):
    def setup(self, bottom, top):
        params = eval(self.param_str)
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cli_data.npz')
        split, self.batch = params['split'], int(params['batch'])
        with np.load(path) as f:
            self.data, self.label = f[split + '_data'].copy(), f[split + '_label'].copy()
        self.pos = 0

    def reshape(self, bottom, top):
        top[0].reshape(self.batch, *self.data.shape[1:])
        top[1].reshape(self.batch)

    def forward(self, bottom, top):
        idx = [(self.pos + i) % len(self.data) for i in range(self.batch)]
        top[0].data[...] = self.data[idx]
        top[1].data[...] = self.label[idx]
        self.pos = (self.pos + self.batch) % len(self.data)

    def backward(self, top, propagate_down, bottom):
        pass

    def get_state(self):
        return {'pos': self.pos}

    def set_state(self, state):
        self.pos = int(state['pos'])
