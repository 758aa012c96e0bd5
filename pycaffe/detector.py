"""caffe.Detector: a Net that classifies windows of images (R-CNN style), as Caffe 1.0's python/caffe/detector.py.

detect_windows([(image file, [(ymin, xmin, ymax, xmax), ...]), ...]) crops each window (with `context_pad`, a
border of context scaled around it, the out-of-image part filled with the mean in raw input space), warps it to
the net's input size through the Transformer and returns [{'window', 'prediction', 'filename'}].
detect_selective_search(image files) takes its windows from the selective_search_ijcv_with_python module, imported
inside the method as Caffe imports it.
"""
import os

import numpy as np

from netspec import caffe_pb2

from . import io
from .classifier import input_transformer
from .net import Net


class Detector(Net):
    """Detector(model_file, pretrained_file, mean=None, input_scale=None, raw_scale=None, channel_swap=None,
    context_pad=None)."""

    def __init__(self, model_file, pretrained_file, mean=None, input_scale=None, raw_scale=None,
                 channel_swap=None, context_pad=None):
        Net.__init__(self, model_file, caffe_pb2.TEST, weights=pretrained_file)
        self.transformer = input_transformer(self, mean, input_scale, raw_scale, channel_swap)
        self.configure_crop(context_pad)

    def detect_windows(self, images_windows):
        """[{'window', 'prediction', 'filename'}] for every window of every image, in order."""
        images_windows = [(f, list(ws)) for f, ws in images_windows]
        window_inputs = []
        for fname, windows in images_windows:
            image = io.load_image(fname).astype(np.float32)
            window_inputs += [self.crop(image, w) for w in windows]
        in_ = self.inputs[0]
        caffe_in = np.zeros((len(window_inputs), window_inputs[0].shape[2]) + self.blobs[in_].data.shape[2:],
                            dtype=np.float32)
        for ix, window_in in enumerate(window_inputs):
            caffe_in[ix] = self.transformer.preprocess(in_, window_in)
        predictions = self.forward_all(**{in_: caffe_in})[self.outputs[0]]
        out, ix = [], 0
        for fname, windows in images_windows:
            for w in windows:
                out.append({'window': w, 'prediction': predictions[ix], 'filename': fname})
                ix += 1
        return out

    def detect_selective_search(self, image_fnames):
        """detect_windows over Selective Search proposals: as Caffe, the method imports
        `selective_search_ijcv_with_python` (found on sys.path; Caffe's ImportError without it), makes the paths
        absolute and asks its get_windows(image_fnames, cmd='selective_search_rcnn') for the windows."""
        import selective_search_ijcv_with_python as selective_search
        image_fnames = [os.path.abspath(f) for f in image_fnames]
        windows_list = selective_search.get_windows(image_fnames, cmd='selective_search_rcnn')
        return self.detect_windows(zip(image_fnames, windows_list))

    def crop(self, im, window):
        """The window (ymin, xmin, ymax, xmax) of an H x W x K image, with `context_pad` pixels of context (in the
        net's input size) around it."""
        window = np.asarray(window)
        crop = im[window[0]:window[2], window[1]:window[3]]
        if not self.context_pad:
            return crop
        crop_size = self.blobs[self.inputs[0]].width
        scale = crop_size / (1. * crop_size - self.context_pad * 2)
        half_h, half_w = (window[2] - window[0] + 1) / 2., (window[3] - window[1] + 1) / 2.
        center = (window[0] + half_h, window[1] + half_w)
        box = np.round(np.tile(center, 2) + scale * np.array((-half_h, -half_w, half_h, half_w)))
        full_h, full_w = box[2] - box[0] + 1, box[3] - box[1] + 1
        scale_h, scale_w = crop_size / full_h, crop_size / full_w
        pad_y, pad_x = int(round(max(0, -box[0]) * scale_h)), int(round(max(0, -box[1]) * scale_w))
        im_h, im_w = im.shape[:2]
        box = np.clip(box, 0., [im_h, im_w, im_h, im_w])
        clip_h, clip_w = box[2] - box[0] + 1, box[3] - box[1] + 1
        if not (clip_h > 0 and clip_w > 0):
            raise ValueError(f'window {tuple(window)} lies outside the {im_h}x{im_w} image')
        crop_h, crop_w = int(round(clip_h * scale_h)), int(round(clip_w * scale_w))
        crop_h = min(crop_h, crop_size - pad_y)
        crop_w = min(crop_w, crop_size - pad_x)
        box = box.astype(int)
        context = io.resize_image(im[box[0]:box[2], box[1]:box[3]], (crop_h, crop_w))
        crop = np.ones(self.crop_dims, dtype=np.float32) * self.crop_mean
        crop[pad_y:pad_y + crop_h, pad_x:pad_x + crop_w] = context
        return crop

    def configure_crop(self, context_pad):
        """The crop size (H, W, K of the input) and, with context, the mean in raw input space that fills it."""
        in_ = self.inputs[0]
        tpose = self.transformer.transpose[in_]
        inv = [tpose[t] for t in tpose]
        self.crop_dims = np.array(self.blobs[in_].data.shape[1:])[inv]
        self.context_pad = context_pad
        if self.context_pad:
            mean = self.transformer.mean.get(in_)
            if mean is None:
                self.crop_mean = np.zeros(self.crop_dims, dtype=np.float32)
                return
            crop_mean = mean.copy().transpose(inv)
            order = self.transformer.channel_swap.get(in_)
            if order is not None:
                crop_mean = crop_mean[:, :, [list(order).index(i) for i in range(crop_mean.shape[2])]]
            raw_scale = self.transformer.raw_scale.get(in_)
            if raw_scale is not None:
                crop_mean = crop_mean / raw_scale
            self.crop_mean = crop_mean
