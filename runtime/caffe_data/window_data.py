"""Caffe's WindowData layer (R-CNN): windows of images listed in a window file, sampled at random as foreground
or background, warped to crop_size x crop_size, prefetched by a worker thread.

Window file: repeated "# image_index", image path (root_folder + path), channels, height, width, the number of
windows, then one "label overlap x1 y1 x2 y2" line per window (whitespace-separated, as Caffe reads it). A window
with overlap >= fg_threshold is foreground (its label must be positive), one with overlap < bg_threshold is
background (label 0); others are dropped. Each batch takes batch_size - int(batch_size * fg_fraction) background
windows, then the foreground ones, each drawn uniformly (the layer's mt19937 output modulo the count), mirrored
when a second draw is odd (with mirror). crop_mode "warp" or "square" and context_pad expand the window as
Caffe does (float32 arithmetic, rounding half away from zero), clip it to the image, warp it with cv::resize
(bilinear) and place it with the padding it lost; the rest of the crop stays 0. Pixels are
(pixel - mean) * window_data_param.scale, the mean from transform_param (mean_file pixels at Caffe's offsets, or
mean_value); transform_param's own scale is not used (as in Caffe).

Random draws from the process-wide stream: the transformer's seed (if it needs one: mirror, or crop_size in
TRAIN), the layer's generator seed, the second transformer seed, the prefetch thread's seed.
"""
import os

import numpy as np

from . import rng
from .datum import DataError
from .images import cv2_module, decode, read_image
from .prefetch import Prefetcher
from .transformer import DataTransformer

F32 = np.float32


def _round(x):
    """C's round(): half away from zero."""
    x = float(x)
    return int(np.floor(x + 0.5)) if x >= 0 else -int(np.floor(-x + 0.5))


def read_window_file(path, root_folder, fg_threshold, bg_threshold, where):
    """(images [(path, (c, h, w))], foreground windows, background windows); a window is
    (image_index, label, overlap, x1, y1, x2, y2)."""
    if not os.path.exists(path):
        raise DataError(f'{where}: no such window file {path!r}')
    with open(path) as f:
        tokens = f.read().split()
    if len(tokens) < 2:
        raise DataError(f'{path}: the window file is empty')
    images, fg, bg = [], [], []
    i = 0
    fg_t, bg_t = F32(fg_threshold), F32(bg_threshold)
    try:
        while i + 1 < len(tokens):
            if tokens[i] != '#':
                raise DataError(f'{path}: expected "#" before an image index, got {tokens[i]!r}')
            index = int(tokens[i + 1])
            image_path = root_folder + tokens[i + 2]
            size = tuple(int(t) for t in tokens[i + 3:i + 6])
            images.append((index, image_path, size))
            n = int(tokens[i + 6])
            i += 7
            for _ in range(n):
                label, overlap = int(tokens[i]), F32(tokens[i + 1])
                x1, y1, x2, y2 = (int(t) for t in tokens[i + 2:i + 6])
                i += 6
                if overlap >= fg_t:
                    if label <= 0:
                        raise DataError(f'{path}: image {index}: a foreground window has the label {label}')
                    fg.append((index, label, overlap, x1, y1, x2, y2))
                elif overlap < bg_t:
                    bg.append((index, 0, F32(0), x1, y1, x2, y2))
    except (IndexError, ValueError) as e:
        raise DataError(f'{path}: malformed window file near token {i} ({e})') from None
    by_index = {}
    for index, p, size in images:
        by_index[index] = (p, size)
    return by_index, images[-1][2][0], fg, bg


class WindowDataSource:
    def __init__(self, lp, phase):
        self.where = f'layer {lp.name!r} (type WindowData)'
        p = lp.window_data_param
        tp = lp.transform_param
        self.param, self.tparam = p, tp
        if p.batch_size <= 0:
            raise DataError(f'{self.where}: window_data_param.batch_size must be positive')
        self.batch_size = int(p.batch_size)
        self.crop = int(tp.crop_size)
        self.transformer = DataTransformer(tp, phase, self.where)
        self.rng = rng.MT19937(rng.caffe_rng_rand()) if (tp.mirror or tp.crop_size) else None
        self.images, self.channels, self.fg, self.bg = read_window_file(
            p.source, p.root_folder, p.fg_threshold, p.bg_threshold, self.where)
        if self.crop <= 0:
            raise DataError(f'{self.where}: WindowData needs transform_param.crop_size')
        self.cache = {}
        if p.cache_images:
            for index, (path, _) in self.images.items():
                if not os.path.exists(path):
                    raise DataError(f'{self.where}: could not open the image {path!r} of the window file')
                with open(path, 'rb') as f:
                    self.cache[index] = f.read()
        self.mean = self.transformer.mean
        self.mean_values = self.transformer.mean_values
        if self.mean_values is not None and len(self.mean_values) not in (1, self.channels):
            raise DataError(f'{self.where}: give 1 mean_value or one per channel ({self.channels})')
        self.transformer.init_rand()
        rng.caffe_rng_rand()                                   # the prefetch thread's seed
        self.prefetcher = Prefetcher(self.load_batch, lp.data_param.prefetch, name=f'WindowData {lp.name}')

    def top_shapes(self):
        return [(self.batch_size, self.channels, self.crop, self.crop), (self.batch_size,)]

    def _image(self, index):
        if index not in self.images:
            raise DataError(f'{self.param.source}: a window refers to image {index}, which the file does not list')
        path = self.images[index][0]
        if index in self.cache:
            return decode(self.cache[index], color=True, where=path)
        return read_image(path, is_color=True, where=self.where)

    def _window(self, window, mirror):
        """The warped window (C, h, w) uint8 and its place (pad_h, pad_w) in the crop."""
        cv2 = cv2_module()
        p, crop = self.param, self.crop
        img = self._image(window[0])
        _, rows, cols = img.shape
        x1, y1, x2, y2 = window[3:]
        size_w = size_h = crop
        pad_w = pad_h = 0
        square = p.crop_mode == 'square'
        if p.context_pad > 0 or square:
            context_scale = F32(crop) / F32(crop - 2 * p.context_pad)
            half_h, half_w = F32((y2 - y1 + 1) / 2.0), F32((x2 - x1 + 1) / 2.0)
            cx, cy = F32(x1) + half_w, F32(y1) + half_h
            if square:
                half_w = half_h = max(half_h, half_w)
            x1, x2 = _round(cx - half_w * context_scale), _round(cx + half_w * context_scale)
            y1, y2 = _round(cy - half_h * context_scale), _round(cy + half_h * context_scale)
            uh, uw = y2 - y1 + 1, x2 - x1 + 1
            px1, py1 = max(0, -x1), max(0, -y1)
            px2, py2 = max(0, x2 - cols + 1), max(0, y2 - rows + 1)
            x1, x2, y1, y2 = x1 + px1, x2 - px2, y1 + py1, y2 - py2
            ch, cw = y2 - y1 + 1, x2 - x1 + 1
            sx, sy = F32(crop) / F32(uw), F32(crop) / F32(uh)
            size_w, size_h = _round(F32(cw) * sx), _round(F32(ch) * sy)
            px1, px2 = _round(F32(px1) * sx), _round(F32(px2) * sx)
            py1 = _round(F32(py1) * sy)
            pad_h = py1
            pad_w = px2 if mirror else px1
            if pad_h + size_h > crop:
                size_h = crop - pad_h
            if pad_w + size_w > crop:
                size_w = crop - pad_w
        if not (0 <= x1 <= x2 < cols and 0 <= y1 <= y2 < rows):
            raise DataError(f'{self.images[window[0]][0]}: the window {window[3:]} lies outside the '
                            f'{rows}x{cols} image')
        roi = np.ascontiguousarray(img[:, y1:y2 + 1, x1:x2 + 1].transpose(1, 2, 0))
        warped = cv2.resize(roi, (size_w, size_h), interpolation=cv2.INTER_LINEAR)
        if warped.ndim == 2:
            warped = warped[:, :, None]
        if mirror:
            warped = warped[:, ::-1]
        return warped.transpose(2, 0, 1), pad_h, pad_w

    def load_batch(self):
        """One batch, as WindowDataLayer::load_batch."""
        p, crop, c = self.param, self.crop, self.channels
        scale = F32(p.scale)
        data = np.zeros((self.batch_size, c, crop, crop), np.float32)
        label = np.zeros((self.batch_size,), np.float32)
        num_fg = int(F32(self.batch_size) * F32(p.fg_fraction))
        if not self.fg or not self.bg:
            raise DataError(f'{p.source}: WindowData needs foreground and background windows '
                            f'({len(self.fg)} and {len(self.bg)})')
        item = 0
        for windows, n in ((self.bg, self.batch_size - num_fg), (self.fg, num_fg)):
            for _ in range(n):
                window = windows[self.rng.rand() % len(windows)]
                mirror = bool(self.tparam.mirror) and self.rng.rand() % 2 == 1
                warped, ph, pw = self._window(window, mirror)
                h, w = warped.shape[1:]
                x = warped.astype(np.float32)
                if self.mean is not None:
                    off = (self.mean.shape[2] - crop) // 2
                    x = x - self.mean[:, off + ph:off + ph + h, off + pw:off + pw + w]
                elif self.mean_values is not None:
                    mv = self.mean_values if len(self.mean_values) == c else np.repeat(self.mean_values, c)
                    x = x - mv[:, None, None]
                data[item, :, ph:ph + h, pw:pw + w] = x * scale
                label[item] = window[1]
                item += 1
        return [data, label]

    def next_batch(self):
        return self.prefetcher.next()

    def close(self):
        self.prefetcher.close()

