"""Shared building blocks of the FCN nets: data sources, learning-rate specs, width scaling, the score heads.

Everything here adds named tops to a NetSpec, so the generated layer order is the order of the calls.
"""
from ..coord_map import crop
from ..dsl import layers as L, params as P
from . import families

# param specs: weights lr 1 / decay 1, biases lr 2 / decay 0, as every learning layer of the reference nets has them
LEARN = (dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0))
# a frozen conv (FCN-32s-fixed trunk): nothing learns, decay_mult left at Caffe's default
FROZEN = (dict(lr_mult=0), dict(lr_mult=0))
# the upsampling deconvolutions: one spec, lr 0 (bilinear, fixed)
UPSAMPLE = (dict(lr_mult=0),)
# an upsampling deconvolution that learns (the paper's intermediate upsampling, bilinear-initialized by surgery)
UPSAMPLE_LEARNED = (dict(lr_mult=1, decay_mult=1),)
#: upsampling='frozen': every deconvolution fixed (the reference); 'learned': the intermediate ones (upscore2,
#: upscore_pool4, ...) learn and only the final one stays fixed (the paper, CVPR 2015 sec. 4.2 / 4.3)
UPSAMPLING = ('frozen', 'learned')
#: the output strides fcn_head makes, and the trunk tap fused at each stride below 32 (FCN-16s ... FCN-2s)
STRIDES = (32, 16, 8, 4, 2)
SKIP_LEVELS = {16: 'pool4', 8: 'pool3', 4: 'pool2', 2: 'pool1'}

VOC_MEAN = (104.00699, 116.66877, 122.67892)


def params_list(spec):
    """A fresh list of fresh dicts (the DSL may keep references)."""
    return None if spec is None else [dict(d) for d in spec]


def scaled(channels, width=1.0, multiple=1):
    """Channel count scaled by `width`, at least `multiple` and a multiple of it (grouped convs need that)."""
    if width == 1.0:
        return channels
    units = max(1, int(round(channels * width / multiple)))
    return units * multiple


class DataSource:
    """How a net gets its blobs: a Python data layer (train/val nets) or an Input layer (deploy nets).

    `tops` are the blobs the layer makes, `labels` those of them that are labels (no labels: a deploy net, which
    then has no dropout and no loss).
    """

    def __init__(self, kind, tops, labels=(), module=None, layer=None, param=None, shapes=None, name=None):
        self.kind, self.tops, self.labels = kind, tuple(tops), tuple(labels)
        self.module, self.layer, self.param, self.shapes, self.name = module, layer, param, shapes, name

    @property
    def deploy(self):
        return not self.labels

    def build(self, n):
        """Add the data layer to NetSpec n; returns the tops in order."""
        if self.kind == 'python':
            tops = L.Python(module=self.module, layer=self.layer, ntop=len(self.tops), param_str=str(self.param))
        else:
            tops = L.Input(name=self.name or 'input', ntop=len(self.tops),
                           shape=[dict(dim=list(s)) for s in self.shapes])
        tops = (tops,) if len(self.tops) == 1 else tuple(tops)
        for name, top in zip(self.tops, tops):
            n[name] = top
        return tops

    def __repr__(self):
        if self.kind == 'python':
            return f'python_data({self.module!r}, {self.layer!r}, {self.param!r}, tops={self.tops!r})'
        return f'input_data({dict(zip(self.tops, self.shapes))!r})'


def python_data(module, layer, param, tops=('data', 'label'), labels=None):
    """A Python data layer; `param` (a dict, key order kept) becomes param_str as str(param), as net.py writes it."""
    if labels is None:
        labels = tuple(t for t in tops if t not in families.INPUT_CHANNELS)
    return DataSource('python', tops, labels, module=module, layer=layer, param=param)


def input_data(shape=(1, 3, 500, 500), tops=('data',), shapes=None, name='input', labels=()):
    """An Input layer: one shape for every top, or `shapes` giving one per top.

    Without `labels` it makes a deploy net (no dropout, no loss). Naming label tops (which must be among `tops`)
    makes a trainable net fed by Input blobs, e.g. for tests:
    input_data(tops=('data', 'label'), shapes=[(1, 3, 64, 64), (1, 1, 64, 64)], labels=('label',)).
    """
    tops, labels = tuple(tops), tuple(labels)
    shapes = [tuple(s) for s in shapes] if shapes is not None else [tuple(shape)] * len(tops)
    if len(shapes) != len(tops):
        raise ValueError(f'input_data: {len(tops)} tops {tops} but {len(shapes)} shapes')
    if set(labels) - set(tops):
        raise ValueError(f'input_data: labels {labels} must be among the tops {tops}')
    return DataSource('input', tops, labels, shapes=shapes, name=name)


# The reference data layers: their param_str keys and values, in the reference prototxts' key order. Module
# and layer names come from the family records (families.py).

def _python_data(ref, param, tops=('data', 'label'), labels=None):
    return python_data(ref.module, ref.layer, param, tops=tops, labels=labels)


def voc_data(split, root='../data'):
    """SBDD train (SBDDSegDataLayer) or VOC2011 val (VOCSegDataLayer), tops data, label."""
    voc, sbdd = families.VOC.layers
    if split == 'train':
        param = {'sbdd_dir': f'{root}/sbdd/dataset', 'seed': 1337, 'split': split, 'mean': VOC_MEAN}
        return _python_data(sbdd, param)
    param = {'voc_dir': f'{root}/pascal/VOC2011', 'seed': 1337, 'split': split, 'mean': VOC_MEAN}
    return _python_data(voc, param)


def siftflow_data(split, root='../data'):
    """SIFT Flow, tops data, sem, geo (one label top per head)."""
    param = {'siftflow_dir': f'{root}/sift-flow', 'seed': 1337, 'split': split}
    layer, = families.SIFTFLOW.layers
    return _python_data(layer, param, tops=('data',) + tuple(h.label for h in families.SIFTFLOW.heads))


def nyud_data(split, tops=('color', 'label'), names=None, root='../data'):
    """NYUDv2: `tops` are the layer's param tops (color, depth, hha, label); `names` the blob names."""
    param = {'tops': list(tops), 'seed': 1337, 'nyud_dir': f'{root}/nyud', 'split': split}
    names = tuple(names or tops)
    layer, = families.NYUD.layers
    return _python_data(layer, param, tops=names, labels=(names[-1],))


def pascalcontext_data(split, root='../../data'):
    """PASCAL-Context on VOC2010, tops data, label."""
    param = {'context_dir': f'{root}/pascal-context', 'seed': 1337, 'split': split, 'voc_dir': f'{root}/pascal'}
    layer, = families.PASCALCONTEXT.layers
    return _python_data(layer, param)


# Layers

def conv_relu(n, name, relu_name, bottom, nout, ks=3, stride=1, pad=1, group=None, param=LEARN, dilation=None):
    """Convolution + in-place ReLU, named `name` / `relu_name` on n; returns the (in-place) top."""
    kw = dict(kernel_size=ks, stride=stride, num_output=nout, pad=pad)
    if group is not None:
        kw['group'] = group
    if dilation is not None:
        kw['dilation'] = dilation
    if param is not None:
        kw['param'] = params_list(param)
    n[name] = L.Convolution(bottom, **kw)
    n[relu_name] = L.ReLU(n[name], in_place=True)
    return n[relu_name]


def max_pool(n, name, bottom, ks=2, stride=2, pad=None):
    kw = dict(pool=P.Pooling.MAX, kernel_size=ks, stride=stride)
    if pad is not None:
        kw['pad'] = pad
    n[name] = L.Pooling(bottom, **kw)
    return n[name]


def dropout(n, name, bottom, ratio=0.5):
    n[name] = L.Dropout(bottom, dropout_ratio=ratio, in_place=True)
    return n[name]


def score(n, name, bottom, num_classes, param=LEARN):
    """A 1x1 scoring convolution (score_fr, score_pool4, score_pool3)."""
    kw = dict(num_output=num_classes, kernel_size=1, pad=0)
    if param is not None:
        kw['param'] = params_list(param)
    n[name] = L.Convolution(bottom, **kw)
    return n[name]


def upsample(n, name, bottom, num_classes, ks, stride, learn=False):
    """A bias-free, group-1 Deconvolution: FCN's upsampling layer, fixed (lr 0) or, with `learn`, learning
    (lr 1, decay 1). Either way its weights come from surgery.interp (bilinear on the channel diagonal)."""
    n[name] = L.Deconvolution(bottom, convolution_param=dict(num_output=num_classes, kernel_size=ks, stride=stride,
                                                             bias_term=False),
                              param=params_list(UPSAMPLE_LEARNED if learn else UPSAMPLE))
    return n[name]


def fuse(n, name, a, b, coeff=None):
    kw = dict(operation=P.Eltwise.SUM)
    if coeff is not None:
        kw['coeff'] = list(coeff)
    n[name] = L.Eltwise(a, b, **kw)
    return n[name]


#: the Python module of the loss alternatives (datalayers.loss_layers; the runtime finds it in that package)
LOSS_LAYERS = 'loss_layers'


def softmax_loss(n, name, score_top, label, normalize=False, keep=1.0, class_weights=None, cell=1):
    """The FCN loss: SoftmaxWithLoss ignoring 255, summed (normalize false) or normalized.

    The paper's alternatives (datalayers.loss_layers), off by default: keep < 1 samples the loss (a
    LossSamplingLayer '<name>_sampled' drops each `cell` x `cell` label cell with probability 1 - keep, in the
    TRAIN phase); class_weights (one per class) makes the loss a ClassWeightedSoftmaxLossLayer (loss_weight 1).
    """
    if not 0 < keep <= 1:
        raise ValueError(f'loss sampling: keep must be in (0, 1], not {keep!r}')
    if keep != 1:
        sampling = {'keep': float(keep), 'ignore_label': 255}
        if cell != 1:
            sampling['cell'] = int(cell)
        n[name + '_sampled'] = L.Python(label, module=LOSS_LAYERS, layer='LossSamplingLayer',
                                        param_str=repr(sampling))
        label = n[name + '_sampled']
    if class_weights is not None:
        weights = {'class_weights': [float(w) for w in class_weights], 'ignore_label': 255, 'normalize': normalize}
        n[name] = L.Python(score_top, label, module=LOSS_LAYERS, layer='ClassWeightedSoftmaxLossLayer',
                           param_str=repr(weights), loss_weight=1)
    else:
        n[name] = L.SoftmaxWithLoss(score_top, label, loss_param=dict(normalize=normalize, ignore_label=255))
    return n[name]


def fcn_head(n, fc7, skips, reference, stride, num_classes, suffix='', final_ks=None, scales=None,
             score_name='score', upsampling='frozen', trunk_stride=32):
    """The score / upsample / crop / fuse head of FCN-32s, -16s, -8s, -4s and -2s (crop offsets from netspec.crop).

    `stride` is the output stride; `trunk_stride` that of `fc7` (32; 16 for a trunk with pool5 stride 1). Each
    halving of the stride below trunk_stride fuses one trunk tap (SKIP_LEVELS: pool4 at 16, pool3 at 8, pool2 at 4,
    pool1 at 2), so `skips` maps those names to trunk tops; `scales` (at-once) maps them to the constant of a fixed
    Scale layer put in front of their score layer. `upsampling` (UPSAMPLING): 'frozen' keeps every deconvolution
    at lr 0 (the reference), 'learned' lets the intermediate 2x ones learn and keeps the final one fixed (the
    paper). Names follow the reference: score_fr, upscore, upscore2, score_pool4, score_pool4c, fuse_pool4,
    upscore16, upscore_pool4, score_pool3, score_pool3c, fuse_pool3, upscore8, ... upscore4; FCN-2s ends in
    upscore_pool1 (its final upsampling is 2x, like the intermediate ones, and 'upscore2' is taken), then score;
    each with `suffix` inserted before the crop's 'c'. Returns the final score top (cropped to `reference`).
    """
    if stride not in STRIDES:
        raise ValueError(f'FCN stride must be 32, 16, 8, 4 or 2, not {stride}')
    if trunk_stride not in STRIDES or trunk_stride < stride:
        raise ValueError(f'FCN stride {stride} cannot be made from a trunk of stride {trunk_stride} '
                         f'(the head only upsamples)')
    if upsampling not in UPSAMPLING:
        raise ValueError(f'upsampling must be one of {UPSAMPLING}, not {upsampling!r}')
    learn = upsampling == 'learned'
    s = suffix
    top = score(n, 'score_fr' + s, fc7, num_classes)
    if stride == trunk_stride:
        up = upsample(n, 'upscore' + s, top, num_classes, final_ks or 2 * stride, stride)
    else:
        up = upsample(n, 'upscore2' + s, top, num_classes, 4, 2, learn=learn)
        levels = [SKIP_LEVELS[t] for t in STRIDES if stride <= t < trunk_stride]
        for i, level in enumerate(levels):
            feat = skips[level]
            if scales and level in scales:
                n['scale_' + level + s] = L.Scale(feat, filler=dict(type='constant', value=scales[level]),
                                                  param=params_list(UPSAMPLE))
                feat = n['scale_' + level + s]
            sc = score(n, 'score_' + level + s, feat, num_classes)
            n['score_' + level + s + 'c'] = crop(sc, up)
            fused = fuse(n, 'fuse_' + level + s, up, n['score_' + level + s + 'c'])
            if i == len(levels) - 1:
                final = 'upscore_' + level if stride == 2 else f'upscore{stride}'
                up = upsample(n, final + s, fused, num_classes, final_ks or 2 * stride, stride)
            else:
                up = upsample(n, 'upscore_' + level + s, fused, num_classes, 4, 2, learn=learn)
    n[score_name] = crop(up, reference)
    return n[score_name]
