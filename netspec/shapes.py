"""Blob shapes of a NetParameter by Caffe's size rules (netspec.sizes), without running it.

Each layer's tops come from its type's rule in netspec.sizes (the rules the runtime's layers use too); data layers'
tops (Python, Data, ...) from `inputs`. Used to check that every crop fits (Caffe's CropLayer requires
size - offset >= reference size) for a given input size, and to count a net's parameters.
"""
import math

from .io import read_net
from .sizes import ShapeError, canonical_axis, conv_geometry, scale_axes, top_shapes

__all__ = ['infer_shapes', 'param_shapes', 'count_params', 'ShapeError', 'DATA_TYPES']

#: Data layers: their tops' shapes come from the caller (`inputs`), as a data layer's come from its source.
DATA_TYPES = frozenset({'Python', 'Data', 'ImageData', 'HDF5Data', 'DummyData'})


def infer_shapes(net, inputs):
    """{blob: shape tuple} for net (any read_net source); `inputs` gives the shapes of non-Input data tops."""
    net = read_net(net)
    shapes = {k: tuple(v) for k, v in inputs.items()}
    for layer in net.layer:
        where = f'layer {layer.name!r} ({layer.type})'
        missing = [b for b in layer.bottom if b not in shapes]
        if missing:
            raise ShapeError(f'{where}: bottom {missing[0]!r} has no known shape')
        if layer.type in DATA_TYPES:
            unknown = [t for t in layer.top if t not in shapes]
            if unknown:
                raise ShapeError(f'{where}: top {unknown[0]!r} of this data layer has no shape in `inputs`')
            outs = [shapes[top] for top in layer.top]
        else:
            try:
                outs = top_shapes(layer, [shapes[b] for b in layer.bottom])
            except ShapeError as e:
                raise ShapeError(f'{where}: {e}') from None
        for top, shape in zip(layer.top, outs):
            if any(x <= 0 for x in shape):
                raise ShapeError(f'{where}: empty output {shape} for {top!r}')
            shapes[top] = tuple(shape)
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
            bottom = shapes[layer.bottom[0]]
            cin, cout, g = bottom[1], cp.num_output, cp.group
            kernel = conv_geometry(cp, [bottom]).kernel
            w = (cout, cin // g) + kernel if t == 'Convolution' else (cin, cout // g) + kernel
            out[layer.name] = [w] + ([(cout,)] if cp.bias_term else [])
        elif t == 'InnerProduct':
            ip = layer.inner_product_param
            bottom = shapes[layer.bottom[0]]
            cin = math.prod(bottom[canonical_axis(ip.axis, len(bottom)):])
            w = (cin, ip.num_output) if ip.transpose else (ip.num_output, cin)
            out[layer.name] = [w] + ([(ip.num_output,)] if ip.bias_term else [])
        elif t in ('Scale', 'Bias') and len(layer.bottom) == 1:
            param = layer.scale_param if t == 'Scale' else layer.bias_param
            _, c = scale_axes(param, [shapes[layer.bottom[0]]])
            out[layer.name] = [c] + ([c] if t == 'Scale' and layer.scale_param.bias_term else [])
    return out


def count_params(net, inputs=None):
    """The number of learnable values (frozen deconvolutions included, as a .caffemodel stores them)."""
    return sum(math.prod(s) for blobs in param_shapes(net, inputs).values() for s in blobs)
