"""Caffe's Data layer: batches of Datum records read in order from an LMDB (or a LevelDB through plyvel),
transformed by the DataTransformer, prefetched by a worker thread.

Tops: data (batch_size x C x H x W; the crop, or the first record's size) and, when a second top is named, label
(batch_size). The cursor runs through the database in key order and starts again at the end. The shape of each
batch is its first record's; a record of another shape in the same batch is an error naming the database and the
key. With several solvers (runtime.parallel: caffe.set_solver_count/set_solver_rank, or a torch.distributed group),
in TRAIN, solver r of n takes records r, r + n, r + 2n, ... (counting on across the wrap), as Caffe's DataReader
deals them to its solvers and Caffe 1.0's DataLayer::Skip keeps them.

Random draws from the process-wide stream, in Caffe's order: one when the layer is built (the DataReader's
thread), the transformer's seed (if it needs one), a second transformer seed (BasePrefetchingDataLayer's InitRand,
the one used), one for the prefetch thread.
"""
import warnings

import numpy as np

from . import rng
from .datum import DataError, cursor, datum_image, parse_datum
from .prefetch import Prefetcher, ordered_map
from .transformer import DataTransformer


def solver_share(phase):
    """(rank, count) of the solvers reading one database in TRAIN (runtime.parallel: Caffe::solver_rank and
    solver_count); TEST nets read every record: (0, 1)."""
    from runtime import parallel
    from runtime.phase import TRAIN
    if phase != TRAIN:
        return 0, 1
    return parallel.solver_rank(), parallel.solver_count()


class DataSource:
    """The batches of one Data layer: `top_shapes`, `next_batch()` -> [data, label] float32 arrays."""

    def __init__(self, lp, phase):
        self.where = f'layer {lp.name!r} (type Data)'
        p = lp.data_param
        self.source = p.source
        self.backend = p.backend
        if not p.source:
            raise DataError(f'{self.where}: data_param.source is not set')
        if p.batch_size <= 0:
            raise DataError(f'{self.where}: data_param.batch_size must be positive')
        self.batch_size = int(p.batch_size)
        self.labels = len(lp.top) > 1
        if p.rand_skip:
            warnings.warn(f'{self.where}: data_param.rand_skip is not read by Caffe\'s Data layer; it starts at the '
                          'first record, as in Caffe')
        self.rank, self.count = solver_share(phase)
        rng.caffe_rng_rand()                                   # the DataReader's thread
        self.transformer = DataTransformer(lp.transform_param, phase, self.where)
        key, first = self._first()
        image, _ = datum_image(first, lp.transform_param.force_color, lp.transform_param.force_gray,
                               f'{self.source} key {key!r}')
        self.shape = self.transformer.output_shape(image.shape)
        self.transformer.init_rand()                           # BasePrefetchingDataLayer::LayerSetUp
        rng.caffe_rng_rand()                                   # the prefetch thread's seed
        self._records = None
        self._pending = None
        self.depth = int(p.prefetch)
        self.prefetcher = Prefetcher(self.load_batch, self.depth, name=f'Data {lp.name}')

    def _first(self):
        for key, value in cursor(self.source, self.backend):
            return key, parse_datum(value, f'{self.source} key {key!r}')
        raise DataError(f'{self.where}: the database {self.source!r} is empty')

    def top_shapes(self):
        shapes = [(self.batch_size,) + self.shape]
        return shapes + [(self.batch_size,)] if self.labels else shapes

    def _cycle(self):
        """Caffe's cursor: every record in order, then again from the first, forever; with n training processes,
        the j-th record read goes to process j % n (DataReader's round robin, across the wrap)."""
        j = 0
        while True:
            n = 0
            for key, value in cursor(self.source, self.backend):
                n += 1
                if j % self.count == self.rank:
                    yield key, value
                j += 1
            if n == 0:
                raise DataError(f'{self.where}: the database {self.source!r} is empty')

    def _decode(self, record):
        key, value = record
        where = f'{self.source} key {key.decode(errors="replace")!r}'
        datum = parse_datum(value, where)
        pf = self.transformer.param
        image, from_mat = datum_image(datum, pf.force_color, pf.force_gray, where)
        return where, datum.label, image, from_mat

    def load_batch(self):
        """One batch, as DataLayer::load_batch: the first record sets the shape, each record is transformed (the
        records are decoded ahead, in order, on the decode threads)."""
        if self._records is None:
            self._records = ordered_map(self._decode, self._cycle(), max(2, self.depth * self.batch_size))
        t = self.transformer
        data = label = None
        for i in range(self.batch_size):
            where, value, image, from_mat = next(self._records)
            shape = t.output_shape(image.shape) if t.crop else image.shape
            if data is None:
                first_shape = image.shape
                data = np.empty((self.batch_size,) + tuple(shape), dtype=np.float32)
                label = np.empty((self.batch_size,), dtype=np.float32)
            elif image.shape != first_shape and (not t.crop or image.shape[0] != first_shape[0]):
                raise DataError(f'{where}: a record of shape {image.shape} in a batch whose first record has the '
                                f'shape {first_shape}')
            data[i] = t.transform(image, from_mat, where)
            label[i] = value
        return [data, label] if self.labels else [data]

    def next_batch(self):
        return self.prefetcher.next()

    def close(self):
        self.prefetcher.close()

