"""The record of one Caffe layer type (LayerType) and the table of them (LAYER_TYPES).

Caffe keeps what it knows of a layer type in that layer's own file; here it is one LayerType record, declared once
(`define`) in a family module of this package, and read by every package that needs it: the runtime (bottom and
top counts, loss weights, which bottoms a backward reaches), netspec.sizes / shapes (top shapes, learnable blob
shapes), netspec.coord_map / receptive and pycaffe's coord_map (the spatial mapping), weights (which types own
blobs), and through the runtime's net the solvers (loss weights).
"""
import dataclasses
from typing import Callable, Optional

__all__ = ['LayerType', 'Spatial', 'SAME', 'CONCAT', 'OFFSET', 'window', 'upsample', 'NoWindow', 'LAYER_TYPES',
           'define', 'layer_type', 'UnknownLayerType', 'ANY']

#: an unbounded count of bottoms or tops
ANY = None


class NoWindow(Exception):
    """A layer whose window is not fixed by its settings (global pooling sees the whole map); the message says why."""


class UnknownLayerType(KeyError):
    """A type name that no record defines."""

    def __str__(self):
        return self.args[0]


@dataclasses.dataclass(frozen=True)
class Spatial:
    """How a layer's top coordinates map to its (first) bottom's, per spatial axis.

    kind: 'same' (x_bottom = x_top), 'concat' (the same, when concatenating over batch or channels; no map
    otherwise), 'offset' (x_bottom = x_top + crop offset), 'window' (top unit y sees the bottom window
    [s y - p, s y - p + k' - 1]: Convolution, Pooling, Im2col), 'upsample' (the inverse of a window: Deconvolution).
    settings(lp, nsp): for 'window' / 'upsample', the ((k', stride, pad) per spatial axis) of the layer, k' the
    dilated kernel extent; it raises netspec.sizes.ShapeError on settings it cannot read, and NoWindow where the
    window is not fixed (global pooling)."""
    kind: str
    settings: Optional[Callable] = None


SAME = Spatial('same')
CONCAT = Spatial('concat')
OFFSET = Spatial('offset')


def window(settings):
    return Spatial('window', settings)


def upsample(settings):
    return Spatial('upsample', settings)


def _none(lp, bottom_shapes):
    return []


@dataclasses.dataclass(frozen=True)
class LayerType:
    """What Caffe knows of one layer type.

    name         the type string of LayerParameter.type
    params       the LayerParameter fields its settings come from ('convolution_param', ...; loss layers also
                 'loss_param')
    tops         rule(lp, bottom_shapes) -> [top shape, ...] (Caffe's Reshape); None for a type whose tops come from
                 outside (Python and the data layers that read sources)
    blobs        rule(lp, bottom_shapes) -> [learnable blob shape, ...] in Caffe's order (none: [])
    spatial      its Spatial map (coord_map, receptive fields), or None: no fixed map
    bottoms      (min, max) number of bottoms (Caffe's Min/Max/ExactNumBottomBlobs; max ANY: unbounded)
    top_count    (min, max) number of tops
    loss         a LossLayer: top 0 weighs 1 unless loss_weight says otherwise
    in_place     a top may be a bottom (False: Caffe refuses, "does not allow in-place computation")
    data         produces data without reading bottoms' values (a data layer)
    no_diff      bottoms a backward never reaches, even with force_backward (Layer::AllowForceBackward false:
                 a loss layer's labels)
    backward     False where Caffe has no backward (Threshold, ArgMax, Accuracy, data layers): propagate_down on
                 such a layer's bottom is an error, as Caffe's NOT_IMPLEMENTED
    """
    name: str
    params: tuple = ()
    tops: Optional[Callable] = None
    blobs: Callable = _none
    spatial: Optional[Spatial] = None
    bottoms: tuple = (1, 1)
    top_count: tuple = (1, 1)
    loss: bool = False
    in_place: bool = True
    data: bool = False
    no_diff: tuple = ()
    backward: bool = True

    @property
    def owns_blobs(self):
        """Whether layers of this type may own learnable blobs (a .caffemodel must carry them)."""
        return self.blobs is not _none

    def count_error(self, nbottom, ntop):
        """None, or what is wrong with these bottom and top counts."""
        for what, n, (lo, hi) in (('bottom', nbottom, self.bottoms), ('top', ntop, self.top_count)):
            if hi is not None and lo == hi and n != lo:
                return f'needs {lo} {what}(s), has {n}'
            if n < lo:
                return f'needs at least {lo} {what}(s), has {n}'
            if hi is not None and n > hi:
                return f'takes at most {hi} {what}(s), has {n}'
        return None


#: type name -> LayerType, in the order the family modules define them
LAYER_TYPES = {}


def define(record):
    """Add `record` to LAYER_TYPES (one record per type name)."""
    if record.name in LAYER_TYPES:
        raise ValueError(f'layer type {record.name!r} is defined twice')
    LAYER_TYPES[record.name] = record
    return record


def layer_type(name):
    """The record of type `name`; UnknownLayerType names the known types."""
    try:
        return LAYER_TYPES[name]
    except KeyError:
        raise UnknownLayerType(f'unknown layer type {name!r} (known: {", ".join(sorted(LAYER_TYPES))})') from None
