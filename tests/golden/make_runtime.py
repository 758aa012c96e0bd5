"""Golden fixtures for the runtime, made by the real Caffe (the oracle):

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_runtime.py'
    (arguments: `semantics`, `nets`, folder names, or `semantics=CASE,CASE` to remake only those cases)

1. nets_<folder>.npz: a thin version of every reference net (../shared/reference/<folder>/train[val].prototxt) at
   two odd input sizes (37x45 and 50x33), run by Caffe in the TRAIN phase: forward, then backward.
   Thinning: trunk Convolution layers (every one not named score*) get num_output // 32 (// 16 for AlexNet, whose
   groups need even counts); the Python data layer becomes an Input layer with the same tops (image tops 1x3xHxW,
   depth and label tops 1x1xHxW); Dropout layers are set aside (they are in-place, so removing them leaves the graph
   intact), because their masks are random: Dropout's semantics are tested on their own. Weights come from
   `net_weight_array` (which says why trunk biases are zero) and inputs from `input_arrays` (seeded, numpy's frozen RandomState stream, so the tests regenerate
   them). Stored: the thin prototxt, and for every blob and every parameter gradient either the whole array (up to
   SAMPLES values) or SAMPLES values at evenly spaced flat positions (`sample_positions`), plus the shape, the sum
   and the sum of absolute values of the whole array.
2. semantics.npz: small nets, one per Caffe semantic (pooling sizes and divisors, LRN, conv/deconv geometry, crop,
   softmax-loss normalizations and the FLT_MIN floor, Scale, Eltwise, InnerProduct axis, Python layers, ...). Each
   checked top t is weighted by a random Input `w_t` through Eltwise PROD with loss_weight 1, so the backward sends
   random diffs; force_backward gives the inputs' diffs too. Stored in full: prototxt, inputs, blobs, gradients.

This file imports caffe only inside main(); the tests import its pure-numpy helpers.
"""
import os
import re
import sys
import tempfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'runtime')
REFERENCE = os.environ.get('FCN_REFERENCE', os.path.join(HERE, '..', '..', '..', 'shared', 'reference'))
FOLDERS = ('voc-fcn32s', 'voc-fcn16s', 'voc-fcn8s', 'voc-fcn8s-atonce', 'voc-fcn-alexnet', 'siftflow-fcn32s',
           'siftflow-fcn16s', 'siftflow-fcn8s', 'nyud-fcn32s-color', 'nyud-fcn32s-hha', 'nyud-fcn32s-color-d',
           'nyud-fcn32s-color-hha', 'pascalcontext-fcn32s', 'pascalcontext-fcn16s', 'pascalcontext-fcn8s')
SIZES = ((37, 45), (50, 33))
SAMPLES = 512
AUTO_SPLIT = re.compile(r'_split_\d+$')    # the Split blobs Caffe inserts by itself (blob_layer_i_split_j)
LABEL_TOPS = ('label', 'sem', 'geo')
ONE_CHANNEL_TOPS = LABEL_TOPS + ('depth',)
IGNORE = 255


# ------------------------------------------------------------------------------------------------ shared helpers

def train_file(folder):
    for name in ('train.prototxt', 'trainval.prototxt'):
        path = os.path.join(REFERENCE, folder, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f'{folder}: no train.prototxt or trainval.prototxt under {REFERENCE}')


def trunk_divisor(folder):
    return 16 if 'alexnet' in folder else 32


def thin_net(net, pb2, H, W, div):
    """A thin, data-free TRAIN copy of a reference net (see the module docstring). `pb2` is a caffe_pb2 module."""
    out = pb2.NetParameter()
    out.CopyFrom(net)
    out.ClearField('layer')
    for lp in net.layer:
        if lp.type == 'Dropout':
            continue
        if lp.type == 'Python':
            layer = out.layer.add(name=lp.name, type='Input')
            layer.top.extend(lp.top)
            for t in lp.top:
                layer.input_param.shape.add().dim.extend([1, 1 if t in ONE_CHANNEL_TOPS else 3, H, W])
            continue
        layer = out.layer.add()
        layer.CopyFrom(lp)
        if lp.type == 'Convolution' and not lp.name.startswith('score'):
            layer.convolution_param.num_output = max(1, lp.convolution_param.num_output // div)
    return out


def label_classes(net):
    """{label top: number of classes} from each SoftmaxWithLoss: its prediction traced back through Crops."""
    producer = {}
    for lp in net.layer:
        for t in lp.top:
            producer[t] = lp
    classes = {}
    for lp in net.layer:
        if lp.type != 'SoftmaxWithLoss':
            continue
        src = producer[lp.bottom[0]]
        while src.type == 'Crop':
            src = producer[src.bottom[0]]
        classes[lp.bottom[1]] = src.convolution_param.num_output
    return classes


def _seed(text):
    return zlib.crc32(text.encode('utf-8')) & 0x7fffffff


def weight_array(layer, layer_type, index, shape):
    """The seeded value of blob `index` of `layer`: He-scaled normal weights, small normal biases, Scale factors
    uniform in [0.5, 1.5)."""
    rng = np.random.RandomState(_seed(f'{layer}/{index}'))
    shape = tuple(int(s) for s in shape)
    if layer.startswith('bilinear') and index == 0:     # FCN's upsampling: a kernel per channel on the diagonal
        return diagonal_weight(shape, rng)
    if layer_type == 'Scale':
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if index == 0 and len(shape) >= 2:
        if layer_type == 'Deconvolution':
            fan = shape[0] * int(np.prod(shape[2:])) / 4.0
        else:
            fan = int(np.prod(shape[1:]))
        return (rng.randn(*shape) * np.sqrt(2.0 / max(fan, 1.0))).astype(np.float32)
    return (rng.randn(*shape) * 0.1).astype(np.float32)


def diagonal_weight(shape, rng):
    """A (C, C, k, k) Deconvolution weight with only w[c, c] non-zero (as surgery.interp writes bilinear kernels),
    each diagonal kernel a bilinear profile scaled by a random factor."""
    c, k = shape[0], shape[2]
    f = (k + 1) // 2
    center = f - 1 if k % 2 == 1 else f - 0.5
    prof = 1 - np.abs(np.arange(k) - center) / f
    arr = np.zeros(shape, dtype=np.float32)
    for i in range(c):
        arr[i, i] = np.outer(prof, prof[:shape[3]]) * rng.uniform(0.5, 1.5)
    return arr


def net_weight_array(layer, layer_type, index, shape):
    """Weights of the thin reference nets: as weight_array, except that the trunk convolutions (conv*) have zero
    biases and the score layers' weights are scaled by 0.1.

    Why: with pad 100 the trunk computes large regions from the padding alone; with nonzero biases those regions
    are constant, every max-pooling window in them is a tie, and which element wins a tie depends on the last bit
    of the convolution's rounding (Caffe's blocked GEMM gives 1-ulp differences between rows where the runtime's
    values are equal), which routes whole gradients elsewhere. With zero biases such regions are exactly zero in
    both, and a zero that wins a tie passes no gradient through the ReLU. Smaller score weights keep the logits in
    a range where softmax does not amplify 1e-7 rounding into 1e-4 gradient differences."""
    arr = weight_array(layer, layer_type, index, shape)
    if index == 1 and layer.startswith('conv'):
        return np.zeros_like(arr)
    if index == 0 and layer.startswith('score'):
        return (arr * np.float32(0.1)).astype(np.float32)
    return arr


def input_arrays(shapes, classes, seed):
    """Seeded inputs: images ~ 50 * N(0, 1); label tops random classes with about 10% ignored (255)."""
    rng = np.random.RandomState(seed)
    out = {}
    for name in sorted(shapes):
        shape = tuple(shapes[name])
        if name in classes:
            lab = rng.randint(0, classes[name], size=shape)
            lab[rng.uniform(size=shape) < 0.1] = IGNORE
            out[name] = lab.astype(np.float32)
        else:
            out[name] = (rng.randn(*shape) * 50).astype(np.float32)
    return out


def sample_positions(size):
    if size <= SAMPLES:
        return np.arange(size)
    return np.linspace(0, size - 1, SAMPLES).round().astype(np.int64)


def summarize(store, key, arr):
    arr = np.asarray(arr, dtype=np.float32)
    flat = arr.ravel()
    store[f'{key}:values'] = flat[sample_positions(flat.size)]
    store[f'{key}:shape'] = np.array(arr.shape, dtype=np.int64)
    store[f'{key}:sums'] = np.array([flat.sum(dtype=np.float64), np.abs(flat).sum(dtype=np.float64)])


def case_seed(folder, H, W):
    return _seed(f'{folder}/{H}x{W}')


# ------------------------------------------------------------------------------------------------ semantics cases

def _input(name, shape):
    dims = ' '.join(f'dim: {d}' for d in shape)
    return f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {dims} }} }} }}\n'


def _layer(name, typ, bottoms, tops, body=''):
    b = ''.join(f' bottom: "{x}"' for x in bottoms)
    t = ''.join(f' top: "{x}"' for x in tops)
    return f'layer {{ name: "{name}" type: "{typ}"{b}{t} {body} }}\n'


def _pool(name, bottom, body):
    return _layer(name, 'Pooling', [bottom], [name], f'pooling_param {{ {body} }}')


def semantics_cases():
    """{case: dict(text=prototxt of the layers under test (with their Input layers), check=[tops to weight],
    labels={label input: classes}, phase='TRAIN'|'TEST', backward=bool, ignore=bool)}."""
    cases = {}

    def add(name, text, check, labels=None, phase='TRAIN', backward=True, ignore=True, force_backward=True):
        cases[name] = dict(text=text, check=list(check), labels=labels or {}, phase=phase, backward=backward,
                           ignore=ignore, force_backward=force_backward)

    pools = {
        'max_k3s2p1': 'pool: MAX kernel_size: 3 stride: 2 pad: 1',
        'max_k2s2p1': 'pool: MAX kernel_size: 2 stride: 2 pad: 1',
        'max_k3s2': 'pool: MAX kernel_size: 3 stride: 2',
        'max_k3s2p2': 'pool: MAX kernel_size: 3 stride: 2 pad: 2',
        'ave_k3s2p1': 'pool: AVE kernel_size: 3 stride: 2 pad: 1',
        'ave_k2s2p1': 'pool: AVE kernel_size: 2 stride: 2 pad: 1',
        'ave_k3s2': 'pool: AVE kernel_size: 3 stride: 2',
        'ave_k3s2p2': 'pool: AVE kernel_size: 3 stride: 2 pad: 2',
        'ave_k4s3p1': 'pool: AVE kernel_size: 4 stride: 3 pad: 1',
        'ave_rect': 'pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0',
        'max_rect': 'pool: MAX kernel_h: 2 kernel_w: 3 stride_h: 1 stride_w: 2 pad_h: 0 pad_w: 1',
        'max_global': 'pool: MAX global_pooling: true',
        'ave_global': 'pool: AVE global_pooling: true',
    }
    for shape_name, shape in (('6x7', (2, 2, 6, 7)), ('7x6', (1, 3, 7, 6))):
        text = _input('data', shape)
        for k, body in pools.items():
            text += _pool(f'pool_{k}', 'data', body)
        add(f'pooling_{shape_name}', text, [f'pool_{k}' for k in pools])
    # MAX ties: after a ReLU many windows hold several zeros; the gradient goes to the first one
    text = _input('data', (1, 2, 9, 8)) + _layer('relu', 'ReLU', ['data'], ['r'])
    text += _pool('pool_tie', 'r', 'pool: MAX kernel_size: 3 stride: 2 pad: 1')
    add('pooling_ties', text, ['pool_tie'])

    text = _input('data', (2, 7, 4, 5))
    text += _layer('lrn_across', 'LRN', ['data'], ['lrn_across'],
                   'lrn_param { local_size: 5 alpha: 0.5 beta: 0.75 k: 2 }')
    text += _layer('lrn_across3', 'LRN', ['data'], ['lrn_across3'], 'lrn_param { local_size: 3 alpha: 0.0001 }')
    text += _layer('lrn_within', 'LRN', ['data'], ['lrn_within'],
                   'lrn_param { local_size: 3 alpha: 0.3 beta: 0.6 norm_region: WITHIN_CHANNEL }')
    add('lrn', text, ['lrn_across', 'lrn_across3', 'lrn_within'])

    text = _input('data', (2, 4, 9, 10))
    text += _layer('conv_group', 'Convolution', ['data'], ['conv_group'],
                   'convolution_param { num_output: 6 kernel_size: 3 group: 2 pad: 1 stride: 2 }')
    text += _layer('conv_dil', 'Convolution', ['data'], ['conv_dil'],
                   'convolution_param { num_output: 3 kernel_size: 3 dilation: 2 pad: 1 }')
    text += _layer('conv_rect', 'Convolution', ['data'], ['conv_rect'],
                   'convolution_param { num_output: 5 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 '
                   'pad_h: 1 pad_w: 2 bias_term: false }')
    text += _layer('conv_multi', 'Convolution', ['data'], ['conv_multi'],
                   'convolution_param { num_output: 2 kernel_size: 3 kernel_size: 1 pad: 0 pad: 2 stride: 1 '
                   'stride: 3 }')
    add('convolution', text, ['conv_group', 'conv_dil', 'conv_rect', 'conv_multi'])

    text = _input('data', (2, 4, 5, 6))
    text += _layer('deconv_group', 'Deconvolution', ['data'], ['deconv_group'],
                   'convolution_param { num_output: 6 kernel_size: 4 stride: 2 pad: 1 group: 2 }')
    text += _layer('deconv_rect', 'Deconvolution', ['data'], ['deconv_rect'],
                   'convolution_param { num_output: 3 kernel_h: 3 kernel_w: 4 stride_h: 2 stride_w: 3 '
                   'bias_term: false }')
    text += _layer('deconv_dil', 'Deconvolution', ['data'], ['deconv_dil'],
                   'convolution_param { num_output: 2 kernel_size: 3 stride: 2 dilation: 2 pad: 1 }')
    text += _layer('deconv_fcn', 'Deconvolution', ['data'], ['deconv_fcn'],
                   'convolution_param { num_output: 4 kernel_size: 8 stride: 4 bias_term: false }')
    add('deconvolution', text, ['deconv_group', 'deconv_rect', 'deconv_dil', 'deconv_fcn'])

    text = _input('a', (2, 3, 8, 9)) + _input('b', (2, 2, 5, 4)) + _input('c', (1, 1, 5, 6))
    text += _layer('crop_axis1', 'Crop', ['a', 'b'], ['crop_axis1'], 'crop_param { axis: 1 offset: 1 offset: 2 '
                   'offset: 3 }')
    text += _layer('crop_axis2', 'Crop', ['a', 'c'], ['crop_axis2'], 'crop_param { axis: 2 offset: 2 }')
    text += _layer('crop_default', 'Crop', ['a', 'c'], ['crop_default'], '')
    text += _layer('crop_last', 'Crop', ['a', 'b'], ['crop_last'], 'crop_param { axis: -1 offset: 4 }')
    add('crop', text, ['crop_axis1', 'crop_axis2', 'crop_default', 'crop_last'])

    modes = {
        'full': 'loss_param { ignore_label: 255 normalization: FULL }',
        'valid': 'loss_param { ignore_label: 255 normalization: VALID }',
        'batch': 'loss_param { ignore_label: 255 normalization: BATCH_SIZE }',
        'none': 'loss_param { ignore_label: 255 normalization: NONE }',
        'normalize_true': 'loss_param { ignore_label: 255 normalize: true }',
        'normalize_false': 'loss_param { ignore_label: 255 normalize: false }',
        'weighted': 'loss_weight: 2.5 loss_param { ignore_label: 255 }',
        'default': 'loss_param { ignore_label: 255 }',
    }
    for mode, body in modes.items():
        text = _input('score', (2, 5, 4, 6)) + _input('label', (2, 1, 4, 6))
        text += _layer('loss', 'SoftmaxWithLoss', ['score', 'label'], ['loss'], body)
        add(f'softmax_loss_{mode}', text, [], labels={'label': 5})
    text = _input('score', (2, 5, 4, 6)) + _input('label', (2, 1, 4, 6))
    text += _layer('loss', 'SoftmaxWithLoss', ['score', 'label'], ['loss'], 'loss_param { normalization: VALID }')
    add('softmax_loss_no_ignore', text, [], labels={'label': 5}, ignore=False)
    text = _input('score', (1, 4, 3, 2)) + _input('label', (1, 1, 3, 2))
    text += _layer('loss', 'SoftmaxWithLoss', ['score', 'label'], ['loss'],
                   'loss_param { ignore_label: 255 normalize: false }')
    add('softmax_loss_floor', text, [], labels={'label': 4})
    text = _input('score', (3, 6)) + _input('label', (3,))
    text += _layer('loss', 'SoftmaxWithLoss', ['score', 'label'], ['loss'], '')
    add('softmax_loss_2d', text, [], labels={'label': 6}, ignore=False)
    # two losses with their own weights
    text = _input('score', (1, 3, 4, 5)) + _input('label', (1, 1, 4, 5)) + _input('label2', (1, 1, 4, 5))
    text += _layer('loss_a', 'SoftmaxWithLoss', ['score', 'label'], ['loss_a'], 'loss_param { ignore_label: 255 }')
    text += _layer('loss_b', 'SoftmaxWithLoss', ['score', 'label2'], ['loss_b'],
                   'loss_weight: 0.25 loss_param { ignore_label: 255 normalize: false }')
    add('softmax_loss_two', text, [], labels={'label': 3, 'label2': 3})

    text = _input('data', (2, 3, 4, 5)) + _input('s2', (3, 4))
    text += _layer('scale_learned', 'Scale', ['data'], ['scale_learned'], 'scale_param { bias_term: true }')
    text += _layer('scale_2axes', 'Scale', ['data'], ['scale_2axes'], 'scale_param { axis: 1 num_axes: 2 }')
    text += _layer('scale_bottom', 'Scale', ['data', 's2'], ['scale_bottom'], 'scale_param { bias_term: true }')
    text += _layer('scale_all', 'Scale', ['data'], ['scale_all'], 'scale_param { axis: 0 num_axes: -1 }')
    add('scale', text, ['scale_learned', 'scale_2axes', 'scale_bottom', 'scale_all'])

    text = _input('a', (2, 3, 4, 5)) + _input('b', (2, 3, 4, 5)) + _input('c', (2, 3, 4, 5))
    text += _layer('ra', 'ReLU', ['a'], ['ra']) + _layer('rb', 'ReLU', ['b'], ['rb'])
    text += _layer('sum', 'Eltwise', ['a', 'b', 'c'], ['sum'], 'eltwise_param { coeff: 0.5 coeff: -2 coeff: 3 }')
    text += _layer('plain', 'Eltwise', ['a', 'b'], ['plain'], '')
    text += _layer('prod', 'Eltwise', ['a', 'b', 'c'], ['prod'], 'eltwise_param { operation: PROD }')
    text += _layer('max', 'Eltwise', ['a', 'b', 'c'], ['max'], 'eltwise_param { operation: MAX }')
    text += _layer('max_ties', 'Eltwise', ['ra', 'rb'], ['max_ties'], 'eltwise_param { operation: MAX }')
    add('eltwise', text, ['sum', 'plain', 'prod', 'max', 'max_ties'])

    text = _input('data', (2, 3, 4, 5))
    text += _layer('ip1', 'InnerProduct', ['data'], ['ip1'], 'inner_product_param { num_output: 7 }')
    text += _layer('ip2', 'InnerProduct', ['data'], ['ip2'], 'inner_product_param { num_output: 6 axis: 2 }')
    text += _layer('ipt', 'InnerProduct', ['data'], ['ipt'],
                   'inner_product_param { num_output: 4 transpose: true bias_term: false }')
    add('inner_product', text, ['ip1', 'ip2', 'ipt'])

    text = _input('data', (2, 3, 4, 5)) + _input('other', (2, 2, 4, 5))
    text += _layer('concat1', 'Concat', ['data', 'other'], ['concat1'], '')
    text += _layer('concat2', 'Concat', ['data', 'data'], ['concat2'], 'concat_param { axis: 2 }')
    text += _layer('flat', 'Flatten', ['data'], ['flat'], '')
    text += _layer('flat2', 'Flatten', ['data'], ['flat2'], 'flatten_param { axis: 2 end_axis: 3 }')
    text += _layer('reshape', 'Reshape', ['data'], ['reshape'], 'reshape_param { shape { dim: 0 dim: -1 dim: 10 } }')
    text += _layer('reshape2', 'Reshape', ['data'], ['reshape2'],
                   'reshape_param { shape { dim: 2 dim: 2 } axis: 2 num_axes: 1 }')
    text += _layer('sigmoid', 'Sigmoid', ['data'], ['sigmoid'])
    text += _layer('tanh', 'TanH', ['data'], ['tanh'])
    text += _layer('power', 'Power', ['data'], ['power'], 'power_param { power: 3 scale: 0.5 shift: 1 }')
    text += _layer('power2', 'Power', ['data'], ['power2'], 'power_param { power: 2 scale: -1.5 }')
    text += _layer('leaky', 'ReLU', ['data'], ['leaky'], 'relu_param { negative_slope: 0.1 }')
    text += _layer('softmax', 'Softmax', ['data'], ['softmax'], '')
    text += _layer('softmax2', 'Softmax', ['data'], ['softmax2'], 'softmax_param { axis: 2 }')
    text += _layer('split', 'Split', ['data'], ['split_a', 'split_b'], '')
    text += _layer('silence', 'Silence', ['split_b'], [], '')
    add('misc', text, ['concat1', 'concat2', 'flat', 'flat2', 'reshape', 'reshape2', 'sigmoid', 'tanh', 'power',
                       'power2', 'leaky', 'softmax', 'softmax2', 'split_a'])

    # in-place layers: the blob shows the last value, the gradient passes through both. (Not ReLU before an in-place
    # Scale: Caffe's in-place ReLU backward reads its mask from the blob, which the Scale has overwritten by then.)
    text = _input('data', (1, 3, 6, 7))
    text += _layer('conv', 'Convolution', ['data'], ['conv'], 'convolution_param { num_output: 4 kernel_size: 3 }')
    text += _layer('scale', 'Scale', ['conv'], ['conv'], 'scale_param { bias_term: true }')
    text += _layer('relu', 'ReLU', ['conv'], ['conv'])
    text += _layer('pool', 'Pooling', ['conv'], ['pool'], 'pooling_param { pool: MAX kernel_size: 2 stride: 2 }')
    add('in_place', text, ['pool'])

    # propagate_down and lr_mult 0
    text = _input('data', (1, 3, 6, 7))
    text += _layer('conv1', 'Convolution', ['data'], ['conv1'],
                   'param { lr_mult: 0 } param { lr_mult: 2 } convolution_param { num_output: 4 kernel_size: 3 }')
    text += _layer('conv2', 'Convolution', ['conv1'], ['conv2'], 'propagate_down: false '
                   'convolution_param { num_output: 2 kernel_size: 1 }')
    text += _layer('conv3', 'Convolution', ['conv1'], ['conv3'], 'convolution_param { num_output: 2 kernel_size: 1 }')
    add('propagate_down', text, ['conv2', 'conv3'], force_backward=False)   # force_backward overrides it
    text = _input('data', (1, 3, 6, 7))
    text += _layer('conv1', 'Convolution', ['data'], ['conv1'], 'convolution_param { num_output: 4 kernel_size: 3 }')
    text += _layer('conv2', 'Convolution', ['conv1'], ['conv2'], 'propagate_down: false '
                   'convolution_param { num_output: 2 kernel_size: 1 }')
    add('propagate_down_forced', text, ['conv2'])

    # weights that do not learn (lr_mult 0): without force_backward Caffe computes no diff for them but still
    # propagates to the bottom (here into a learnable conv `pre`, whose gradient shows it); a frozen bilinear
    # deconvolution (diagonal weight, as FCN's upscore layers), a frozen dense one whose bias learns, a frozen
    # convolution, and a large kernel on a small map (Caffe's im2col scheme in the runtime). With force_backward
    # (frozen_forced) Caffe gives every parameter its diff, lr_mult 0 ones included.
    text = _input('data', (2, 3, 8, 9))
    text += _layer('pre', 'Convolution', ['data'], ['pre'], 'convolution_param { num_output: 3 kernel_size: 3 }')
    text += _layer('bilinear_up', 'Deconvolution', ['pre'], ['bilinear_up'],
                   'param { lr_mult: 0 } convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false }')
    text += _layer('frozen_deconv', 'Deconvolution', ['pre'], ['frozen_deconv'], 'param { lr_mult: 0 } '
                   'param { lr_mult: 1 } convolution_param { num_output: 3 kernel_size: 3 stride: 2 pad: 1 }')
    text += _layer('frozen_conv', 'Convolution', ['pre'], ['frozen_conv'], 'param { lr_mult: 0 } '
                   'param { lr_mult: 0 } convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 }')
    text += _layer('big_kernel', 'Convolution', ['pre'], ['big_kernel'],
                   'convolution_param { num_output: 4 kernel_h: 5 kernel_w: 6 pad: 1 }')
    checked = ['bilinear_up', 'frozen_deconv', 'frozen_conv', 'big_kernel']
    add('frozen_and_im2col', text, checked, force_backward=False)
    add('frozen_forced', text, checked)

    # forward-only layers (Caffe has no backward for them)
    text = _input('data', (2, 5, 3, 4)) + _input('label', (2, 1, 3, 4))
    text += _layer('argmax', 'ArgMax', ['data'], ['argmax'], 'argmax_param { axis: 1 }')
    text += _layer('argmax_k2', 'ArgMax', ['data'], ['argmax_k2'], 'argmax_param { axis: 1 top_k: 2 out_max_val: true }')
    text += _layer('argmax_flat', 'ArgMax', ['data'], ['argmax_flat'], 'argmax_param { top_k: 3 }')
    text += _layer('argmax_flat_val', 'ArgMax', ['data'], ['argmax_flat_val'],
                   'argmax_param { top_k: 2 out_max_val: true }')
    text += _layer('acc', 'Accuracy', ['data', 'label'], ['acc', 'acc_class'], 'accuracy_param { ignore_label: 255 }')
    text += _layer('acc_top2', 'Accuracy', ['data', 'label'], ['acc_top2'], 'accuracy_param { top_k: 2 }')
    add('forward_only', text, [], labels={'label': 5}, backward=False, phase='TEST', ignore=False)
    text = _input('data', (2, 5, 3, 4)) + _input('label', (2, 1, 3, 4))
    text += _layer('acc', 'Accuracy', ['data', 'label'], ['acc'], 'accuracy_param { ignore_label: 255 }')
    add('accuracy_ignore', text, [], labels={'label': 5}, backward=False, phase='TEST')

    # Dropout is the identity in TEST
    text = _input('data', (2, 3, 4, 5)) + _layer('drop', 'Dropout', ['data'], ['drop'],
                                                 'dropout_param { dropout_ratio: 0.3 }')
    add('dropout_test', text, ['drop'], phase='TEST')

    # Python layers: a data layer, a layer with its own backward, the legacy accessors
    text = ('layer { name: "pydata" type: "Python" top: "pydata" python_param { module: "runtime_test_pylayers" '
            'layer: "RandomData" param_str: "{\'shape\': (2, 3, 5, 6), \'seed\': 7}" } }\n')
    text += _layer('conv', 'Convolution', ['pydata'], ['conv'], 'convolution_param { num_output: 4 kernel_size: 3 }')
    text += ('layer { name: "square" type: "Python" bottom: "conv" top: "square" python_param { '
             'module: "runtime_test_pylayers" layer: "SquarePlus" param_str: "{\'a\': 0.5, \'b\': -1}" } }\n')
    text += _layer('ip', 'InnerProduct', ['square'], ['ip'], 'inner_product_param { num_output: 3 }')
    text += ('layer { name: "shape" type: "Python" bottom: "conv" top: "shape" python_param { '
             'module: "runtime_test_pylayers" layer: "Shape" } }\n')
    add('python', text, ['ip'])
    return cases


def loss_harness(text, shapes, force_backward=True):
    """The case's text with force_backward and, for each checked top t, an Input w_t and Eltwise PROD wl_t with
    loss_weight 1."""
    out = ('force_backward: true\n' if force_backward else '') + text
    for t, shape in shapes.items():
        out += _input(f'w_{t}', shape)
        out += _layer(f'wl_{t}', 'Eltwise', [t, f'w_{t}'], [f'wl_{t}'], 'loss_weight: 1 eltwise_param { operation: PROD }')
    return out


def semantic_inputs(input_shapes, labels, ignore, seed):
    rng = np.random.RandomState(seed)
    out = {}
    for name in sorted(input_shapes):
        shape = tuple(input_shapes[name])
        if name in labels:
            lab = rng.randint(0, labels[name], size=shape)
            if ignore:
                lab[rng.uniform(size=shape) < 0.25] = IGNORE
            out[name] = lab.astype(np.float32)
        else:
            out[name] = rng.randn(*shape).astype(np.float32)
    return out


# ------------------------------------------------------------------------------------------------ the oracle run

def _caffe_net(caffe, text, phase):
    with tempfile.NamedTemporaryFile('w', suffix='.prototxt', delete=False) as f:
        f.write(text)
        path = f.name
    try:
        return caffe.Net(path, phase)
    finally:
        os.unlink(path)


def _fill_weights(net, net_param, rule=weight_array):
    types = {lp.name: lp.type for lp in net_param.layer}
    for name, blobs in net.params.items():
        for i, b in enumerate(blobs):
            b.data[...] = rule(name, types[name], i, b.data.shape)


def _input_names(net_param):
    return [t for lp in net_param.layer if lp.type == 'Input' for t in lp.top]


def make_nets(caffe, pb2, text_format, folders):
    os.makedirs(OUT, exist_ok=True)
    for folder in folders:
        with open(train_file(folder)) as f:
            ref = text_format.Parse(f.read(), pb2.NetParameter())
        store = {}
        for H, W in SIZES:
            tag = f'{H}x{W}'
            thin = thin_net(ref, pb2, H, W, trunk_divisor(folder))
            text = text_format.MessageToString(thin)
            net = _caffe_net(caffe, text, caffe.TRAIN)
            _fill_weights(net, thin, net_weight_array)
            names = _input_names(thin)
            inputs = input_arrays({n: net.blobs[n].data.shape for n in names}, label_classes(thin),
                                  case_seed(folder, H, W))
            for n, v in inputs.items():
                net.blobs[n].data[...] = v
            net.forward()
            net.backward()
            store[f'{tag}/prototxt'] = np.array(text)
            for n, b in net.blobs.items():
                if AUTO_SPLIT.search(n):
                    continue
                summarize(store, f'{tag}/blob/{n}', b.data)
            lr = {lp.name: [p.lr_mult for p in lp.param] for lp in thin.layer}
            for n, blobs in net.params.items():
                for i, b in enumerate(blobs):
                    mult = lr[n][i] if i < len(lr[n]) else 1.0
                    if mult != 0:
                        summarize(store, f'{tag}/grad/{n}/{i}', b.diff)
            print(f'{folder} {tag}: loss {[float(net.blobs[t].data) for t in net.outputs]}', flush=True)
        np.savez_compressed(os.path.join(OUT, f'nets_{folder}.npz'), **store)


def make_semantics(caffe, pb2, text_format, only=()):
    """All cases, or with `only` just those cases, their keys replaced in the existing semantics.npz and every
    other array kept as it is (a rebuilt Caffe may differ from the one that made them in the last bits)."""
    os.makedirs(OUT, exist_ok=True)
    sys.path.insert(0, OUT)
    store = {}
    path = os.path.join(OUT, 'semantics.npz')
    if only:
        with np.load(path) as old:
            store = {k: old[k] for k in old.files if k.split('/', 1)[0] not in only}
    for name, case in semantics_cases().items():
        if only and name not in only:
            continue
        phase = caffe.TRAIN if case['phase'] == 'TRAIN' else caffe.TEST
        net0 = _caffe_net(caffe, case['text'], phase)
        shapes = {t: net0.blobs[t].data.shape for t in case['check']}
        text = loss_harness(case['text'], shapes, case['force_backward']) if case['backward'] else case['text']
        net = _caffe_net(caffe, text, phase)
        net_param = text_format.Parse(text, pb2.NetParameter())
        _fill_weights(net, net_param)
        in_shapes = {n: net.blobs[n].data.shape for n in _input_names(net_param)}
        inputs = semantic_inputs(in_shapes, case['labels'], case['ignore'], _seed(name))
        if name == 'softmax_loss_floor':   # some probabilities below FLT_MIN: the floor, and Caffe's gradient
            inputs['score'][0, 0] += 120.0
            inputs['score'][0, 1] -= 120.0
            lab = inputs['label']
            lab[0, 0, 0, 0], lab[0, 0, 1, 1] = 1, 1
        for n, v in inputs.items():
            net.blobs[n].data[...] = v
        net.forward()
        if case['backward']:
            net.backward()
        store[f'{name}/prototxt'] = np.array(text)
        store[f'{name}/phase'] = np.array(case['phase'])
        for n, v in inputs.items():
            store[f'{name}/input/{n}'] = v
        for n, b in net.blobs.items():
            if AUTO_SPLIT.search(n):
                continue
            store[f'{name}/blob/{n}'] = b.data.copy()
            if case['backward'] and case['force_backward'] and n in inputs and n not in case['labels'] \
                    and not n.startswith('w_'):
                store[f'{name}/diff/{n}'] = b.diff.copy()
        lr = {lp.name: [p.lr_mult for p in lp.param] for lp in net_param.layer}
        if case['backward']:
            for n, blobs in net.params.items():
                for i, b in enumerate(blobs):
                    mult = lr[n][i] if i < len(lr[n]) else 1.0
                    if mult != 0 or case['force_backward']:     # force_backward: every parameter gets its diff
                        store[f'{name}/grad/{n}/{i}'] = b.diff.copy()
        print(f'semantics {name}: {len(net.blobs)} blobs', flush=True)
    np.savez_compressed(path, **store)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    import caffe
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format
    caffe.set_mode_cpu()
    what = argv or ['semantics', 'nets']
    cases = [w.split('=', 1)[1].split(',') for w in what if w.startswith('semantics=')]
    if 'semantics' in what or cases:
        make_semantics(caffe, caffe_pb2, text_format, only=cases[0] if cases else ())
    folders = [w for w in what if w in FOLDERS] or (FOLDERS if 'nets' in what else [])
    make_nets(caffe, caffe_pb2, text_format, folders)


if __name__ == '__main__':
    main()
