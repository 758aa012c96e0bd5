"""Caffe's im2col_nd / col2im_nd for any number of spatial axes, as index gathers and scatter-adds (differentiable,
no loop over positions).

A window geometry (kernel, stride, pad, dilation per spatial axis) over a map of spatial size `size` reads, for
kernel offset k and output position o, the padded map at o * stride + k * dilation on each axis. `window_index`
gives those positions as flat indices into the padded map, in Caffe's column order (kernel offsets row-major, then
output positions row-major); im2col gathers them (N, C, *size) -> (N, C * prod(kernel), prod(out)), col2im adds
columns back into the map (the adjoint: Caffe's col2im_nd, a Deconvolution's forward).
"""
import math

import torch
import torch.nn.functional as F

from netspec.sizes import conv_size


def out_size(size, kernel, stride, pad, dilation):
    return tuple(conv_size(v, k, s, p, d) for v, k, s, p, d in zip(size, kernel, stride, pad, dilation))


def window_index(size, kernel, stride, pad, dilation, device):
    """(flat indices into the padded map, shape (prod(kernel) * prod(out),), the padded size, the output size)."""
    out = out_size(size, kernel, stride, pad, dilation)
    padded = tuple(v + 2 * p for v, p in zip(size, pad))
    nsp = len(size)
    idx = torch.zeros((1,) * (2 * nsp), dtype=torch.long, device=device)
    step = 1
    for a in range(nsp - 1, -1, -1):          # each axis's position, weighted by its stride in the padded map
        k = torch.arange(kernel[a], device=device) * dilation[a]
        o = torch.arange(out[a], device=device) * stride[a]
        kshape = [1] * (2 * nsp)
        kshape[a] = kernel[a]
        oshape = [1] * (2 * nsp)
        oshape[nsp + a] = out[a]
        idx = idx + (k.reshape(kshape) + o.reshape(oshape)) * step
        step *= padded[a]
    return idx.reshape(-1), padded, out


def im2col(x, kernel, stride, pad, dilation):
    """x (N, C, *size) -> columns (N, C * prod(kernel), prod(out)), and the output size."""
    n, c, size = x.shape[0], x.shape[1], tuple(x.shape[2:])
    idx, padded, out = window_index(size, kernel, stride, pad, dilation, x.device)
    flat = [q for p in reversed(pad) for q in (p, p)]
    xp = F.pad(x, flat) if any(pad) else x
    cols = xp.reshape(n, c, math.prod(padded)).index_select(2, idx)
    return cols.reshape(n, c * math.prod(kernel), math.prod(out)), out


def col2im(cols, channels, size, kernel, stride, pad, dilation):
    """columns (N, C * prod(kernel), prod(out)) added back into a map (N, C, *size) (Caffe's col2im_nd)."""
    n = cols.shape[0]
    idx, padded, _ = window_index(size, kernel, stride, pad, dilation, cols.device)
    acc = cols.new_zeros((n, channels, math.prod(padded)))
    acc = acc.index_add(2, idx, cols.reshape(n, channels, -1))
    acc = acc.reshape((n, channels) + padded)
    crop = tuple(slice(p, p + v) for p, v in zip(pad, size))
    return acc[(slice(None), slice(None)) + crop]


def conv_nd(x, w, b, stride, pad, dilation, group):
    """Caffe's N-d convolution (im2col_nd, then one matrix product per group): x (N, C, *size), w (C_out, C/group,
    *kernel)."""
    kernel = tuple(w.shape[2:])
    n, c = x.shape[:2]
    cols, out = im2col(x, kernel, stride, pad, dilation)
    cout = w.shape[0]
    cols = cols.reshape(n, group, (c // group) * math.prod(kernel), -1)
    wg = w.reshape(group, cout // group, -1)
    y = torch.matmul(wg.unsqueeze(0), cols).reshape((n, cout) + out)
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * len(out))
    return y


def deconv_nd(x, w, b, stride, pad, dilation, group):
    """Caffe's N-d deconvolution (one matrix product per group, then col2im_nd): x (N, C_in, *size), w (C_in,
    C_out/group, *kernel)."""
    kernel = tuple(w.shape[2:])
    n, cin = x.shape[:2]
    size = tuple(x.shape[2:])
    out = tuple(s * (v - 1) + d * (k - 1) + 1 - 2 * p for v, k, s, p, d in zip(size, kernel, stride, pad, dilation))
    cout = w.shape[1] * group
    wg = w.reshape(group, cin // group, -1)                      # (G, C_in/G, C_out/G * prod(kernel))
    xg = x.reshape(n, group, cin // group, -1)                   # (N, G, C_in/G, prod(size))
    cols = torch.matmul(wg.transpose(1, 2).unsqueeze(0), xg)     # (N, G, C_out/G * prod(kernel), prod(size))
    y = col2im(cols.reshape(n, cout * math.prod(kernel), -1), cout, out, kernel, stride, pad, dilation)
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * len(out))
    return y
