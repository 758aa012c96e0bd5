"""Net surgery as the FCN reference does it (surgery.py), with the size checks it lacks.

Every function takes "nets" that are anything with `.params` (an OrderedDict layer name -> list of torch tensors /
nn.Parameters, or numpy arrays) or such a mapping itself (e.g. read_weights' result). Writes go in place, under
torch.no_grad() for tensors.

initialize() is the whole initialization tools/surgery.py (fcn-surgery) makes into a file: a previous stage copied
by name, classifiers transplanted, extra input channels filled, frozen upsampling set to bilinear.
"""
import numpy as np
import torch

from netspec import caffe_pb2, read_net
from netspec.models.families import SINGLE_CHANNEL_TOPS

from .caffemodel import PARAM_TYPES
from .errors import WeightsError
from .io import read_weights
from .match import match_arrays

__all__ = ['transplant', 'upsample_filt', 'deconv_layers', 'interp', 'expand_score', 'with_input_layers',
           'layer_names', 'mean_channels', 'owners_of_blobs', 'source_arrays', 'copy_by_name', 'initialize',
           'SINGLE_CHANNEL_TOPS']


def _params(net):
    return net.params if hasattr(net, 'params') else net


def _numpy(x):
    if hasattr(x, 'detach'):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _write(dst, value):
    """Overwrite dst (tensor or numpy array) with value, which already has dst's shape."""
    if hasattr(dst, 'detach'):
        with torch.no_grad():
            dst.copy_(torch.from_numpy(np.ascontiguousarray(value)).to(dtype=dst.dtype, device=dst.device))
    else:
        dst[...] = value


def transplant(new_net, net, suffix='', log=print):
    """Copy every parameter of `net` into the layer of `new_net` named the same plus `suffix`.

    Where shapes differ but element counts agree (fc6 4096x25088 -> 4096x512x7x7), the blob is copied through its
    flat row-major view ("coercing"; one log line per coerced layer). Where counts differ: WeightsError (the
    reference's numpy assignment would silently tile or truncate). Extra source blobs and layers the target lacks are
    dropped with a message; target layers absent from the source are left as they are.
    Returns the list of target layer names written.
    """
    src, dst = _params(net), _params(new_net)
    written = []
    for p, blobs in src.items():
        q = p + suffix
        if q not in dst:
            log(f'dropping {p} (no layer {q} in the target)')
            continue
        targets = dst[q]
        coerced = []
        for i, b in enumerate(blobs):
            if i >= len(targets):
                log(f'dropping {p} blob {i} and after (the target layer {q} has {len(targets)} blobs)')
                break
            a = _numpy(b)
            t_shape = tuple(targets[i].shape)
            if a.shape != t_shape:
                if a.size != int(np.prod(t_shape, dtype=np.int64)):
                    raise WeightsError(f'transplant: layer {p!r} blob {i} has shape {a.shape} ({a.size} values) '
                                       f'but target layer {q!r} blob {i} has shape {t_shape} '
                                       f'({int(np.prod(t_shape, dtype=np.int64))} values); cannot coerce')
                coerced.append(f'blob {i} {a.shape} -> {t_shape}')
            _write(targets[i], a.reshape(t_shape))
        if coerced:
            log(f'coercing {p}: ' + ', '.join(coerced))
        written.append(q)
    return written


def upsample_filt(size):
    """A size x size bilinear kernel (float64): factor f = ceil(size/2), center f-1 (odd) or f-0.5 (even)."""
    size = int(size)
    if size < 1:
        raise ValueError(f'upsample_filt: size must be >= 1, got {size}')
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.arange(size, dtype=np.float64)
    prof = 1 - np.abs(og - center) / factor
    return prof[:, None] * prof[None, :]


def deconv_layers(net):
    """Names of the Deconvolution layers whose weights are frozen (first param spec lr_mult 0)."""
    net_param = getattr(net, 'net_param', None)
    if net_param is None:
        raise ValueError('interp: this net carries no net_param; name the layers to interpolate')
    params = _params(net)
    out = []
    for lp in net_param.layer:
        if lp.type == 'Deconvolution' and lp.name in params and params[lp.name]:
            lr = lp.param[0].lr_mult if len(lp.param) else 1.0
            if lr == 0:
                out.append(lp.name)
    return out


def interp(net, layers=None):
    """Write the bilinear kernel on the diagonal (channel c -> c) of each named Deconvolution's weight.

    Weight shape (m, k, h, w) needs m == k or k == 1 and h == w, else WeightsError. Off-diagonal kernels keep their
    values (zero after Caffe's default init). layers=None: every Deconvolution layer with lr_mult 0.
    Returns the layer names written.
    """
    params = _params(net)
    if layers is None:
        layers = deconv_layers(net)
    elif isinstance(layers, str):
        layers = [layers]
    for name in layers:
        if name not in params or not params[name]:
            raise WeightsError(f'interp: the net has no parameter blobs for layer {name!r}')
        w = params[name][0]
        shape = tuple(w.shape)
        if len(shape) != 4:
            raise WeightsError(f'interp: layer {name!r} weight has shape {shape}, expected 4-D (in, out, h, w)')
        m, k, h, ww = shape
        if m != k and k != 1:
            raise WeightsError(f'interp: layer {name!r} weight {shape}: input and output channels differ '
                               f'({m} vs {k}) and the kernel is not 1-channel')
        if h != ww:
            raise WeightsError(f'interp: layer {name!r} weight {shape}: the kernel is not square ({h}x{ww})')
        a = _numpy(w).copy()
        a[np.arange(m), np.arange(k) if k == m else 0] = upsample_filt(h).astype(a.dtype)
        _write(w, a)
    return list(layers)


def expand_score(new_net, new_layer, net, layer):
    """Copy an old k'-class score layer into the first k' outputs of a new k-class score layer.

    The other outputs keep their values (new classes). The remaining weight dims must agree.
    """
    src, dst = _params(net), _params(new_net)
    for n, p, what in ((layer, src, 'source'), (new_layer, dst, 'target')):
        if n not in p or len(p[n]) < 1:
            raise WeightsError(f'expand_score: the {what} net has no layer {n!r} with blobs')
    old_w = _numpy(src[layer][0])
    new_w = _numpy(dst[new_layer][0]).copy()
    old_k, new_k = old_w.shape[0], new_w.shape[0]
    if old_k > new_k or old_w.shape[1:] != new_w.shape[1:]:
        raise WeightsError(f'expand_score: cannot fit {layer!r} weight {old_w.shape} into the first outputs of '
                           f'{new_layer!r} weight {new_w.shape}')
    new_w[:old_k] = old_w
    _write(dst[new_layer][0], new_w)
    if len(src[layer]) > 1 and len(dst[new_layer]) > 1:
        old_b = _numpy(src[layer][1]).reshape(-1)
        new_b = _numpy(dst[new_layer][1]).copy()
        flat = new_b.reshape(-1)
        if old_b.size > flat.size:
            raise WeightsError(f'expand_score: bias of {layer!r} ({old_b.size}) does not fit {new_layer!r} '
                               f'({flat.size})')
        flat[:old_b.size] = old_b
        _write(dst[new_layer][1], new_b)


def with_input_layers(net_param, size=224, shapes=None):
    """A copy of net_param whose data layers (no bottoms, not Input: Python, Data, ...) are Input layers.

    Surgery needs only a net's parameter shapes, not its data; this lets a train/val prototxt whose data layers
    read a dataset be built anywhere. shapes: {top name: shape}; other tops get (1, 1, size, size) when one of
    SINGLE_CHANNEL_TOPS (the dataset families' labels and NYUD's depth) and (1, 3, size, size) otherwise.
    """
    shapes = dict(shapes or {})
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    for lp in out.layer:
        if len(lp.bottom) or lp.type == 'Input' or not len(lp.top):
            continue
        keep = caffe_pb2.LayerParameter(name=lp.name, type='Input', top=list(lp.top), include=list(lp.include),
                                        exclude=list(lp.exclude))
        if lp.HasField('phase'):
            keep.phase = lp.phase
        for top in lp.top:
            shape = shapes.get(top) or (1, 1 if top in SINGLE_CHANNEL_TOPS else 3, size, size)
            keep.input_param.shape.add(dim=[int(d) for d in shape])
        lp.CopyFrom(keep)
    return out


def layer_names(net_param):
    """Layer names of a NetParameter, V2 `layer` or V1 `layers`."""
    return [lp.name for lp in net_param.layer] + [lp.name for lp in net_param.layers]


def mean_channels(new_net, new_layer, net, layer):
    """Init a first conv with extra input channels (NYUD color-D's conv1_1_bgrd from VGG16's conv1_1): the source's
    filters on its input channels, their mean over those channels on each extra channel, and the source's bias."""
    src, dst = _params(net), _params(new_net)
    for n, p, what in ((layer, src, 'source'), (new_layer, dst, 'target')):
        if n not in p or len(p[n]) < 1:
            raise WeightsError(f'mean_channels: the {what} net has no layer {n!r} with blobs')
    w = _numpy(src[layer][0])
    t_shape = tuple(dst[new_layer][0].shape)
    if w.ndim != 4 or len(t_shape) != 4 or t_shape[0] != w.shape[0] or t_shape[2:] != w.shape[2:] \
            or t_shape[1] < w.shape[1]:
        raise WeightsError(f'mean_channels: cannot extend {layer!r} weight {w.shape} to {new_layer!r} {t_shape}')
    out = np.empty(t_shape, dtype=w.dtype)
    out[:, :w.shape[1]] = w
    out[:, w.shape[1]:] = w.mean(axis=1, keepdims=True)
    _write(dst[new_layer][0], out)
    if len(src[layer]) > 1 and len(dst[new_layer]) > 1:
        _write(dst[new_layer][1], _numpy(src[layer][1]).reshape(tuple(dst[new_layer][1].shape)))


def owners_of_blobs(net_param):
    """Names of the layers of a NetParameter (V2 or V1) whose type owns parameter blobs."""
    V1 = caffe_pb2.V1LayerParameter
    v1_types = {V1.CONVOLUTION, V1.DECONVOLUTION, V1.INNER_PRODUCT}
    return ([lp.name for lp in net_param.layer if lp.type in PARAM_TYPES] +
            [lp.name for lp in net_param.layers if lp.type in v1_types])


def source_arrays(prototxt, weights_path, log=print):
    """The weights a Caffe Net(prototxt, weights) would hold: the file's layers that the prototxt names.

    Unlike Caffe, which leaves such layers at their fillers, a file lacking blobs for a layer of its own net that
    owns some is an error: a source for surgery must be complete. The file's other layers are dropped (logged)."""
    arrays = read_weights(weights_path)
    net = read_net(prototxt)
    names = set(layer_names(net))
    missing = [n for n in owners_of_blobs(net) if not arrays.get(n)]
    if missing:
        raise WeightsError(f'{weights_path}: holds no blobs for layer(s) {missing} of {prototxt}')
    for k in arrays:
        if k not in names and len(arrays[k]):
            log(f'ignoring {k} from {weights_path} (not in {prototxt})')
    return {k: v for k, v in arrays.items() if k in names and len(v)}


def copy_by_name(new_net, arrays, source='<weights>'):
    """Copy {layer: [arrays]} into the layers of `new_net` named the same, by Caffe's CopyTrainedLayersFrom rules
    (match_arrays: exact shapes, legacy 4-D dims accepted; a mismatch is a WeightsError naming `source`, the layer
    and both shapes, raised before anything is written). Returns the names of the layers written."""
    dst = _params(new_net)
    matched = match_arrays({n: [tuple(b.shape) for b in blobs] for n, blobs in dst.items()}, arrays, source)
    for name, blobs in matched.items():
        for target, a in zip(dst[name], blobs):
            _write(target, a)
    return list(matched)


def initialize(new_net, from_stage=None, transplants=(), mean_pairs=(), bilinear=True, log=print):
    """Initialize an FCN from trained nets, as the reference's solve.py scripts do before training.

    new_net: the FCN (a runtime.Net, or anything with .params and, for bilinear, .net_param), written in place.
    from_stage: (prototxt, weights) of a trained coarser FCN, copied by name (copy_by_name).
    transplants: (prototxt, weights, suffix) triples, each net transplanted into the layers named L+suffix.
    mean_pairs: (source layer, target layer) pairs for first convs with extra input channels (mean_channels), the
    source layer taken from the first source net that has it.
    bilinear: then every frozen Deconvolution gets the bilinear kernel (interp).
    Layers no source names keep their values (Caffe's fillers). Progress goes to `log`, one line per step.
    Returns the names of the layers written from a source.
    """
    written, sources = [], []
    if from_stage:
        prototxt, path = from_stage
        src = source_arrays(prototxt, path, log=log)
        sources.append(src)
        written += copy_by_name(new_net, src, source=path)
        log(f'copied {len(written)} layers from {path}')
    for prototxt, path, suffix in transplants:
        src = source_arrays(prototxt, path, log=log)
        sources.append(src)
        done = transplant(new_net, src, suffix=suffix, log=log)
        written += done
        log(f'transplanted {len(done)} layers from {path}' + (f' into *{suffix}' if suffix else ''))
    for a, b in mean_pairs:
        src = next((s for s in sources if a in s), None)
        if src is None:
            raise WeightsError(f'mean_channels {a}:{b}: no source net has a layer {a!r} with blobs')
        mean_channels(new_net, b, src, a)
        written.append(b)
        log(f'{b}: {a} filters plus their channel mean on the extra input channels')
    fresh = [n for n in _params(new_net) if n not in written]
    if fresh:
        log('left at their fillers: ' + ', '.join(fresh))
    if bilinear:
        done = interp(new_net)
        if done:
            log('bilinear interpolation: ' + ', '.join(done))
    return written
