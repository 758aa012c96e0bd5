"""Filter rarefaction (CVPR 2015 sec. 3.2): a subsampling layer set to stride 1, every later filter dilated.

Setting a layer's stride s to 1 makes its output s times denser; convolving that with the original filters would
see too small a neighbourhood, so each later filter is enlarged as f'_ij = f_(i/s, j/s) where s divides i and j and
0 elsewhere, which is Caffe's `dilation` s (with the padding scaled by s to keep the geometry). The rarefied net
computes what shift-and-stitch (runtime.stitch) assembles from s x s shifted inputs, in one pass. A `factor` f
dividing s rarefies partly: stride s/f, later filters dilated by f (shift-and-stitch with f and step s/f).

    rarefy(net, 'pool1') -> NetParameter      (the same weights load into it: no blob changes its shape)

Only one subsampling layer is rarefied at a time, and only Convolution and pass-through layers may follow it:
Caffe's Pooling has no dilation, so a later pooling (or a later strided convolution, a Deconvolution, a Crop, an
InnerProduct) cannot be rarefied and is refused with an error naming it.
"""
from . import caffe_pb2
from .coord_map import PASS_THROUGH_LAYERS
from .io import read_net

__all__ = ['rarefy', 'RarefyError']

#: layers that only consume the dense map (no geometry to change)
_SINKS = {'Softmax', 'SoftmaxWithLoss', 'Accuracy', 'ArgMax', 'Silence', 'Python', 'EuclideanLoss',
          'SigmoidCrossEntropyLoss'}


class RarefyError(ValueError):
    """A net that filter rarefaction cannot express in Caffe's layers."""


def _single(values, name, layer, default):
    if len(values) > 1 and len(set(values)) > 1:
        raise RarefyError(f'layer {layer.name!r} ({layer.type}): per-axis {name} {list(values)} is not supported')
    return int(values[0]) if len(values) else default


def _stride(layer):
    if layer.type == 'Pooling':
        p = layer.pooling_param
        if p.HasField('stride_h') or p.HasField('stride_w') or p.global_pooling:
            raise RarefyError(f'layer {layer.name!r} (Pooling): rarefy needs one stride for both axes (no '
                              f'stride_h/stride_w, no global pooling)')
        return p.stride
    if layer.type == 'Convolution':
        p = layer.convolution_param
        if p.HasField('stride_h') or p.HasField('stride_w'):
            raise RarefyError(f'layer {layer.name!r} (Convolution): stride_h/stride_w are not supported')
        return _single(p.stride, 'stride', layer, 1)
    raise RarefyError(f'layer {layer.name!r} is a {layer.type}; only a strided Pooling or Convolution can be '
                      f'rarefied')


def _set_stride(layer, s):
    if layer.type == 'Pooling':
        layer.pooling_param.stride = s
    elif s == 1:
        del layer.convolution_param.stride[:]
    else:
        layer.convolution_param.stride[:] = [s]


def _dilate(layer, s):
    p = layer.convolution_param
    legacy = [f for f in ('kernel_h', 'kernel_w', 'pad_h', 'pad_w', 'stride_h', 'stride_w') if p.HasField(f)]
    if legacy:
        raise RarefyError(f'layer {layer.name!r} (Convolution) follows the rarefied layer and sets {legacy}; '
                          f'rarefy supports one kernel/pad/stride for both axes')
    if _single(p.stride, 'stride', layer, 1) != 1:
        raise RarefyError(f'layer {layer.name!r} (Convolution) follows the rarefied layer with stride '
                          f'{list(p.stride)}: rarefy one subsampling layer at a time, and none may follow it')
    d = _single(p.dilation, 'dilation', layer, 1)
    pad = _single(p.pad, 'pad', layer, 0)
    p.dilation[:] = [d * s]
    if len(p.pad):
        p.pad[:] = [pad * s]


def rarefy(net, layer, factor=None):
    """A copy of `net` (anything read_net takes) with `layer`'s stride divided by `factor` (default: all of it, to
    stride 1) and every Convolution downstream of it dilated by `factor` (dilation and pad times it)."""
    src = read_net(net)
    out = caffe_pb2.NetParameter()
    out.CopyFrom(src)
    names = [l.name for l in out.layer]
    if layer not in names:
        raise RarefyError(f'net {out.name!r} has no layer {layer!r} (layers: {", ".join(names)})')
    start = names.index(layer)
    stride = _stride(out.layer[start])
    if stride <= 1:
        raise RarefyError(f'layer {layer!r} has stride {stride}: there is no subsampling to rarefy')
    s = stride if factor is None else int(factor)
    if s < 2 or stride % s:
        raise RarefyError(f'layer {layer!r}: the factor {factor} must be at least 2 and divide its stride {stride}')
    _set_stride(out.layer[start], stride // s)
    dense = set(out.layer[start].top)
    for lp in out.layer[start + 1:]:
        if not dense.intersection(lp.bottom):
            continue
        if lp.type == 'Convolution':
            _dilate(lp, s)
        elif lp.type == 'Pooling' and lp.pooling_param.kernel_size == 1 and lp.pooling_param.stride == 1 \
                and not lp.pooling_param.global_pooling:
            pass
        elif lp.type not in PASS_THROUGH_LAYERS and lp.type not in _SINKS:
            raise RarefyError(f'layer {lp.name!r} ({lp.type}) follows the rarefied layer {layer!r}; rarefy can only '
                              f'dilate Convolution layers (Caffe\'s Pooling has no dilation)')
        dense.update(lp.top)
    return out
