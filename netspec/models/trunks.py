"""The convolutionalized classifier trunks: VGG16, AlexNet (CaffeNet) and GoogLeNet (Inception v1).

Each function adds the trunk's layers to a NetSpec (names as in the ILSVRC releases, so surgery can transplant
weights by name) and returns {'fc7' or 'out': top, 'pool3': ..., 'pool4': ...}. `width` scales every channel count
(topology and geometry unchanged); `dropout` False leaves the dropout layers out (deploy nets).
"""
from ..dsl import layers as L
from .parts import LEARN, conv_relu, dropout, max_pool, params_list, scaled

VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def vgg16(n, data, width=1.0, suffix='', dropout_layers=True, param=LEARN, first_conv='conv1_1', fc=4096,
          pool5_stride=2, pad=100, fully_connected=False):
    """VGG16 with fc6 (7x7) and fc7 (1x1) as convolutions; conv1_1 pad 100 (the reference's FCN-VGG16:
    the pad that lets any input size reach fc6's 7x7 and keeps score_fr's map large enough to crop back).

    `suffix` is appended to every layer name (late-fusion streams: conv1_1color ...); `first_conv` renames the first
    convolution (nyud color-d's conv1_1_bgrd) without touching its ReLU's name. pool5_stride=1 is the paper's
    "decreased subsampling" (CVPR 2015 sec. 4.2): pool5 keeps its 2x2 window at stride 1 and fc6 is dilated by 2
    (the 7x7 filter rarefied to 13x13, same weights, same receptive field), so fc7 has stride 16, not 32.
    The ILSVRC classifier the FCN is cast from: pad=1 (conv1_1's own pad) and fully_connected=True (fc6 / fc7
    InnerProduct, as the classifier has them before surgery convolutionalizes them).
    """
    if pool5_stride not in (1, 2):
        raise ValueError(f'pool5_stride must be 2 (VGG16) or 1 (decreased subsampling), not {pool5_stride!r}')
    s = suffix
    top = data
    taps = {}
    for b, block in enumerate(VGG16_BLOCKS, start=1):
        for i, channels in enumerate(block, start=1):
            name = f'conv{b}_{i}{s}'
            if (b, i) == (1, 1) and first_conv != 'conv1_1':
                name = first_conv + s
            top = conv_relu(n, name, f'relu{b}_{i}{s}', top, scaled(channels, width),
                            pad=pad if (b, i) == (1, 1) else 1, param=param)
        top = max_pool(n, f'pool{b}{s}', top, stride=pool5_stride if b == 5 else 2)
        taps[f'pool{b}'] = top
    if fully_connected:
        top = _fc_relu(n, 'fc6' + s, 'relu6' + s, top, scaled(fc, width), param)
    else:
        top = conv_relu(n, 'fc6' + s, 'relu6' + s, top, scaled(fc, width), ks=7, pad=0, param=param,
                        dilation=2 if pool5_stride == 1 else None)
    if dropout_layers:
        top = dropout(n, 'drop6' + s, top)
    if fully_connected:
        top = _fc_relu(n, 'fc7' + s, 'relu7' + s, top, scaled(fc, width), param)
    else:
        top = conv_relu(n, 'fc7' + s, 'relu7' + s, top, scaled(fc, width), ks=1, pad=0, param=param)
    if dropout_layers:
        top = dropout(n, 'drop7' + s, top)
    taps['fc7'] = top
    return taps


def _fc_relu(n, name, relu_name, bottom, nout, param):
    """InnerProduct + in-place ReLU: a classifier's fully connected layer (the FCN's is a convolution)."""
    kw = dict(num_output=nout)
    if param is not None:
        kw['param'] = params_list(param)
    n[name] = L.InnerProduct(bottom, **kw)
    n[relu_name] = L.ReLU(n[name], in_place=True)
    return n[relu_name]


def _lrn(n, name, bottom):
    n[name] = L.LRN(bottom, local_size=5, alpha=1e-4, beta=0.75)
    return n[name]


def alexnet(n, data, width=1.0, dropout_layers=True, param=None, pad=100, fully_connected=False):
    """CaffeNet as FCN-AlexNet has it: conv1 11/4 pad 100, pool-then-LRN, grouped conv2/4/5, fc6 6x6, fc7 1x1.

    The trunk convs carry no param specs (Caffe's defaults apply) and write `group` explicitly.
    Grouped layers need channel counts divisible by 2, so scaled counts are kept even.
    The ILSVRC classifier: pad=0 and fully_connected=True (fc6 / fc7 InnerProduct).
    """
    def ch(c):
        return scaled(c, width, multiple=2)
    top = conv_relu(n, 'conv1', 'relu1', data, ch(96), ks=11, stride=4, pad=pad, group=1, param=param)
    top = _lrn(n, 'norm1', max_pool(n, 'pool1', top, ks=3, stride=2))
    top = conv_relu(n, 'conv2', 'relu2', top, ch(256), ks=5, pad=2, group=2, param=param)
    top = _lrn(n, 'norm2', max_pool(n, 'pool2', top, ks=3, stride=2))
    top = conv_relu(n, 'conv3', 'relu3', top, ch(384), ks=3, pad=1, group=1, param=param)
    top = conv_relu(n, 'conv4', 'relu4', top, ch(384), ks=3, pad=1, group=2, param=param)
    top = conv_relu(n, 'conv5', 'relu5', top, ch(256), ks=3, pad=1, group=2, param=param)
    top = max_pool(n, 'pool5', top, ks=3, stride=2)
    if fully_connected:
        top = _fc_relu(n, 'fc6', 'relu6', top, ch(4096), param)
    else:
        top = conv_relu(n, 'fc6', 'relu6', top, ch(4096), ks=6, pad=0, group=1, param=param)
    if dropout_layers:
        top = dropout(n, 'drop6', top)
    if fully_connected:
        top = _fc_relu(n, 'fc7', 'relu7', top, ch(4096), param)
    else:
        top = conv_relu(n, 'fc7', 'relu7', top, ch(4096), ks=1, pad=0, group=1, param=param)
    if dropout_layers:
        top = dropout(n, 'drop7', top)
    return {'fc7': top}


# Inception v1 modules (Szegedy et al. 2015, Table 1; BVLC bvlc_googlenet): name, #1x1, #3x3 reduce, #3x3,
# #5x5 reduce, #5x5, pool proj.
INCEPTION = {
    '3a': (64, 96, 128, 16, 32, 32), '3b': (128, 128, 192, 32, 96, 64),
    '4a': (192, 96, 208, 16, 48, 64), '4b': (160, 112, 224, 24, 64, 64), '4c': (128, 128, 256, 24, 64, 64),
    '4d': (112, 144, 288, 32, 64, 64), '4e': (256, 160, 320, 32, 128, 128),
    '5a': (256, 160, 320, 32, 128, 128), '5b': (384, 192, 384, 48, 128, 128),
}

# conv1/7x7_s2's pad: 3 in the classifier; FCN pads the first layer so the upsampled score covers every input
# (as conv1_1 pad 100 does for VGG16). With the 63/32 upsampling the final crop offset is pad - 2.
GOOGLENET_PAD = 100


def inception(n, name, bottom, widths, width=1.0, param=LEARN):
    """One Inception module: 1x1, 1x1->3x3, 1x1->5x5 and 3x3 max pool->1x1 branches, concatenated on channels."""
    c1, r3, c3, r5, c5, pp = (scaled(c, width) for c in widths)
    p = f'inception_{name}/'
    b1 = conv_relu(n, p + '1x1', p + 'relu_1x1', bottom, c1, ks=1, pad=0, param=param)
    t = conv_relu(n, p + '3x3_reduce', p + 'relu_3x3_reduce', bottom, r3, ks=1, pad=0, param=param)
    b3 = conv_relu(n, p + '3x3', p + 'relu_3x3', t, c3, ks=3, pad=1, param=param)
    t = conv_relu(n, p + '5x5_reduce', p + 'relu_5x5_reduce', bottom, r5, ks=1, pad=0, param=param)
    b5 = conv_relu(n, p + '5x5', p + 'relu_5x5', t, c5, ks=5, pad=2, param=param)
    t = max_pool(n, p + 'pool', bottom, ks=3, stride=1, pad=1)
    bp = conv_relu(n, p + 'pool_proj', p + 'relu_pool_proj', t, pp, ks=1, pad=0, param=param)
    n[p + 'output'] = L.Concat(b1, b3, b5, bp)
    return n[p + 'output']


def googlenet(n, data, width=1.0, dropout_layers=True, param=LEARN, pad=GOOGLENET_PAD):
    """GoogLeNet up to inception_5b, its average pool and classifier removed (FCN-GoogLeNet, CVPR 2015 sec. 4.1).

    Layer names as in BVLC bvlc_googlenet (conv1/7x7_s2, inception_3a/1x1, ...); conv1 pad `pad` (the classifier's
    own: 3); the dropout (ratio 0.4, as before the classifier) stays, in place on inception_5b/output. Stride 32,
    shift integral. Returns {'fc7': the last inception output, 'inception_4a' / 'inception_4d': the outputs the
    classifier's auxiliary losses read}.
    """
    top = conv_relu(n, 'conv1/7x7_s2', 'conv1/relu_7x7', data, scaled(64, width), ks=7, stride=2, pad=pad,
                    param=param)
    top = max_pool(n, 'pool1/3x3_s2', top, ks=3, stride=2)
    top = _lrn(n, 'pool1/norm1', top)
    top = conv_relu(n, 'conv2/3x3_reduce', 'conv2/relu_3x3_reduce', top, scaled(64, width), ks=1, pad=0,
                    param=param)
    top = conv_relu(n, 'conv2/3x3', 'conv2/relu_3x3', top, scaled(192, width), ks=3, pad=1, param=param)
    top = _lrn(n, 'conv2/norm2', top)
    top = max_pool(n, 'pool2/3x3_s2', top, ks=3, stride=2)
    for name in ('3a', '3b'):
        top = inception(n, name, top, INCEPTION[name], width, param)
    top = max_pool(n, 'pool3/3x3_s2', top, ks=3, stride=2)
    taps = {}
    for name in ('4a', '4b', '4c', '4d', '4e'):
        top = inception(n, name, top, INCEPTION[name], width, param)
        taps[f'inception_{name}'] = top
    top = max_pool(n, 'pool4/3x3_s2', top, ks=3, stride=2)
    for name in ('5a', '5b'):
        top = inception(n, name, top, INCEPTION[name], width, param)
    if dropout_layers:
        top = dropout(n, 'pool5/drop_7x7_s1', top, ratio=0.4)
    return {'fc7': top, 'inception_4a': taps['inception_4a'], 'inception_4d': taps['inception_4d']}
