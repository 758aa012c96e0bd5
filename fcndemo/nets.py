"""The demo's nets, written with the NetSpec DSL: a thin "ILSVRC" classifier and its FCN-32s/16s/8s.

The trunk is five conv(3x3, pad 1) + ReLU + max-pool(2, 2) stages (VGG's pattern, one conv per stage) with
thin channel counts. The classifier ends in InnerProduct fc6 / fc7 / fc8 on `crop` x `crop` inputs (pool5 is
crop/32 square); the FCNs keep the layer names, put pad 100 on conv1 and make fc6 a (crop/32) x (crop/32)
convolution and fc7 a 1x1 convolution, so weights.surgery.transplant carries fc6/fc7 over by coercing the
InnerProduct blobs. The score / upsample / crop / fuse head is netspec.models.parts.fcn_head (the reference's
names; crop offsets from netspec.crop), the loss is summed (normalize: false) as in the reference FCNs.

fc6's kernel must be >= 4 for every FCN-8s crop to be valid at every input size (2 gives a negative pool3
offset, 3 a pool3 crop that does not fit some sizes), hence crop = 128 (pool5 4x4). FCN-4s and FCN-2s need >= 5
(crop = 160): with 4 their pool2 / pool1 crops do not fit sides 32k-5 ... 32k+2 (4s) or 32k-5 ... 32k+6 (2s).
"""
import os

from datalayers.params import dir_keys
from netspec import NetSpec, layers as L
from netspec.models.families import VOC
from netspec.models.parts import LEARN, conv_relu, fcn_head, max_pool, params_list, python_data, softmax_loss

#: trunk channels per stage, and the fc6/fc7 width
CHANNELS = (8, 16, 32, 32, 32)
FC = 64
MSRA = dict(type='msra')


def _spec(lr_mult):
    """The reference's (lr 1, decay 1) / (lr 2, decay 0) weight / bias specs, lr scaled by `lr_mult`."""
    return [dict(d, lr_mult=d['lr_mult'] * lr_mult) for d in LEARN]


def _trunk(n, data, channels, conv1_pad, fillers, lr_mult=1, pool5_stride=2):
    """conv1..conv5 (+ relu, pool); returns {'pool1'..'pool5': top}."""
    taps, top = {}, data
    for i, c in enumerate(channels, start=1):
        kw = dict(kernel_size=3, num_output=c, pad=conv1_pad if i == 1 else 1, param=_spec(lr_mult))
        if fillers:
            kw['weight_filler'] = dict(MSRA)
        n[f'conv{i}'] = L.Convolution(top, **kw)
        n[f'relu{i}'] = L.ReLU(n[f'conv{i}'], in_place=True)
        top = max_pool(n, f'pool{i}', n[f'relu{i}'], stride=pool5_stride if i == 5 else 2)
        taps[f'pool{i}'] = top
    return taps


def classifier(batch=16, crop=128, num_classes=3, channels=CHANNELS, fc=FC):
    """The demo's "ILSVRC net": trunk + InnerProduct fc6/fc7/fc8, normalized softmax loss and accuracy,
    fed by Input blobs data (batch x 3 x crop x crop) and label (batch)."""
    if crop % 32:
        raise ValueError(f'classifier: crop must be a multiple of 32 (five 2x2 pools), not {crop}')
    n = NetSpec()
    n.data, n.label = L.Input(name='input', ntop=2, shape=[dict(dim=[batch, 3, crop, crop]), dict(dim=[batch])])
    taps = _trunk(n, n.data, channels, 1, fillers=True)
    top = taps['pool5']
    for name, relu, nout in (('fc6', 'relu6', fc), ('fc7', 'relu7', fc)):
        n[name] = L.InnerProduct(top, num_output=nout, weight_filler=dict(MSRA), param=params_list(LEARN))
        n[relu] = L.ReLU(n[name], in_place=True)
        top = n[relu]
    n.fc8 = L.InnerProduct(top, num_output=num_classes, weight_filler=dict(type='gaussian', std=0.01),
                           param=params_list(LEARN))
    n.loss = L.SoftmaxWithLoss(n.fc8, n.label)
    n.accuracy = L.Accuracy(n.fc8, n.label)
    return n.to_proto()


def fcn(source, stride=32, num_classes=4, crop=128, channels=CHANNELS, fc=FC, loss=True, trunk_lr_mult=1,
        upsampling='frozen', pool5_stride=2, loss_sampling=1.0, sampling_cell=1, class_weights=None):
    """FCN-`stride` on the classifier's trunk: conv1 pad 100, fc6 (crop/32)^2 conv, fc7 1x1 conv, the
    reference head (score layers zero-initialized by Caffe's default filler, upsampling fixed), summed loss.
    `source` is a netspec.models DataSource (python_data for train/val nets, input_data for deploy).
    The paper's alternatives, as netspec.models.fcn_vgg16 has them (defaults: the demo's reference nets): stride 4
    and 2 (pool2, pool1 skips), upsampling='learned', pool5_stride=1 (fc6 dilated by 2, fc7 at stride 16),
    loss_sampling / sampling_cell, class_weights."""
    n = NetSpec()
    tops = source.build(n)
    taps = _trunk(n, tops[0], channels, 100, fillers=False, lr_mult=trunk_lr_mult, pool5_stride=pool5_stride)
    k = crop // 32
    top = conv_relu(n, 'fc6', 'relu6', taps['pool5'], fc, ks=k, pad=0, param=_spec(trunk_lr_mult),
                    dilation=2 if pool5_stride == 1 else None)
    top = conv_relu(n, 'fc7', 'relu7', top, fc, ks=1, pad=0, param=_spec(trunk_lr_mult))
    score = fcn_head(n, top, taps, tops[0], stride, num_classes, upsampling=upsampling,
                     trunk_stride=16 if pool5_stride == 1 else 32)
    if loss and not source.deploy:
        softmax_loss(n, 'loss', score, n[source.labels[0]], normalize=False, keep=loss_sampling,
                     class_weights=class_weights, cell=sampling_cell)
    return n.to_proto()


def voc_source(params, split, folder=None):
    """The reference VOC data layers on the synthetic dataset (the VOC family's): SBDDSegDataLayer for its train
    split, VOCSegDataLayer else. folder: the model folder the net is written into; its dataset folders are then
    written relative to it ('../data/pascal/VOC2011', as the reference's nets), so that the folders can be moved
    together and `--data` re-roots them."""
    voc, sbdd = VOC.layers
    layer = sbdd if split == VOC.train_split else voc
    params = dict(params)
    if folder is not None:
        for key in dir_keys(params):
            params[key] = os.path.relpath(os.path.abspath(params[key]), os.path.abspath(folder)).replace(os.sep, '/')
    return python_data(layer.module, layer.layer, params)


def crop_offsets(net_param):
    """{Crop layer name: offset} of a generated net (what netspec.crop computed)."""
    return {l.name: list(l.crop_param.offset) for l in net_param.layer if l.type == 'Crop'}
