"""The paper's Table 1 (ILSVRC classifiers cast into FCNs), computed from the generated deploy nets.

For FCN-AlexNet, FCN-VGG16 (FCN-32s) and FCN-GoogLeNet as netspec.models builds them, at full width:
- conv. layers: the most Convolution / InnerProduct layers on a path from the data to `score_fr` (the classifier's
  last layer, cast into a 1x1 convolution), netspec.receptive.conv_depth. The upsampling Deconvolution is not
  counted (the paper counts the classifier's layers: AlexNet 5 + 3, VGG16 13 + 3, GoogLeNet "22 layers deep" along
  its longest path; GoogLeNet has 57 convolutions in all, its Inception modules being two convolutions deep;
  `conv_total` counts every Convolution, score_fr included).
- parameters: the learnable values of every layer but the upsampling Deconvolution(s), at 21 classes (the
  classifier's weights with fc8 replaced by the 21-class score_fr: AlexNet 56.95M, VGG16 134.35M, GoogLeNet 6.00M,
  as the paper's 57M / 134M / 6M); `params_upsampling` holds what the fixed bilinear deconvolution adds.
- rf size: the receptive field of a `score_fr` unit in input pixels (netspec.receptive), padding included:
  355 / 404 as the paper. For GoogLeNet it is 715, not 907: FCN-GoogLeNet discards the classifier's 7x7 average
  pool (paper sec. 4.1, "discarding the final average pooling layer"), while the paper's 907 is the field of the
  classifier as ILSVRC trained it, i.e. with that pool: `classifier_rf` computes it from the trunk plus the
  pool (715 + 6 x 32 = 907). `rf_output` is the field of one pixel of the upsampled, cropped `score` (two
  neighbouring score_fr units under the 64/32 bilinear kernel: 404 + 32 for VGG16).
- max stride: the largest stride of any blob (input pixels per unit), 32 for all three.
The paper's mean IU (VOC2011 val) and forward time (K40c GPU) are measured, not computed; forward time here is
measured by runtime.timing on the machine at hand. For a trained mean IU row, `classifier_net` gives the ILSVRC
classifier each FCN is cast from (its own crop, fully connected fc6/fc7/fc8; GoogLeNet with its average pool and
auxiliary classifiers), CLASSIFIER_LAYERS the layers surgery discards, `fcn_net` the FCN-32s with one loss for all
three; format_table(mean_iu=...) prints trained figures in the mean IU row.
"""
import dataclasses
import math

from .dsl import NetSpec, layers as L, params as P
from .receptive import conv_depth, max_stride, receptive_field
from .shapes import param_shapes
from . import models
from .models import trunks
from .models.parts import LEARN, params_list, scaled

__all__ = ['NETS', 'PAPER', 'PAPER_SOURCE', 'TRAINED_LABEL', 'Row', 'deploy_net', 'classifier_features', 'row', 'rows',
           'CLASSIFIER_CROP', 'CLASSIFIER_LAYERS', 'classifier_net', 'fcn_net']

NETS = ('FCN-AlexNet', 'FCN-VGG16', 'FCN-GoogLeNet')

PAPER_SOURCE = ('CVPR 2015 paper, Table 1 (mean IU on PASCAL VOC 2011 val trained on VOC2011 train; forward time '
                'at 500x500 on a Tesla K40c, averaged over 20 trials)')
# name: (mean IU, forward time ms, conv. layers, parameters, rf size, max stride), as printed
PAPER = {
    'FCN-AlexNet': dict(mean_iu=39.8, forward_ms=50, conv_layers=8, params=57e6, rf=355, max_stride=32),
    'FCN-VGG16': dict(mean_iu=56.0, forward_ms=210, conv_layers=16, params=134e6, rf=404, max_stride=32),
    'FCN-GoogLeNet': dict(mean_iu=42.5, forward_ms=59, conv_layers=22, params=6e6, rf=907, max_stride=32),
}

SCORE = 'score_fr'   # the classifier's last layer, cast into a convolution, in every generated FCN


@dataclasses.dataclass(frozen=True)
class Row:
    """One net's computed column of Table 1 (see the module docstring for what each counts)."""
    name: str
    conv_layers: int
    conv_total: int
    params: int
    params_upsampling: int
    rf: int
    rf_output: int
    classifier_rf: int
    max_stride: int


def deploy_net(name, size=500, num_classes=21, width=1.0):
    """The net's deploy NetParameter (Input 'data' 1 x 3 x size x size); FCN-VGG16 is FCN-32s."""
    source = models.input_data((1, 3, size, size))
    if name == 'FCN-AlexNet':
        return models.fcn_alexnet(source, num_classes=num_classes, width=width)
    if name == 'FCN-VGG16':
        return models.fcn_vgg16(source, stride=32, num_classes=num_classes, width=width)
    if name == 'FCN-GoogLeNet':
        return models.fcn_googlenet(source, num_classes=num_classes, width=width)
    raise ValueError(f'unknown Table 1 net {name!r}; known: {", ".join(NETS)}')


def classifier_features(name, size=500):
    """(NetParameter, blob): the classifier's trunk as ILSVRC trained it and the blob its classifier layer reads.

    AlexNet and VGG16 feed fc8 from fc7, which the FCN keeps (fc6/fc7 cast into convolutions). GoogLeNet feeds
    loss3/classifier from pool5/7x7_s1, a 7x7 stride-1 average pool over inception_5b that the FCN discards; it
    is put back here as BVLC GoogLeNet has it.
    """
    if name != 'FCN-GoogLeNet':
        return deploy_net(name, size), 'fc7'
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, size, size]))
    top = trunks.googlenet(n, n.data, dropout_layers=False)['fc7']
    n['pool5/7x7_s1'] = L.Pooling(top, pool=P.Pooling.AVE, kernel_size=7, stride=1)
    return n.to_proto(), 'pool5/7x7_s1'


# -- the classifiers the FCNs are cast from, and the FCN-32s each becomes (the trained row) -------------------------

#: the ILSVRC crop each classifier trains on: its fc6 / average pool then sees pool5 / inception_5b whole (6x6 for
#: AlexNet, 7x7 for VGG16 and GoogLeNet), so the FCN's fc6 convolution takes the InnerProduct's weights as they are
CLASSIFIER_CROP = {'FCN-AlexNet': 227, 'FCN-VGG16': 224, 'FCN-GoogLeNet': 224}

#: the classifier layers surgery discards (paper sec. 3.1 / 4.1: "decapitate each net by discarding the final
#: classifier layer"; GoogLeNet's auxiliary classifiers go with it). Everything else maps by name; AlexNet's and
#: VGG16's fc6 / fc7 InnerProducts are convolutionalized (their weights reshaped into the FCN's fc6 / fc7 kernels).
CLASSIFIER_LAYERS = {
    'FCN-AlexNet': ('fc8',),
    'FCN-VGG16': ('fc8',),
    'FCN-GoogLeNet': ('loss1/conv', 'loss1/fc', 'loss1/classifier', 'loss2/conv', 'loss2/fc', 'loss2/classifier',
                      'loss3/classifier'),
}

#: BVLC GoogLeNet's auxiliary classifiers: (prefix, the inception output it reads); loss weight 0.3 each
AUX = (('loss1', 'inception_4a'), ('loss2', 'inception_4d'))


def _aux_classifier(n, prefix, bottom, num_classes, width):
    """One of GoogLeNet's auxiliary classifiers as BVLC train_val has it: 5x5/3 average pool, 1x1 conv (128), fc
    (1024), dropout 0.7, classifier, SoftmaxWithLoss at loss weight 0.3."""
    n[prefix + '/ave_pool'] = L.Pooling(bottom, pool=P.Pooling.AVE, kernel_size=5, stride=3)
    n[prefix + '/conv'] = L.Convolution(n[prefix + '/ave_pool'], kernel_size=1, num_output=scaled(128, width),
                                        param=params_list(LEARN))
    n[prefix + '/relu_conv'] = L.ReLU(n[prefix + '/conv'], in_place=True)
    n[prefix + '/fc'] = L.InnerProduct(n[prefix + '/relu_conv'], num_output=scaled(1024, width),
                                       param=params_list(LEARN))
    n[prefix + '/relu_fc'] = L.ReLU(n[prefix + '/fc'], in_place=True)
    n[prefix + '/drop_fc'] = L.Dropout(n[prefix + '/relu_fc'], dropout_ratio=0.7, in_place=True)
    n[prefix + '/classifier'] = L.InnerProduct(n[prefix + '/drop_fc'], num_output=num_classes,
                                               param=params_list(LEARN))
    n[prefix + '/loss'] = L.SoftmaxWithLoss(n[prefix + '/classifier'], n.label, loss_weight=0.3)


def classifier_net(name, batch=8, num_classes=1000, width=1.0, dropout=True):
    """The ILSVRC classifier `name`'s FCN is cast from, as a training net on Input blobs data (batch x 3 x
    CLASSIFIER_CROP x same) and label (batch): the trunk at its own conv1 pad (AlexNet 0, VGG16 1, GoogLeNet 3),
    AlexNet's and VGG16's fc6 / fc7 as InnerProduct then fc8; GoogLeNet's 7x7 average pool, dropout 0.4 and
    loss3/classifier, with its two auxiliary classifiers on inception_4a / 4d (loss weight 0.3), as BVLC
    train_val has them. Normalized SoftmaxWithLoss and Accuracy ('accuracy') on the final classifier. Weights
    MSRA-initialized, the classifier layers Gaussian (std 0.01); biases 0."""
    crop = CLASSIFIER_CROP[name] if name in CLASSIFIER_CROP else None
    if crop is None:
        raise ValueError(f'unknown Table 1 net {name!r}; known: {", ".join(NETS)}')
    n = NetSpec()
    n.data, n.label = L.Input(name='input', ntop=2, shape=[dict(dim=[batch, 3, crop, crop]), dict(dim=[batch])])
    if name == 'FCN-AlexNet':
        top = trunks.alexnet(n, n.data, width, dropout_layers=dropout, param=LEARN, pad=0,
                             fully_connected=True)['fc7']
        n.fc8 = L.InnerProduct(top, num_output=num_classes, param=params_list(LEARN))
        final = n.fc8
    elif name == 'FCN-VGG16':
        top = trunks.vgg16(n, n.data, width, dropout_layers=dropout, pad=1, fully_connected=True)['fc7']
        n.fc8 = L.InnerProduct(top, num_output=num_classes, param=params_list(LEARN))
        final = n.fc8
    else:
        taps = trunks.googlenet(n, n.data, width, dropout_layers=False, pad=3)
        for prefix, tap in AUX:
            _aux_classifier(n, prefix, taps[tap], num_classes, width)
        n['pool5/7x7_s1'] = L.Pooling(taps['fc7'], pool=P.Pooling.AVE, kernel_size=7, stride=1)
        top = n['pool5/7x7_s1']
        if dropout:
            n['pool5/drop_7x7_s1'] = L.Dropout(top, dropout_ratio=0.4, in_place=True)
            top = n['pool5/drop_7x7_s1']
        n['loss3/classifier'] = L.InnerProduct(top, num_output=num_classes, param=params_list(LEARN))
        final = n['loss3/classifier']
    n.loss = L.SoftmaxWithLoss(final, n.label)
    n.accuracy = L.Accuracy(final, n.label)
    return _with_fillers(n.to_proto())


def _is_class_scores(name):
    """The layers that output class scores: fc8, loss1/2/3's classifier."""
    return name == 'fc8' or name.endswith('/classifier')


def _with_fillers(net):
    """net with an MSRA weight filler on every Convolution / InnerProduct but the class-score layers (Gaussian
    0.01, as the demo's fc8)."""
    for layer in net.layer:
        if layer.type in ('Convolution', 'InnerProduct'):
            param = layer.convolution_param if layer.type == 'Convolution' else layer.inner_product_param
            if _is_class_scores(layer.name):
                param.weight_filler.type, param.weight_filler.std = 'gaussian', 0.01
            else:
                param.weight_filler.type = 'msra'
    return net


def fcn_net(name, source, num_classes=21, width=1.0, dropout=None):
    """The FCN-32s `name` (netspec.models' FCN-AlexNet, FCN-VGG16's FCN-32s, FCN-GoogLeNet) on `source`, with
    the summed loss of the VGG16 reference for all three (the trained row's one recipe)."""
    if name == 'FCN-AlexNet':
        return models.fcn_alexnet(source, num_classes=num_classes, width=width, dropout=dropout, normalize=False)
    if name == 'FCN-VGG16':
        return models.fcn_vgg16(source, stride=32, num_classes=num_classes, width=width, dropout=dropout)
    if name == 'FCN-GoogLeNet':
        return models.fcn_googlenet(source, num_classes=num_classes, width=width, dropout=dropout)
    raise ValueError(f'unknown Table 1 net {name!r}; known: {", ".join(NETS)}')


def _count(shapes):
    return sum(math.prod(s) for blobs in shapes for s in blobs)


def row(name, num_classes=21):
    """The computed Row of one net (geometry only: nothing is allocated or run)."""
    net = deploy_net(name, num_classes=num_classes)
    types = {layer.name: layer.type for layer in net.layer}
    shapes = param_shapes(net)
    upsampling = _count(b for layer, b in shapes.items() if types[layer] == 'Deconvolution')
    stride = max_stride(net)
    if stride.denominator != 1:
        raise AssertionError(f'{name}: a fractional max stride {stride}')
    clf_net, clf_blob = classifier_features(name)
    return Row(name=name, conv_layers=conv_depth(net, SCORE), conv_total=list(types.values()).count('Convolution'),
               params=_count(shapes.values()) - upsampling, params_upsampling=upsampling,
               rf=receptive_field(net, SCORE).size, rf_output=receptive_field(net, 'score').size,
               classifier_rf=receptive_field(clf_net, clf_blob).size, max_stride=int(stride))


def rows(num_classes=21):
    return [row(name, num_classes) for name in NETS]


def _millions(n, digits=2):
    return f'{n / 1e6:.{digits}f}M'


#: the mean IU row's label when it holds trained figures: here synthetic data, the paper's VOC2011 val
TRAINED_LABEL = 'mean IU (synthetic/VOC)'


def format_table(computed, times=None, where='here', mean_iu=None):
    """Table 1's rows, each net's computed value beside the paper's; `times` {name: seconds} adds forward time;
    `mean_iu` {name: mean IU in %} fills the mean IU row (labelled TRAINED_LABEL: figures trained here, on other
    data than the paper's VOC2011 val; a net missing from it shows '-').
    Returns the lines, then notes on every computed value that differs from the paper's figure."""
    computed = {r.name: r for r in computed}
    names = [n for n in NETS if n in computed]
    cell = 10
    head = ' ' * 24 + ''.join(f'{n:^{2 * cell}s}' for n in names)
    sub = ' ' * 24 + ''.join(f'{where:>{cell}s}{"paper":>{cell}s}' for _ in names)
    lines = [head, sub]

    def line(label, ours, paper):
        lines.append(f'{label:24s}' + ''.join(f'{ours(n):>{cell}s}{paper(n):>{cell}s}' for n in names))

    if mean_iu is None:
        line('mean IU (VOC2011 val)', lambda n: '-', lambda n: f"{PAPER[n]['mean_iu']:.1f}")
    else:
        line(TRAINED_LABEL, lambda n: f'{mean_iu[n]:.1f}' if n in mean_iu else '-',
             lambda n: f"{PAPER[n]['mean_iu']:.1f}")
    if times:
        line('forward time', lambda n: f'{1000 * times[n]:.0f} ms' if n in times else '-',
             lambda n: f"{PAPER[n]['forward_ms']} ms")
    line('conv. layers', lambda n: str(computed[n].conv_layers), lambda n: str(PAPER[n]['conv_layers']))
    line('parameters', lambda n: _millions(computed[n].params), lambda n: _millions(PAPER[n]['params'], 0))
    line('rf size', lambda n: str(computed[n].rf), lambda n: str(PAPER[n]['rf']))
    line('max stride', lambda n: str(computed[n].max_stride), lambda n: str(PAPER[n]['max_stride']))
    notes = []
    for n in names:
        r = computed[n]
        if r.rf != PAPER[n]['rf'] and r.classifier_rf == PAPER[n]['rf']:
            notes.append(f'{n} rf: {r.rf} at score_fr, the FCN having discarded the classifier\'s final average '
                         f'pool; the classifier with it sees {r.classifier_rf}, the paper\'s figure.')
        elif r.rf != PAPER[n]['rf']:
            notes.append(f'{n} rf: {r.rf} at score_fr, {r.classifier_rf} at the classifier\'s features; the paper '
                         f'gives {PAPER[n]["rf"]}.')
        if r.conv_total != r.conv_layers:
            notes.append(f'{n} conv. layers: {r.conv_layers} on the longest path to score_fr (the paper\'s count), '
                         f'{r.conv_total} convolutions in all.')
    notes.append('parameters: without the fixed bilinear upsampling (+' +
                 ', +'.join(f'{_millions(computed[n].params_upsampling)} {n}' for n in names) + ').')
    notes.append('rf size at one pixel of the upsampled score: ' +
                 ', '.join(f'{computed[n].rf_output} {n}' for n in names) + '.')
    return lines, notes
