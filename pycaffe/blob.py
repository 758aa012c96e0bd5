"""pycaffe's Blob: `.data` and `.diff` as float32 numpy arrays of the blob's shape, writable, that the net uses.

Which memory they are (see also _sync):
- parameters and Input blobs on the CPU: numpy views of the tensors themselves (a write is the net's value);
- parameters and Input blobs on CUDA: host copies kept as Caffe's SyncedMemory keeps them (_sync.HostCopy);
- every other blob (the tops of layers): an array the net keeps per blob, refreshed after each call that runs
  the net (so an array kept from an earlier forward shows the current values, as Caffe's blob memory does) and
  read back by a forward that starts after the layer making it (forward(start=...));
- the diffs of those blobs: arrays the net keeps, which backward writes where Caffe's backward writes (the
  tops' diffs are what backward starts from: a loss top's diff holds its loss weight, as Caffe's SetLossWeights
  leaves it).
"""
import math

import torch

from runtime.layers.python import LegacyShape, blob_shape

from . import _sync
from ._sync import HostCopy, shares_memory


class Blob(LegacyShape):
    """The common interface: shape, count, num/channels/height/width (Caffe's LegacyShape), reshape."""

    @property
    def data(self):
        raise NotImplementedError

    @property
    def diff(self):
        raise NotImplementedError

    @property
    def shape(self):
        return tuple(self._shape())

    def _shape(self):
        return self.data.shape

    @property
    def count(self):
        return int(math.prod(self.shape))

    def __repr__(self):
        return f'<caffe Blob {self.name!r} {self.shape}>'


class ParamBlob(Blob):
    """Blob `index` of a layer's parameters; `.diff` is the parameter's gradient (what the solver applies)."""

    def __init__(self, net, layer, index):
        self._net, self.layer, self.index = net, layer, index
        self.name = f'{layer}[{index}]'
        self._data_copy = HostCopy(self._param)
        self._diff_copy = HostCopy(self._grad)

    def _param(self):
        return self._net._rt_net().params[self.layer][self.index]

    def _grad(self):
        p = self._param()
        if p.grad is None or p.grad.shape != p.shape:
            p.grad = torch.zeros_like(p.detach(), memory_format=torch.contiguous_format)
        return p.grad

    def _layer(self):
        for layer in self._net._rt_net().layers:
            if layer.name == self.layer:
                return layer
        raise KeyError(self.layer)

    def _view(self, t, copy):
        shape = self._shape()
        if shares_memory(t):
            a = t.detach().numpy()
            if not a.flags.c_contiguous:
                raise RuntimeError(f'blob {self.name}: its tensor is not C-contiguous, so a numpy view of it would '
                                   'not behave as a Caffe blob (the net was built with another memory_format)')
            return a if a.shape == shape else a.reshape(shape)   # (a view: a sharer sees the owner's memory)
        a = copy.get()
        return a if a.shape == shape else a.reshape(shape)

    @property
    def data(self):
        self._net._ready()
        return self._view(self._param(), self._data_copy)

    @property
    def diff(self):
        self._net._ready()
        return self._view(self._grad(), self._diff_copy)

    def _shape(self):
        return tuple(self._layer().blob_shape(self.index))

    def reshape(self, *shape):
        """Caffe's Blob::Reshape of a parameter blob: the blob takes the new shape, its data and diff kept as the
        flat prefix when the count does not grow, zeros when it grows. A Python layer then computes with the new
        shape (the solvers learn it, weights files save it); a layer of Caffe's own types keeps computing with the
        shape it was built with: the same count is read in that shape (as Caffe reads the memory), another count
        is an error at its next forward."""
        _sync.before_call()
        try:
            layer = self._layer()
            layer.reshape_blob(self.index, blob_shape(shape), adopt=getattr(layer, 'impl', None) is not None)
        finally:
            _sync.after_call()


class NetBlob(Blob):
    """A blob of the net's blob list (a layer top, an Input blob or a Split top)."""

    def __init__(self, net, name):
        self._net, self.name = net, name

    @property
    def data(self):
        return self._net._blob_data(self.name)

    @property
    def diff(self):
        return self._net._blob_diff(self.name)

    def _shape(self):
        return self._net._blob_shape(self.name)

    def reshape(self, *shape):
        """Caffe's Blob::Reshape: the new shape takes effect now; Input blobs keep it for the next forward."""
        self._net._reshape_blob(self.name, blob_shape(shape))
