"""Caffe's ImageData layer: images named in a list file ("path label" per line), read with OpenCV, transformed,
prefetched by a worker thread.

Each line is split at its last space: the path before it (root_folder + path, joined as strings as Caffe joins
them) and an integer label after it; a line without a label is an error naming the file and the line (Caffe reads
the label 0 there). Images are read in colour (BGR) or grayscale (is_color), resized to new_height x new_width
when both are set. Tops: data (batch_size x C x H x W, from the first image of each batch) and label (batch_size).

Random draws, in Caffe's order: the transformer's seed (if it needs one); with shuffle, the list's generator seed
(the list is shuffled then, and again each time the reading wraps round); with rand_skip, a draw modulo rand_skip
giving the first line; the second transformer seed (the one used); the prefetch thread's seed.
"""
import os

import numpy as np

from . import rng
from .datum import DataError
from .images import read_image
from .prefetch import Prefetcher, ordered_map
from .transformer import DataTransformer


def read_list(path, where):
    """[(path, label)] of an image list file, split as ImageDataLayer splits its lines."""
    if not os.path.exists(path):
        raise DataError(f'{where}: no such image list file {path!r}')
    lines = []
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip('\n')
            pos = line.rfind(' ')
            label = line[pos + 1:].strip()
            try:
                value = int(label)
            except ValueError:
                value = None
            if pos < 0 or value is None:
                raise DataError(f'{path} line {n}: expected "<image path> <integer label>", got {line!r}')
            lines.append((line[:pos], value))
    if not lines:
        raise DataError(f'{path}: the image list is empty')
    return lines


class ImageDataSource:
    """The batches of one ImageData layer: `top_shapes`, `next_batch()` -> [data, label] float32 arrays."""

    def __init__(self, lp, phase):
        self.where = f'layer {lp.name!r} (type ImageData)'
        p = lp.image_data_param
        self.param = p
        if (p.new_height > 0) != (p.new_width > 0):
            raise DataError(f'{self.where}: new_height and new_width must be set together')
        if p.batch_size <= 0:
            raise DataError(f'{self.where}: image_data_param.batch_size must be positive')
        self.batch_size = int(p.batch_size)
        self.transformer = DataTransformer(lp.transform_param, phase, self.where)
        self.source = p.source
        self.lines = read_list(p.source, self.where)
        self.shuffle_rng = None
        if p.shuffle:
            self.shuffle_rng = rng.MT19937(rng.caffe_rng_rand())
            rng.shuffle(self.lines, self.shuffle_rng)
        self.pos = 0
        if p.rand_skip:
            skip = rng.caffe_rng_rand() % p.rand_skip
            if skip >= len(self.lines):
                raise DataError(f'{self.where}: rand_skip drew {skip}, more than the {len(self.lines)} images')
            self.pos = skip
        first = self._read(self.pos)
        self.shape = self.transformer.output_shape(first.shape)
        self.transformer.init_rand()
        rng.caffe_rng_rand()                                   # the prefetch thread's seed
        self._items = None
        self.depth = int(lp.data_param.prefetch)
        self.prefetcher = Prefetcher(self.load_batch, self.depth, name=f'ImageData {lp.name}')

    def _read(self, i):
        p = self.param
        name = self.lines[i][0]
        return read_image(p.root_folder + name, p.new_height, p.new_width, p.is_color,
                          where=f'{self.where}, list {self.source!r}')

    def top_shapes(self):
        return [(self.batch_size,) + self.shape, (self.batch_size,)]

    def _order(self):
        """(index into the list, path, label) in Caffe's reading order: from the first line (or rand_skip's), again
        from the top after the last, reshuffled there with shuffle."""
        while True:
            name, label = self.lines[self.pos]
            yield self.param.root_folder + name, label
            self.pos += 1
            if self.pos >= len(self.lines):
                self.pos = 0
                if self.shuffle_rng is not None:
                    rng.shuffle(self.lines, self.shuffle_rng)

    def _decode(self, item):
        path, label = item
        p = self.param
        return path, label, read_image(path, p.new_height, p.new_width, p.is_color,
                                       where=f'{self.where}, list {self.source!r}')

    def load_batch(self):
        """One batch, as ImageDataLayer::load_batch (the images are read ahead, in order, on the decode threads)."""
        if self._items is None:
            self._items = ordered_map(self._decode, self._order(), max(2, self.depth * self.batch_size))
        t = self.transformer
        data = label = None
        for i in range(self.batch_size):
            source, value, image = next(self._items)
            if data is None:
                first_shape = image.shape
                shape = t.output_shape(image.shape)
                data = np.empty((self.batch_size,) + tuple(shape), dtype=np.float32)
                label = np.empty((self.batch_size,), dtype=np.float32)
            elif image.shape[0] != first_shape[0] or (not t.crop and image.shape != first_shape):
                raise DataError(f'{self.where}: image {source!r} is {image.shape}, the first image of its batch '
                                f'{first_shape}')
            data[i] = t.transform(image, True, source)
            label[i] = value
        return [data, label]

    def next_batch(self):
        return self.prefetcher.next()

    def close(self):
        self.prefetcher.close()
