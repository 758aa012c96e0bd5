"""Blob shapes of a NetParameter by Caffe's size rules (CAFFE.md section 2), without running it.

Covers the layer types of the FCN nets (Input, Python data given by `inputs`, Convolution, Deconvolution, Pooling,
Crop, Concat, Eltwise, Scale, LRN, ReLU, Dropout, SoftmaxWithLoss, Softmax, Accuracy, ...). Used to check that
every crop fits (Caffe's CropLayer requires size - offset >= reference size) for a given input size.
"""
import math

from .io import read_net

PASS = {'ReLU', 'Dropout', 'LRN', 'Scale', 'Bias', 'BatchNorm', 'Sigmoid', 'TanH', 'PReLU', 'ELU', 'AbsVal',
        'Power', 'Exp', 'Log', 'BNLL', 'Threshold', 'MVN', 'Softmax', 'Split'}


class ShapeError(ValueError):
    """A layer whose bottoms do not fit its rule (a crop window past the edge, an empty output, ...)."""


def _one(values, default):
    return int(values[0]) if len(values) else default


def _conv_out(h, k, s, p, d=1):
    return (h + 2 * p - (d * (k - 1) + 1)) // s + 1


def _pool_out(h, k, s, p, floor=False):
    out = (h + 2 * p - k) // s + 1 if floor else -(-(h + 2 * p - k) // s) + 1
    if p > 0 and (out - 1) * s >= h + p:
        out -= 1
    return out


def infer_shapes(net, inputs):
    """{blob: shape tuple} for net (any read_net source); `inputs` gives the shapes of non-Input data tops."""
    net = read_net(net)
    shapes = {k: tuple(v) for k, v in inputs.items()}
    for layer in net.layer:
        t = layer.type
        where = f'layer {layer.name!r} ({t})'
        missing = [b for b in layer.bottom if b not in shapes]
        if missing:
            raise ShapeError(f'{where}: bottom {missing[0]!r} has no known shape')
        bots = [shapes[b] for b in layer.bottom]
        if t == 'Input':
            outs = [tuple(s.dim) for s in layer.input_param.shape]
            outs = outs * len(layer.top) if len(outs) == 1 else outs
        elif t in ('Python', 'Data', 'ImageData', 'HDF5Data', 'DummyData'):
            outs = [shapes[top] for top in layer.top]
        elif t in ('Convolution', 'Deconvolution'):
            cp = layer.convolution_param
            k, s, p = _one(cp.kernel_size, 1), _one(cp.stride, 1), _one(cp.pad, 0)
            d = _one(cp.dilation, 1)
            n, c, h, w = bots[0]
            if t == 'Convolution':
                size = [_conv_out(x, k, s, p, d) for x in (h, w)]
            else:
                size = [s * (x - 1) + d * (k - 1) + 1 - 2 * p for x in (h, w)]
            outs = [(n, cp.num_output, *size)]
        elif t == 'Pooling':
            pp = layer.pooling_param
            n, c, h, w = bots[0]
            if pp.global_pooling:
                size = [1, 1]
            else:
                size = [_pool_out(x, pp.kernel_size, pp.stride, pp.pad) for x in (h, w)]
            outs = [(n, c, *size)]
        elif t == 'Crop':
            axis = layer.crop_param.axis
            src, ref = bots
            offs = list(layer.crop_param.offset) or [0]
            out = list(src)
            for i in range(axis, len(src)):
                off = offs[0] if len(offs) == 1 else offs[i - axis]
                if src[i] - off < ref[i]:
                    raise ShapeError(f'{where}: {layer.bottom[0]!r} is {src[i]} long on axis {i}, too short for '
                                     f'offset {off} + {layer.bottom[1]!r}\'s {ref[i]}')
                out[i] = ref[i]
            outs = [tuple(out)]
        elif t == 'Concat':
            axis = layer.concat_param.axis
            out = list(bots[0])
            out[axis] = sum(b[axis] for b in bots)
            outs = [tuple(out)]
        elif t == 'Eltwise':
            if any(b != bots[0] for b in bots):
                raise ShapeError(f'{where}: bottoms differ in shape {bots}')
            outs = [bots[0]]
        elif t in PASS:
            outs = [bots[0]]
        elif t.endswith('Loss') or t == 'Accuracy':
            outs = [()] * len(layer.top)
        else:
            raise ShapeError(f'{where}: no size rule for this layer type')
        for top, shape in zip(layer.top, outs):
            if any(x <= 0 for x in shape):
                raise ShapeError(f'{where}: empty output {shape} for {top!r}')
            shapes[top] = shape
    return shapes


def param_shapes(net, inputs=None):
    """{layer: [blob shape, ...]} of the learnable blobs Caffe would allocate (conv, deconv, InnerProduct, Scale,
    Bias), from the bottoms' shapes; `inputs` as for infer_shapes."""
    net = read_net(net)
    shapes = infer_shapes(net, inputs or {})
    out = {}
    for layer in net.layer:
        t = layer.type
        if t in ('Convolution', 'Deconvolution'):
            cp = layer.convolution_param
            cin, cout, g = shapes[layer.bottom[0]][1], cp.num_output, cp.group
            k = _one(cp.kernel_size, 1)
            w = (cout, cin // g, k, k) if t == 'Convolution' else (cin, cout // g, k, k)
            out[layer.name] = [w] + ([(cout,)] if cp.bias_term else [])
        elif t == 'InnerProduct':
            ip = layer.inner_product_param
            cin = math.prod(shapes[layer.bottom[0]][ip.axis or 1:])
            out[layer.name] = [(ip.num_output, cin)] + ([(ip.num_output,)] if ip.bias_term else [])
        elif t in ('Scale', 'Bias') and len(layer.bottom) == 1:
            c = (shapes[layer.bottom[0]][1],)
            out[layer.name] = [c] + ([c] if t == 'Scale' and layer.scale_param.bias_term else [])
    return out


def count_params(net, inputs=None):
    """The number of learnable values (frozen deconvolutions included, as a .caffemodel stores them)."""
    return sum(math.prod(s) for blobs in param_shapes(net, inputs).values() for s in blobs)
