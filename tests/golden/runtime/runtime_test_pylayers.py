"""Python layers for the runtime's golden fixtures; the same file runs under the real Caffe and under this
project (where `import runtime as caffe` stands in for pycaffe)."""
import ast

import numpy as np

try:
    import caffe
except ImportError:
    import runtime as caffe


class RandomData(caffe.Layer):
    """A data layer: each forward fills its tops with seeded random values (no bottoms, no backward)."""

    def setup(self, bottom, top):
        params = ast.literal_eval(self.param_str)
        self.shape = tuple(params['shape'])
        self.seed = params['seed']
        self.calls = 0
        if len(bottom) != 0:
            raise Exception('RandomData takes no bottoms')

    def reshape(self, bottom, top):
        top[0].reshape(*self.shape)

    def forward(self, bottom, top):
        rng = np.random.RandomState(self.seed + self.calls)
        self.calls += 1
        top[0].data[...] = rng.randn(*self.shape).astype(np.float32)

    def backward(self, top, propagate_down, bottom):
        pass


class SquarePlus(caffe.Layer):
    """top = a * bottom^2 + b (+ 1 in the TRAIN phase), with its own backward."""

    def setup(self, bottom, top):
        params = ast.literal_eval(self.param_str)
        self.a, self.b = float(params['a']), float(params['b'])
        self.shift = 1.0 if self.phase == caffe.TRAIN else 0.0

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        x = bottom[0].data
        top[0].data[...] = self.a * x * x + self.b + self.shift

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * 2 * self.a * bottom[0].data


class Shape(caffe.Layer):
    """Writes the legacy accessors of its bottom into its top: num, channels, height, width, count."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(5)

    def forward(self, bottom, top):
        b = bottom[0]
        top[0].data[...] = [b.num, b.channels, b.height, b.width, b.count]

    def backward(self, top, propagate_down, bottom):
        pass
