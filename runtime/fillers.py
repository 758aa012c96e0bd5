"""Caffe's fillers (include/caffe/filler.hpp): how a blob starts when no weights are loaded.

Parameters and defaults come from FillerParameter in the schema (no filler given = constant 0, as in Caffe).
Random fillers draw from torch's global generator (seed it with torch.manual_seed); the distributions are Caffe's,
the random streams are not (Caffe uses Boost's mt19937).
"""
import math

import numpy as np
import torch

from netspec import caffe_pb2


def _fans(shape):
    count = math.prod(shape)
    fan_in = count // shape[0] if len(shape) else count
    fan_out = count // shape[1] if len(shape) > 1 else count
    return fan_in, fan_out


def _norm(filler, shape):
    fan_in, fan_out = _fans(shape)
    vn = filler.variance_norm
    if vn == caffe_pb2.FillerParameter.AVERAGE:
        return (fan_in + fan_out) / 2.0
    if vn == caffe_pb2.FillerParameter.FAN_OUT:
        return float(fan_out)
    return float(fan_in)


def bilinear_kernel(shape):
    """Caffe's BilinearFiller values for a (..., K, K) blob, in float32 as Caffe computes them."""
    if len(shape) != 4 or shape[2] != shape[3]:
        raise ValueError(f'the bilinear filler needs a 4-D blob with square kernels, not shape {tuple(shape)}')
    k = shape[3]
    f = math.ceil(k / 2.0)
    c = np.float32((k - 1) / (2.0 * f))
    f32 = np.float32(f)
    x = np.arange(k, dtype=np.float32)
    prof = np.float32(1) - np.abs(x / f32 - c)
    ker = (prof[None, :] * prof[:, None]).astype(np.float32)  # [y, x]
    return np.broadcast_to(ker, tuple(shape)).copy()


@torch.no_grad()
def fill(tensor, filler=None, where='blob'):
    """Fill `tensor` in place following a FillerParameter (None: Caffe's default, constant 0)."""
    if filler is None:
        filler = caffe_pb2.FillerParameter()
    if tensor.device.type == 'meta':
        return tensor
    kind = filler.type
    shape = tuple(tensor.shape)
    if kind == 'constant':
        tensor.fill_(filler.value)
    elif kind == 'uniform':
        tensor.uniform_(filler.min, filler.max)
    elif kind == 'gaussian':
        tensor.normal_(filler.mean, filler.std)
        if filler.sparse >= 0:
            if len(shape) < 1:
                raise ValueError(f'{where}: a sparse gaussian filler needs at least 1 axis')
            p = filler.sparse / float(shape[0])
            tensor.mul_(torch.bernoulli(torch.full_like(tensor, p)))
    elif kind == 'positive_unitball':
        tensor.uniform_(0, 1)
        flat = tensor.view(shape[0], -1) if len(shape) else tensor.view(1, -1)
        flat.div_(flat.sum(dim=1, keepdim=True))
    elif kind == 'xavier':
        scale = math.sqrt(3.0 / _norm(filler, shape))
        tensor.uniform_(-scale, scale)
    elif kind == 'msra':
        tensor.normal_(0, math.sqrt(2.0 / _norm(filler, shape)))
    elif kind == 'bilinear':
        tensor.copy_(torch.from_numpy(bilinear_kernel(shape)))
    else:
        raise ValueError(f'{where}: unknown filler type {kind!r} (Caffe has constant, uniform, gaussian, '
                         'positive_unitball, xavier, msra, bilinear)')
    return tensor
