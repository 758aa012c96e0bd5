"""Caffe's rules for copying trained blobs into a net (Net::CopyTrainedLayersFrom), as a pure function."""
import collections

import numpy as np

from .errors import WeightsError


def legacy_equal(stored, target):
    """Caffe's shape check: equal shapes, or legacy 4-D dims matching the target padded with 1s on the left."""
    stored, target = tuple(stored), tuple(target)
    if stored == target:
        return True
    return len(stored) == 4 and len(target) <= 4 and stored == (1,) * (4 - len(target)) + target


def match_arrays(target, arrays, source='<weights>', strict=False, log=None):
    """Pair stored blobs with a net's blobs by Caffe's rules.

    target: {layer name: [shape]} of the net; arrays: {layer name: [np.ndarray]} read from `source`.
    Source layers the net lacks are ignored (logged). A layer present in both must have the same number of blobs
    and each blob the same shape (legacy dims compared right-aligned); otherwise WeightsError naming the file, the
    layer, the blob index and both shapes. strict=True also fails when a net layer with blobs is absent from the
    file (Caffe leaves such layers as they are).
    Returns OrderedDict {layer: [array reshaped to the target shape]}.
    """
    out = collections.OrderedDict()
    for name, blobs in arrays.items():
        if name not in target:
            if log:
                log(f'Ignoring source layer {name}')
            continue
        shapes = [tuple(s) for s in target[name]]
        if len(blobs) != len(shapes):
            raise WeightsError(f'{source}: incompatible number of blobs for layer {name!r}: the file has '
                               f'{len(blobs)}, the net expects {len(shapes)}')
        copied = []
        for i, (b, shape) in enumerate(zip(blobs, shapes)):
            b = np.asarray(b)
            if not legacy_equal(b.shape, shape):
                raise WeightsError(f'{source}: cannot copy param {i} of layer {name!r}; shape mismatch: the file '
                                   f'has {b.shape} ({b.size} values), the net expects {shape} '
                                   f'({int(np.prod(shape, dtype=np.int64))} values). To learn this layer from '
                                   f'scratch rather than copying it, rename the layer.')
            copied.append(b.reshape(shape))
        out[name] = copied
    if strict:
        missing = [n for n, s in target.items() if s and n not in arrays]
        if missing:
            raise WeightsError(f'{source}: holds no blobs for layer(s) {missing} of the net')
    return out
