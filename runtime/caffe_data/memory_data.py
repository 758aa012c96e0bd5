"""Caffe's MemoryData layer (its tops' shapes: the layer type's record, netspec.layertypes): batches from arrays the caller hands over (pycaffe's `net.set_input_arrays`, Caffe's
MemoryDataLayer::Reset), without copying them and without transformation (as Reset does not transform).

The label top is (batch_size) when the net is built and (batch_size x 1 x 1 x 1) after each forward, as Caffe
reshapes it. Each forward takes the next batch_size rows
and starts again after the last. The transformer is built (it draws its seed from the process-wide stream when
it needs one) as Caffe builds it, though arrays are never transformed.
"""
import numpy as np

from .datum import DataError
from .transformer import DataTransformer


class MemoryDataSource:
    def __init__(self, lp, phase):
        self.where = f'layer {lp.name!r} (type MemoryData)'
        p = lp.memory_data_param
        self.batch_size, self.channels, self.height, self.width = \
            int(p.batch_size), int(p.channels), int(p.height), int(p.width)
        self.transformer = DataTransformer(lp.transform_param, phase, self.where)
        self.data = self.labels = None
        self.n = self.pos = 0

    def reset(self, data, labels, n=None):
        """MemoryDataLayer::Reset: read batches from `data` (N x C x H x W float32) and `labels` (N floats), N a
        multiple of batch_size; the arrays are kept, not copied."""
        n = int(data.shape[0]) if n is None else int(n)
        if n % self.batch_size:
            raise DataError(f'{self.where}: the number of rows ({n}) must be a multiple of batch_size '
                            f'({self.batch_size})')
        if n == 0:
            raise DataError(f'{self.where}: no rows to add')
        self.data, self.labels, self.n, self.pos = data, labels, n, 0

    def next_batch(self):
        if self.data is None:
            raise DataError(f'{self.where}: MemoryData needs arrays first (net.set_input_arrays, as Caffe\'s Reset)')
        b, s = self.batch_size, self.pos
        data = np.asarray(self.data[s:s + b], dtype=np.float32).reshape(b, self.channels, self.height, self.width)
        label = np.asarray(self.labels, dtype=np.float32).reshape(-1)[s:s + b].reshape(b, 1, 1, 1)
        self.pos = (self.pos + b) % self.n
        return [data, label]

    def close(self):
        pass
