"""Per-net builders: each returns a caffe_pb2.NetParameter for a data source (see parts.DataSource)."""
from ..dsl import NetSpec, layers as L
from .parts import FROZEN, LEARN, crop, fcn_head, fuse, input_data, score as score_conv, softmax_loss, upsample
from . import trunks


def _want(flag, source):
    """dropout / loss default: present in train/val nets, absent in deploy nets (Input source)."""
    return (not source.deploy) if flag is None else flag


#: at-once skip scales (voc-fcn8s-atonce: pool4 0.01, pool3 0.0001), continued by the same factor 100 per level for
#: the deeper skips of FCN-4s / FCN-2s
AT_ONCE_SCALES = {'pool4': 0.01, 'pool3': 0.0001, 'pool2': 1e-06, 'pool1': 1e-08}


def fcn_vgg16(source=None, stride=32, num_classes=21, width=1.0, at_once=False, fixed=False, dropout=None,
              loss=None, normalize=False, upsampling='frozen', pool5_stride=2, loss_sampling=1.0, sampling_cell=1,
              class_weights=None):
    """FCN-VGG16 at output stride 32, 16, 8, 4 or 2 (voc-fcn32s/16s/8s, pascalcontext-*, nyud color / hha; 4 and 2
    fuse pool2 and pool1 as well, the paper's "deeper fusion" beyond FCN-8s).

    source: a DataSource (default: Input 'data' 1x3x500x500, i.e. a deploy net); at_once: the voc-fcn8s-atonce
    scaled skips (Scale 0.01 on pool4, 0.0001 on pool3, fixed; AT_ONCE_SCALES for deeper ones); fixed: FCN-32s-fixed
    (trunk lr_mult 0, only the score layer learns). dropout / loss default to "not a deploy net".
    Options for the paper's alternatives (defaults: the reference):
    upsampling: 'frozen' (every deconvolution lr 0) or 'learned' (intermediate ones learn; parts.fcn_head).
    pool5_stride=1: decreased subsampling (trunks.vgg16): fc7 at stride 16; then stride=16 is the skip-less net
    (score_fr, upscore 32/16, score) and strides 8 ... 2 fuse pool3 ... pool1 (inputs of at least 11 pixels).
    loss_sampling=p < 1: each sampling_cell x sampling_cell label cell enters the loss with probability p;
    class_weights=[w_0, ...]: a class-weighted loss (parts.softmax_loss, datalayers.loss_layers).
    """
    source = source or input_data()
    n = NetSpec()
    tops = source.build(n)
    taps = trunks.vgg16(n, tops[0], width=width, dropout_layers=_want(dropout, source),
                        param=FROZEN if fixed else LEARN, pool5_stride=pool5_stride)
    scales = AT_ONCE_SCALES if at_once else None
    score = fcn_head(n, taps['fc7'], taps, tops[0], stride, num_classes, scales=scales, upsampling=upsampling,
                     trunk_stride=16 if pool5_stride == 1 else 32)
    if _want(loss, source):
        softmax_loss(n, 'loss', score, n[source.labels[0]], normalize=normalize, keep=loss_sampling,
                     class_weights=class_weights, cell=sampling_cell)
    return n.to_proto()


def fcn_alexnet(source=None, num_classes=21, width=1.0, dropout=None, loss=None, normalize=True):
    """FCN-AlexNet (voc-fcn-alexnet): CaffeNet trunk, score_fr, upscore 63/32, crop, normalized loss (normalize
    False: summed, as the VGG nets)."""
    source = source or input_data()
    n = NetSpec()
    tops = source.build(n)
    taps = trunks.alexnet(n, tops[0], width=width, dropout_layers=_want(dropout, source))
    score = fcn_head(n, taps['fc7'], taps, tops[0], 32, num_classes, final_ks=63)
    if _want(loss, source):
        softmax_loss(n, 'loss', score, n[source.labels[0]], normalize=normalize)
    return n.to_proto()


def fcn_googlenet(source=None, num_classes=21, width=1.0, dropout=None, loss=None, normalize=False):
    """FCN-GoogLeNet: Inception-v1 trunk (conv1 pad 100), score_fr 1x1, upscore 63/32 (an odd kernel keeps the
    crop offset integral: the trunk's shift is integral), crop (offset 98), loss as the VGG nets."""
    source = source or input_data()
    n = NetSpec()
    tops = source.build(n)
    taps = trunks.googlenet(n, tops[0], width=width, dropout_layers=_want(dropout, source))
    score = fcn_head(n, taps['fc7'], taps, tops[0], 32, num_classes, final_ks=63)
    if _want(loss, source):
        softmax_loss(n, 'loss', score, n[source.labels[0]], normalize=normalize)
    return n.to_proto()


def fcn_siftflow(source=None, stride=32, num_classes=(33, 3), width=1.0, dropout=None, loss=None,
                 upsampling='frozen'):
    """SIFT Flow's two-headed FCN-VGG16: a semantic head (_sem, loss `loss`) and a geometric head (_geo, loss_geo).
    `upsampling` as for fcn_vgg16."""
    source = source or input_data()
    n = NetSpec()
    tops = source.build(n)
    taps = trunks.vgg16(n, tops[0], width=width, dropout_layers=_want(dropout, source))
    for suffix, classes, label, loss_name in (('_sem', num_classes[0], 'sem', 'loss'),
                                              ('_geo', num_classes[1], 'geo', 'loss_geo')):
        score = fcn_head(n, taps['fc7'], taps, tops[0], stride, classes, suffix=suffix, score_name='score' + suffix,
                         upsampling=upsampling)
        if _want(loss, source):
            softmax_loss(n, loss_name, score, n[label])
    return n.to_proto()


def fcn_nyud_early(source=None, num_classes=40, width=1.0, dropout=None, loss=None):
    """nyud-fcn32s-color-d: data = Concat(color, depth) (BGR-D), first conv conv1_1_bgrd, then FCN-32s."""
    source = source or input_data(tops=('color', 'depth'), shapes=[(1, 3, 500, 500), (1, 1, 500, 500)])
    n = NetSpec()
    color, depth = source.build(n)[:2]
    n.data = L.Concat(color, depth)
    taps = trunks.vgg16(n, n.data, width=width, dropout_layers=_want(dropout, source), first_conv='conv1_1_bgrd')
    score = fcn_head(n, taps['fc7'], taps, n.data, 32, num_classes)
    if _want(loss, source):
        softmax_loss(n, 'loss', score, n[source.labels[0]])
    return n.to_proto()


def fcn_nyud_late(source=None, num_classes=40, width=1.0, dropout=None, loss=None, streams=('color', 'hha')):
    """nyud-fcn32s-color-hha: one VGG16 stream per input (names suffixed), score_fused = 0.5 a + 0.5 b, one upscore,
    crop against the first input."""
    source = source or input_data(tops=streams)
    n = NetSpec()
    tops = source.build(n)
    scores = []
    for top, suffix in zip(tops, streams):
        taps = trunks.vgg16(n, top, width=width, suffix=suffix, dropout_layers=_want(dropout, source))
        scores.append(score_conv(n, 'score_fr' + suffix, taps['fc7'], num_classes))
    fused = fuse(n, 'score_fused', scores[0], scores[1], coeff=(0.5, 0.5))
    up = upsample(n, 'upscore', fused, num_classes, 64, 32)
    n.score = crop(up, tops[0])
    if _want(loss, source):
        softmax_loss(n, 'loss', n.score, n[source.labels[0]])
    return n.to_proto()
