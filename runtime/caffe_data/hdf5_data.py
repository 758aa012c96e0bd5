"""Caffe's HDF5Data and HDF5Output layers.

HDF5Data: `source` lists .h5 files (whitespace-separated, paths as written, relative to the working directory as
in Caffe); each file holds one dataset per top, named as the top, with the same first dimension (rows), read as
float32. Batches take batch_size rows in order, moving to the next file at the end of one and to the first file
after the last. With shuffle, the files are put in a random order at the start and at each wrap, and the rows of
each file when it is loaded and again each time its end is reached; the order comes from std::random_shuffle over
glibc's rand() (rng.random_shuffle), one stream for the process, which Caffe never seeds (not the solver's
random_seed). No transform_param (an error, as in Caffe); no prefetch thread (Caffe reads in forward). With several
solvers in TRAIN (runtime.parallel), solver r of n keeps rows r, r + n, ... of that stream, as Caffe 1.0's Skip.

HDF5Output: writes its two bottoms into `file_name` as the datasets "data" and "label" (4-D, Caffe's legacy
shapes). The file is created empty when the net is built; Caffe's datasets cannot be written twice, so a second
forward is an error, as it is in Caffe.
"""
import os

import numpy as np

from . import rng
from .data import solver_share
from .datum import DataError


def read_file_list(path, where):
    if not os.path.exists(path):
        raise DataError(f'{where}: no such HDF5 file list {path!r}')
    with open(path) as f:
        names = f.read().split()
    if not names:
        raise DataError(f'{where}: {path!r} lists no HDF5 files')
    return names


def load_h5(path, tops, where):
    """{top: float32 array} of one file; errors name the file and the missing dataset."""
    import h5py
    if not os.path.exists(path):
        raise DataError(f'{where}: no such HDF5 file {path!r}')
    try:
        f = h5py.File(path, 'r')
    except OSError as e:
        raise DataError(f'{where}: cannot open the HDF5 file {path!r} ({e})') from None
    with f:
        out = []
        for t in tops:
            if t not in f or not isinstance(f[t], h5py.Dataset):
                raise DataError(f'{path}: no dataset {t!r} for the top of {where} '
                                f'(the file holds {sorted(f.keys())})')
            a = np.asarray(f[t][()], dtype=np.float32)
            if a.ndim < 1:
                raise DataError(f'{path}: dataset {t!r} must have at least 1 axis')
            out.append(a)
    n = out[0].shape[0]
    for t, a in zip(tops, out):
        if a.shape[0] != n:
            raise DataError(f'{path}: dataset {t!r} has {a.shape[0]} rows, {tops[0]!r} has {n}')
    return out


class HDF5DataSource:
    """The batches of one HDF5Data layer: `top_shapes`, `next_batch()` -> one float32 array per top."""

    def __init__(self, lp, phase):
        self.where = f'layer {lp.name!r} (type HDF5Data)'
        p = lp.hdf5_data_param
        if lp.HasField('transform_param'):
            raise DataError(f'{self.where}: HDF5Data does not transform data (remove transform_param)')
        if p.batch_size <= 0:
            raise DataError(f'{self.where}: hdf5_data_param.batch_size must be positive')
        self.batch_size = int(p.batch_size)
        self.shuffle = bool(p.shuffle)
        self.tops = list(lp.top)
        self.files = read_file_list(p.source, self.where)
        self.file_order = list(range(len(self.files)))
        if self.shuffle:
            rng.random_shuffle(self.file_order)
        self.current_file = 0
        self._load()
        self.row = 0
        self.shapes = [(self.batch_size,) + a.shape[1:] for a in self.blobs]
        self.offset = 0
        self.rank, self.count = solver_share(phase)

    def _load(self):
        path = self.files[self.file_order[self.current_file]]
        self.blobs = load_h5(path, self.tops, self.where)
        self.path = path
        self.rows = list(range(self.blobs[0].shape[0]))
        if self.shuffle:
            rng.random_shuffle(self.rows)
        shapes = getattr(self, 'shapes', None)
        if shapes is not None:
            for t, a, s in zip(self.tops, self.blobs, shapes):
                if a.shape[1:] != s[1:]:
                    raise DataError(f'{path}: dataset {t!r} has rows of shape {a.shape[1:]}, the first file\'s '
                                    f'have {s[1:]}')

    def top_shapes(self):
        return list(self.shapes)

    def _next_row(self):
        """(the current file's arrays, the next row's index): at the end of a file, the next file (the file order
        reshuffled after the last one) or, with one file, its rows again, as Caffe moves on."""
        if self.row == len(self.rows):
            if len(self.files) > 1:
                self.current_file += 1
                if self.current_file == len(self.files):
                    self.current_file = 0
                    if self.shuffle:
                        rng.random_shuffle(self.file_order)
                self._load()
            self.row = 0
            if self.shuffle:
                rng.random_shuffle(self.rows)
        r = self.rows[self.row]
        self.row += 1
        self.offset += 1
        return self.blobs, r

    def next_batch(self):
        """HDF5DataLayer::Forward: batch_size rows, moving through the files (and reshuffling) as Caffe does; with
        several solvers in TRAIN, solver r of n keeps rows r, r + n, ... of the stream (Caffe 1.0's Skip)."""
        picks = []          # (blob list, row indices)
        run, run_blobs = [], None
        for _ in range(self.batch_size):
            while self.offset % self.count != self.rank:
                self._next_row()
            blobs, r = self._next_row()
            if blobs is not run_blobs and run:
                picks.append((run_blobs, run))
                run = []
            run_blobs = blobs
            run.append(r)
        if run:
            picks.append((run_blobs, run))
        return [np.concatenate([blobs[j][rows] for blobs, rows in picks]) for j in range(len(self.tops))]

    def close(self):
        pass


class HDF5Output:
    """HDF5OutputLayer: the file is created at setup; forward writes "data" and "label" once."""

    def __init__(self, lp):
        import h5py
        self.where = f'layer {lp.name!r} (type HDF5Output)'
        self.file_name = lp.hdf5_output_param.file_name
        try:
            h5py.File(self.file_name, 'w').close()
        except OSError as e:
            raise DataError(f'{self.where}: cannot create the HDF5 file {self.file_name!r} ({e})') from None
        self.written = False

    @staticmethod
    def _legacy(a):
        s = tuple(a.shape) + (1,) * (4 - a.ndim)
        if len(s) > 4:
            raise DataError(f'a blob of shape {a.shape} has no 4-D legacy shape')
        return a.reshape(s)

    def write(self, data, label):
        import h5py
        if data.shape[0] != label.shape[0]:
            raise DataError(f'{self.where}: data has {data.shape[0]} rows, label {label.shape[0]}')
        if self.written:
            raise DataError(f'{self.where}: {self.file_name!r} already holds the datasets "data" and "label"; '
                            'Caffe\'s HDF5Output can write them only once (its second forward fails too)')
        with h5py.File(self.file_name, 'a') as f:
            f.create_dataset('data', data=self._legacy(np.asarray(data, dtype=np.float32)))
            f.create_dataset('label', data=self._legacy(np.asarray(label, dtype=np.float32)))
        self.written = True
