"""Caffe's DataTransformer: crop, mirror, mean subtraction and scale of one image, with Caffe's random draws.

    t = DataTransformer(layer_param.transform_param, phase, where="layer 'data'")   # draws its seed, as InitRand
    t.init_rand()                                          # BasePrefetchingDataLayer draws a second seed
    shape = t.output_shape((3, 32, 32))                   # InferBlobShape without the batch axis
    out = t.transform(image, from_mat)                    # float32 (C, crop, crop)

The arithmetic is Caffe's in float32: `(pixel - mean) * scale`, or `pixel * scale` without a mean. Random draws:
with mirror, Rand(2) per image (in TEST too); with crop_size in TRAIN, Rand(H - crop + 1) then Rand(W - crop + 1);
in TEST the crop is centred ((H - crop) / 2, rounded down). Rand(n) is the transformer's own mt19937 output
modulo n, seeded from the process-wide stream (rng.caffe_rng_rand) when the transformer needs randomness.

Images decoded by OpenCV (encoded Datums, ImageData files; `from_mat`) take the mean_file pixel at the mirrored
column, as the Caffe build the fixtures come from does (DataTransformer::Transform(cv::Mat) indexes the mean with
the mirrored column); raw Datums take it at the source pixel. BVLC Caffe 1.0 uses the source pixel in both.
"""
import warnings

import numpy as np

from netspec import caffe_pb2

from . import rng
from .datum import DataError, read_mean


class DataTransformer:
    def __init__(self, param=None, phase=None, where='data layer'):
        from runtime.phase import TRAIN
        self.param = param if param is not None else caffe_pb2.TransformationParameter()
        self.train = phase == TRAIN
        self.where = where
        p = self.param
        self.scale = np.float32(p.scale)
        self.crop = int(p.crop_size)
        self.mean = None
        self.mean_values = None
        if p.HasField('mean_file'):
            if len(p.mean_value):
                raise DataError(f'{where}: transform_param cannot give both mean_file and mean_value')
            m = read_mean(p.mean_file)
            if m.ndim == 4:
                m = m[0]
            self.mean = m.reshape((-1,) + m.shape[-2:]) if m.ndim >= 2 else m
        elif len(p.mean_value):
            self.mean_values = np.asarray(p.mean_value, dtype=np.float32)
        if p.force_color and p.force_gray:
            raise DataError(f'{where}: transform_param cannot set both force_color and force_gray')
        self._rng = None
        self._warned = False
        self.init_rand()

    @property
    def needs_rand(self):
        return bool(self.param.mirror or (self.train and self.crop))

    def init_rand(self):
        """DataTransformer::InitRand: a new generator seeded from the process-wide stream, if one is needed."""
        self._rng = rng.MT19937(rng.caffe_rng_rand()) if self.needs_rand else None

    def rand(self, n):
        if n <= 0:
            raise DataError(f'{self.where}: Rand({n})')
        return self._rng.rand() % n

    def output_shape(self, image_shape):
        """(C, H, W) of a transformed image of shape (C, H0, W0): the crop, or the image's size."""
        c, h, w = image_shape
        if c <= 0:
            raise DataError(f'{self.where}: an image with {c} channels')
        if self.crop and (h < self.crop or w < self.crop):
            raise DataError(f'{self.where}: crop_size {self.crop} is larger than the {h}x{w} image')
        return (c, self.crop, self.crop) if self.crop else (c, h, w)

    def transform(self, image, from_mat=False, source=''):
        """One (C, H, W) uint8 or float32 image -> float32 (C, h, w), drawing mirror then crop offsets as Caffe."""
        p = self.param
        c, h, w = image.shape
        at = f'{self.where}{": " + source if source else ""}'
        if not from_mat and (p.force_color or p.force_gray) and not self._warned:
            warnings.warn(f'{self.where}: force_color and force_gray only apply to encoded Datums (as in Caffe)')
            self._warned = True
        mirror = bool(p.mirror) and self.rand(2) != 0
        if self.crop and (h < self.crop or w < self.crop):
            raise DataError(f'{at}: crop_size {self.crop} is larger than the {h}x{w} image')
        if self.mean is not None and self.mean.shape != (c, h, w):
            raise DataError(f'{at}: the mean_file {p.mean_file!r} is {self.mean.shape}, the image {(c, h, w)}')
        if self.mean_values is not None and len(self.mean_values) not in (1, c):
            raise DataError(f'{at}: give 1 mean_value or one per channel ({c}), not {len(self.mean_values)}')
        hh, ww, h_off, w_off = h, w, 0, 0
        if self.crop:
            hh = ww = self.crop
            if self.train:
                h_off = self.rand(h - self.crop + 1)
                w_off = self.rand(w - self.crop + 1)
            else:
                h_off, w_off = (h - self.crop) // 2, (w - self.crop) // 2
        x = image[:, h_off:h_off + hh, w_off:w_off + ww].astype(np.float32)
        if self.mean is not None:
            mean = self.mean[:, h_off:h_off + hh, w_off:w_off + ww]
            if from_mat:           # mirrored pixels minus the unmirrored mean (see the module docstring)
                out = (x[:, :, ::-1] if mirror else x) - mean
            else:
                out = x - mean
                out = out[:, :, ::-1] if mirror else out
            out = out * self.scale
        else:
            if self.mean_values is not None:
                mv = self.mean_values if len(self.mean_values) == c else np.repeat(self.mean_values, c)
                x = x - mv[:, None, None]
            out = x * self.scale
            out = out[:, :, ::-1] if mirror else out
        return np.ascontiguousarray(out, dtype=np.float32)
