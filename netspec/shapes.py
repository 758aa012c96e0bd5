"""Blob shapes of a NetParameter by Caffe's size rules (CAFFE.md section 2), without running it.

Each layer's tops come from its type's rule (its record in netspec.layertypes, the rules the runtime's layers use
too); the tops of a type without a rule (Python, and data layers that read a source) from `inputs`. Used to check
that every crop fits (Caffe's CropLayer requires size - offset >= reference size) for a given input size, and to
count a net's parameters.
"""
import math

from .io import read_net
from .layertypes import LAYER_TYPES
from .sizes import ShapeError, top_shapes

__all__ = ['infer_shapes', 'param_shapes', 'count_params', 'ShapeError', 'DATA_TYPES']

#: Types without a top rule: their tops' shapes come from the caller (`inputs`), as a data layer's come from its source.
DATA_TYPES = frozenset(name for name, r in LAYER_TYPES.items() if r.tops is None)


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
    """{layer: [blob shape, ...]} of the learnable blobs Caffe would allocate (each type's record says which), from
    the bottoms' shapes; `inputs` as for infer_shapes. Layers without blobs are left out."""
    net = read_net(net)
    shapes = infer_shapes(net, inputs or {})
    out = {}
    for layer in net.layer:
        record = LAYER_TYPES.get(layer.type)
        if record is None or not record.owns_blobs:
            continue
        try:
            blobs = record.blobs(layer, [shapes[b] for b in layer.bottom])
        except ShapeError as e:
            raise ShapeError(f'layer {layer.name!r} ({layer.type}): {e}') from None
        if blobs:
            out[layer.name] = [tuple(b) for b in blobs]
    return out


def count_params(net, inputs=None):
    """The number of learnable values (frozen deconvolutions included, as a .caffemodel stores them)."""
    return sum(math.prod(s) for blobs in param_shapes(net, inputs).values() for s in blobs)
