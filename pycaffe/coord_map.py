"""caffe.coord_map: coordinate maps between NetSpec tops and crop(), with pycaffe's names and conventions.

coord_map(fn) gives (axis, scale, shift) with output coordinate = scale * input coordinate + shift (pass-through
layers: (None, 1, 0)); compose, inverse and coord_map_from_to work on such triples as Caffe's module does, with
numpy arrays for per-axis values. crop(top_from, top_to) is netspec.crop, which emits the same Crop layer and
raises netspec.CropError (a ValueError naming both blobs, and an AssertionError) where Caffe's assertions fail.
"""
import numpy as np

from netspec.coord_map import PASS_THROUGH_LAYERS as _PASS, crop as _crop
from netspec.layertypes import LAYER_TYPES

PASS_THROUGH_LAYERS = sorted(_PASS)


def _kind(fn):
    record = LAYER_TYPES.get(fn.type_name)
    return None if record is None or record.spatial is None else record.spatial.kind


class UndefinedMapException(Exception):
    """A layer without a coordinate mapping."""


class AxisMismatchException(Exception):
    """Two mappings over different axes."""


def conv_params(fn):
    """(axis, stride, effective kernel size, pad) of a Convolution/Pooling/Deconvolution/Im2col function."""
    params = fn.params.get('convolution_param', fn.params)
    if 'pooling_param' in fn.params:
        params = fn.params['pooling_param']
    legacy = {'pad_h', 'pad_w', 'kernel_h', 'kernel_w', 'stride_h', 'stride_w'} & set(params)
    if legacy:
        raise AssertionError('cropping does not support legacy _h/_w params')
    axis = params.get('axis', 1)
    ks = np.array(params['kernel_size'], ndmin=1)
    dilation = np.array(params.get('dilation', 1), ndmin=1)
    return axis, np.array(params.get('stride', 1), ndmin=1), (ks - 1) * dilation + 1, \
        np.array(params.get('pad', 0), ndmin=1)


def crop_params(fn):
    """(axis, offset) of a Crop function, with Caffe's defaults (axis 2, offset 0)."""
    params = fn.params.get('crop_param', fn.params)
    return params.get('axis', 2), np.array(params.get('offset', 0), ndmin=1)


def coord_map(fn):
    """(axis, scale, shift) of one layer function, input to output (which map: its type's record in
    netspec.layertypes)."""
    kind = _kind(fn)
    if kind == 'window':
        axis, stride, ks, pad = conv_params(fn)
        return axis, 1 / stride, (pad - (ks - 1) / 2) / stride
    if kind == 'upsample':
        axis, stride, ks, pad = conv_params(fn)
        return axis, stride, (ks - 1) / 2 - pad
    if kind == 'same':
        return None, 1, 0
    if kind == 'offset':
        axis, offset = crop_params(fn)
        return axis - 1, 1, -offset
    raise UndefinedMapException


def compose(base_map, next_map):
    """The map `next_map` then `base_map` (scales multiply; the further shift is scaled by the base scale)."""
    ax1, a1, b1 = base_map
    ax2, a2, b2 = next_map
    if ax1 is None:
        ax = ax2
    elif ax2 is None or ax1 == ax2:
        ax = ax1
    else:
        raise AxisMismatchException
    return ax, a1 * a2, a1 * b2 + b1


def inverse(coord_map):
    """The backward map of `coord_map`."""
    ax, a, b = coord_map
    return ax, 1 / a, -b / a


def _bottoms(top):
    return top.fn.inputs[:1] if top.fn.type_name == 'Crop' else top.fn.inputs


def coord_map_from_to(top_from, top_to):
    """(axis, scale, shift) from `top_from`'s coordinates to `top_to`'s, through a common ancestor."""
    from_maps = {top_from: (None, 1, 0)}
    frontier = [top_from]
    while frontier:
        top = frontier.pop()
        try:
            m = coord_map(top.fn)
        except UndefinedMapException:
            continue
        for bottom in _bottoms(top):
            from_maps[bottom] = compose(from_maps[top], m)
            frontier.append(bottom)
    to_maps = {top_to: (None, 1, 0)}
    frontier = [top_to]
    while frontier:
        top = frontier.pop(0)
        if top in from_maps:
            return compose(to_maps[top], inverse(from_maps[top]))
        try:
            m = coord_map(top.fn)
        except UndefinedMapException:
            continue
        for bottom in _bottoms(top):
            to_maps[bottom] = compose(to_maps[top], m)
            frontier.append(bottom)
    raise RuntimeError('Could not compute map between tops; are they connected by spatial layers?')


def crop(top_from, top_to):
    """A Crop layer cutting `top_from` to `top_to`'s spatial size at the offset the layer geometry gives."""
    return _crop(top_from, top_to)
