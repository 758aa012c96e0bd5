"""Caffe's data layers (Data, ImageData, WindowData, HDF5Data, MemoryData, DummyData) and HDF5Output as runtime layers.

What each type reads and in which order lives in its module of runtime.caffe_data; this module turns its batches
(float32 numpy arrays) into tops on the net's device. Building the layer reads what Caffe's setup reads (the first
record or image, the first HDF5 file) and draws the random seeds Caffe draws; each forward gives the next batch.
"""
import numpy as np
import torch

from .registry import register
from .base import CaffeLayer, LayerError
from ..fillers import fill


class _DataLayer(CaffeLayer):
    """A bottomless layer whose tops come from a runtime.caffe_data source (its counts come from its record)."""

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        from runtime.caffe_data.datum import DataError
        try:
            self.source = self.make_source(lp, ctx.phase)
        except DataError as e:
            raise LayerError(str(e)) from None

    def make_source(self, lp, phase):
        raise NotImplementedError

    def top_shapes(self, bottom_shapes):
        """The record's rule where the type has one (DummyData, MemoryData), else what the source read."""
        if self.record.tops is not None:
            return super().top_shapes(bottom_shapes)
        return [tuple(s) for s in self.source.top_shapes()]

    def _tensor(self, a):
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        return self.ctx.layout(t.to(device=self.ctx.device, dtype=self.ctx.dtype))

    def forward(self):
        return tuple(self._tensor(a) for a in self.source.next_batch())

    def close(self):
        """Stop the source's prefetch thread."""
        self.source.close()


@register
class Data(_DataLayer):
    type_name = 'Data'

    def make_source(self, lp, phase):
        from runtime.caffe_data.data import DataSource
        return DataSource(lp, phase)


@register
class ImageData(_DataLayer):
    type_name = 'ImageData'

    def make_source(self, lp, phase):
        from runtime.caffe_data.image_data import ImageDataSource
        return ImageDataSource(lp, phase)


@register
class WindowData(_DataLayer):
    type_name = 'WindowData'

    def make_source(self, lp, phase):
        from runtime.caffe_data.window_data import WindowDataSource
        return WindowDataSource(lp, phase)


@register
class HDF5Data(_DataLayer):
    type_name = 'HDF5Data'

    def make_source(self, lp, phase):
        from runtime.caffe_data.hdf5_data import HDF5DataSource
        return HDF5DataSource(lp, phase)


@register
class MemoryData(_DataLayer):
    type_name = 'MemoryData'

    def make_source(self, lp, phase):
        from runtime.caffe_data.memory_data import MemoryDataSource
        return MemoryDataSource(lp, phase)

    def reset(self, data, labels, n=None):
        """MemoryDataLayer::Reset (pycaffe's set_input_arrays): batches from these arrays from now on."""
        from runtime.caffe_data.datum import DataError
        try:
            self.source.reset(data, labels, n)
        except DataError as e:
            raise LayerError(str(e)) from None


@register
class DummyData(_DataLayer):
    type_name = 'DummyData'

    def make_source(self, lp, phase):
        from runtime.caffe_data.dummy_data import DummyDataSource
        return DummyDataSource(lp, phase)

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        self.shapes = self.top_shapes([])
        self._constant = [None if self.source.refill(i) else self._filled(i) for i in range(len(self.shapes))]

    def _filled(self, i):
        t = torch.empty(self.shapes[i], dtype=self.ctx.dtype, device=self.ctx.device)
        fill(t, self.source.fillers[i], where=f'layer {self.name!r} top {i}')
        return self.ctx.layout(t)

    def forward(self):
        return tuple(c if c is not None else self._filled(i) for i, c in enumerate(self._constant))


@register
class HDF5Output(CaffeLayer):
    type_name = 'HDF5Output'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        from runtime.caffe_data.datum import DataError
        from runtime.caffe_data.hdf5_data import HDF5Output as Writer
        try:
            self.writer = Writer(lp)
        except DataError as e:
            raise LayerError(str(e)) from None

    def forward(self, data, label):
        self.writer.write(data.detach().float().cpu().numpy(), label.detach().float().cpu().numpy())
        return ()
