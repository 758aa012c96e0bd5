"""Golden fixtures for the layer types beyond FCN's, made by the real Caffe (the oracle):

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_layers.py'   (or: ... make_layers.py CASE ...;
    the names of TRAININGS remake those files)

layers/layers.npz: one small net per case (odd shapes, non-default fields), run by Caffe: forward, and (unless the
case says no) backward. The checked tops of a non-loss case are weighted by random Inputs `w_t` through Eltwise
PROD with loss_weight 1 (make_runtime.loss_harness), so the backward sends random diffs; loss layers weigh in by
their own (default or given) loss weight; force_backward gives the inputs' diffs. Stored in full: prototxt,
phase, inputs, the weights the net starts from (`weight/`), every blob, the parameters after the forward
(`param/`: BatchNorm updates its statistics there), the parameter diffs (`grad/`) and the inputs' diffs (`diff/`).

layers/resnet_block.npz: a ResNet-style block (Convolution without bias, BatchNorm, Scale, Eltwise, ReLU, a
projection shortcut, InnerProduct and SoftmaxWithLoss) trained 10 SGD steps (momentum) by Caffe's
solver from stored weights and inputs: the loss at each step and every parameter after the last. No weight decay:
the oracle's fork lacks Caffe 1.0's lr_mult 0 masking of BatchNorm's statistics, so decay would shrink them there.
layers/siamese.npz: the same for a Siamese pair sharing its parameters by ParamSpec.name (weight decay on).
layers/permissive.npz: the same for two InnerProducts sharing one weight under two shapes of the same count
(share_mode PERMISSIVE).

Like make_runtime.py, this imports caffe only inside main(); the tests import the case list.
"""
import importlib.util
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'layers')
_spec = importlib.util.spec_from_file_location('make_runtime', os.path.join(HERE, 'make_runtime.py'))
mk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mk)
_input, _layer, _seed, loss_harness = mk._input, mk._layer, mk._seed, mk.loss_harness


def case(text, check=(), inputs=None, phase='TRAIN', backward=True, force_backward=True):
    """inputs: {input name: ('randn', scale) | ('uniform', lo, hi) | ('labels', classes) | ('binary',) |
    ('probs', axis) | ('index', n)}; unnamed inputs are ('randn', 1)."""
    return dict(text=text, check=list(check), inputs=inputs or {}, phase=phase, backward=backward,
                force_backward=force_backward)


def cases():
    c = {}
    x = _input('x', (2, 3, 4, 5))
    neurons = [('absval', 'AbsVal', ''), ('bnll', 'BNLL', ''), ('elu', 'ELU', 'elu_param { alpha: 0.7 }'),
               ('elu1', 'ELU', ''), ('exp', 'Exp', ''), ('exp2', 'Exp', 'exp_param { base: 2 scale: 0.5 shift: 0.3 }'),
               ('prelu', 'PReLU', ''), ('prelu_shared', 'PReLU', 'prelu_param { channel_shared: true }')]
    text = x + ''.join(_layer(n, t, ['x'], [n], body) for n, t, body in neurons)
    c['neurons'] = case(text, [n for n, _, _ in neurons], {'x': ('randn', 3)})
    text = _input('x', (2, 3, 4, 5)) + _layer('log', 'Log', ['x'], ['log']) + \
        _layer('log10', 'Log', ['x'], ['log10'], 'log_param { base: 10 scale: 2 shift: 0.5 }')
    c['log'] = case(text, ['log', 'log10'], {'x': ('uniform', 0.2, 3.0)})
    text = x + _layer('thr', 'Threshold', ['x'], ['thr'], 'threshold_param { threshold: 0.3 }') + \
        _layer('thr0', 'Threshold', ['x'], ['thr0'])
    c['threshold'] = case(text, inputs={'x': ('randn', 1)}, backward=False)
    # in place, as nets use them
    text = _input('x', (2, 3, 5, 4)) + _layer('conv', 'Convolution', ['x'], ['conv'],
                                                'convolution_param { num_output: 4 kernel_size: 3 pad: 1 }') + \
        _layer('prelu', 'PReLU', ['conv'], ['conv']) + _layer('elu', 'ELU', ['conv'], ['conv'])
    c['in_place'] = case(text, ['conv'])

    bn_fixed = 'param { lr_mult: 0 } param { lr_mult: 0 } param { lr_mult: 0 }'
    x4 = _input('x', (3, 4, 5, 3))
    text = x4 + _layer('bn', 'BatchNorm', ['x'], ['bn'], bn_fixed) + \
        _layer('bn_eps', 'BatchNorm', ['x'], ['bn_eps'], bn_fixed + ' batch_norm_param { eps: 0.1 '
               'moving_average_fraction: 0.9 }') + \
        _layer('bn_global', 'BatchNorm', ['x'], ['bn_global'],
               bn_fixed + ' batch_norm_param { use_global_stats: true }')
    c['batch_norm_train'] = case(text, ['bn', 'bn_eps', 'bn_global'], {'x': ('randn', 2)})
    text = x4 + _layer('bn', 'BatchNorm', ['x'], ['bn'], bn_fixed) + \
        _layer('bn_batch', 'BatchNorm', ['x'], ['bn_batch'], bn_fixed + ' batch_norm_param { use_global_stats: false }')
    c['batch_norm_test'] = case(text, ['bn', 'bn_batch'], {'x': ('randn', 2)}, phase='TEST')
    text = _input('x', (5, 3)) + _layer('bn2d', 'BatchNorm', ['x'], ['bn2d'], bn_fixed)
    c['batch_norm_2d'] = case(text, ['bn2d'])
    text = x4 + _input('b', (4, 5)) + \
        _layer('bias', 'Bias', ['x'], ['bias']) + \
        _layer('bias_axes', 'Bias', ['x'], ['bias_axes'], 'bias_param { axis: 1 num_axes: 2 }') + \
        _layer('bias_all', 'Bias', ['x'], ['bias_all'], 'bias_param { axis: 0 num_axes: -1 }') + \
        _layer('bias_two', 'Bias', ['x', 'b'], ['bias_two'])
    c['bias'] = case(text, ['bias', 'bias_axes', 'bias_all', 'bias_two'])
    text = x4 + _layer('mvn', 'MVN', ['x'], ['mvn']) + \
        _layer('mvn_across', 'MVN', ['x'], ['mvn_across'], 'mvn_param { across_channels: true eps: 0.01 }') + \
        _layer('mvn_mean', 'MVN', ['x'], ['mvn_mean'], 'mvn_param { normalize_variance: false }')
    c['mvn'] = case(text, ['mvn', 'mvn_across', 'mvn_mean'], {'x': ('randn', 2)})

    # losses: weighed by their own loss weights
    text = _input('a', (3, 4, 2)) + _input('b', (3, 8)) + \
        _layer('euclid', 'EuclideanLoss', ['a', 'b'], ['euclid'], 'loss_weight: 1.7')
    c['euclidean'] = case(text)
    text = _input('x', (3, 2, 4)) + _input('t', (3, 2, 4)) + \
        _layer('sce', 'SigmoidCrossEntropyLoss', ['x', 't'], ['sce'], 'loss_weight: 0.6')
    c['sigmoid_cross_entropy'] = case(text, inputs={'x': ('randn', 4), 't': ('binary',)})
    # Caffe refuses force_backward here (no diff for H, bottom 2): a learned Scale before it gets the gradient
    text = _input('q', (4, 5)) + _input('label', (4,)) + _input('H', (1, 1, 5, 5)) + \
        _layer('p', 'Scale', ['q'], ['p'], 'scale_param { axis: 1 }') + \
        _layer('infogain', 'InfogainLoss', ['p', 'label', 'H'], ['infogain'], 'loss_weight: 2')
    c['infogain'] = case(text, inputs={'q': ('probs', 1), 'label': ('labels', 5), 'H': ('uniform', 0, 1)},
                         force_backward=False)
    text = _input('x', (4, 3, 2, 1)) + _input('label', (4,)) + \
        _layer('hinge_l1', 'HingeLoss', ['x', 'label'], ['hinge_l1']) + \
        _layer('hinge_l2', 'HingeLoss', ['x', 'label'], ['hinge_l2'], 'loss_weight: 0.5 hinge_loss_param { norm: L2 }')
    c['hinge'] = case(text, inputs={'x': ('randn', 1), 'label': ('labels', 6)})
    text = _input('a', (6, 3, 1, 1)) + _input('b', (6, 3, 1, 1)) + _input('y', (6,)) + \
        _layer('contrastive', 'ContrastiveLoss', ['a', 'b', 'y'], ['contrastive'],
               'contrastive_loss_param { margin: 2.5 }') + \
        _layer('contrastive_legacy', 'ContrastiveLoss', ['a', 'b', 'y'], ['contrastive_legacy'],
               'loss_weight: 0.5 contrastive_loss_param { margin: 3 legacy_version: true }')
    c['contrastive'] = case(text, inputs={'a': ('randn', 0.7), 'b': ('randn', 0.7), 'y': ('binary',)})
    text = _input('p', (5, 4, 1, 1)) + _input('label', (5, 1, 1, 1)) + \
        _layer('mlr', 'MultinomialLogisticLoss', ['p', 'label'], ['mlr'], 'loss_weight: 1.3')
    c['multinomial_logistic'] = case(text, inputs={'p': ('probs', 1), 'label': ('labels', 4)})

    # moving and selecting
    text = _input('x', (2, 7, 3, 4)) + \
        _layer('slice', 'Slice', ['x'], ['s0', 's1', 's2'], 'slice_param { axis: 1 slice_point: 2 slice_point: 5 }') + \
        _layer('slice_dim', 'Slice', ['x'], ['d0', 'd1', 'd2'], 'slice_param { slice_dim: 2 }') + \
        _layer('slice_last', 'Slice', ['x'], ['l0', 'l1'], 'slice_param { axis: -1 }')
    c['slice'] = case(text, ['s0', 's1', 's2', 'd0', 'd2', 'l1'])
    text = _input('x', (2, 3, 2, 3)) + _layer('tile', 'Tile', ['x'], ['tile'], 'tile_param { tiles: 3 }') + \
        _layer('tile_last', 'Tile', ['x'], ['tile_last'], 'tile_param { axis: -1 tiles: 2 }')
    c['tile'] = case(text, ['tile', 'tile_last'])
    text = _input('x', (2, 3, 4, 5)) + \
        _layer('sum', 'Reduction', ['x'], ['sum']) + \
        _layer('asum', 'Reduction', ['x'], ['asum'], 'reduction_param { operation: ASUM axis: 1 coeff: 0.5 }') + \
        _layer('sumsq', 'Reduction', ['x'], ['sumsq'], 'reduction_param { operation: SUMSQ axis: 2 }') + \
        _layer('mean', 'Reduction', ['x'], ['mean'], 'reduction_param { operation: MEAN axis: -1 coeff: 2 }')
    c['reduction'] = case(text, ['sum', 'asum', 'sumsq', 'mean'])
    text = _input('idx', (3, 4)) + \
        _layer('embed', 'Embed', ['idx'], ['embed'], 'embed_param { num_output: 5 input_dim: 7 }') + \
        _layer('embed_nb', 'Embed', ['idx'], ['embed_nb'],
               'embed_param { num_output: 2 input_dim: 7 bias_term: false }')
    c['embed'] = case(text, ['embed', 'embed_nb'], {'idx': ('labels', 7)}, force_backward=False)
    # Caffe refuses force_backward into index bottoms: learned Scales before the data bottoms get the gradients
    text = _input('q', (4, 3, 2)) + _input('permut', (6,)) + \
        _layer('x', 'Scale', ['q'], ['x'], 'scale_param { axis: 0 }') + \
        _layer('reindex', 'BatchReindex', ['x', 'permut'], ['reindex'])
    c['batch_reindex'] = case(text, ['reindex'], {'permut': ('labels', 4)}, force_backward=False)
    text = _input('qa', (5, 3, 2)) + _input('qb', (5, 4)) + _input('sel', (5, 1)) + \
        _layer('a', 'Scale', ['qa'], ['a'], 'scale_param { axis: 0 }') + \
        _layer('b', 'Scale', ['qb'], ['b'], 'scale_param { axis: 0 }') + \
        _layer('filter', 'Filter', ['a', 'b', 'sel'], ['fa', 'fb']) + \
        _layer('la', 'Reduction', ['fa'], ['la'], 'loss_weight: 1 reduction_param { operation: SUMSQ }') + \
        _layer('lb', 'Reduction', ['fb'], ['lb'], 'loss_weight: 0.5 reduction_param { operation: SUM }')
    c['filter'] = case(text, [], {'sel': ('binary',)}, force_backward=False)
    text = _input('x', (2, 3)) + \
        _layer('param', 'Parameter', [], ['param'], 'parameter_param { shape { dim: 2 dim: 3 } }') + \
        _layer('sum', 'Eltwise', ['x', 'param'], ['sum'])
    c['parameter'] = case(text, ['sum', 'param'])
    text = _input('x', (2, 3, 7, 6)) + \
        _layer('im2col', 'Im2col', ['x'], ['im2col'], 'convolution_param { kernel_size: 3 stride: 2 pad: 1 }') + \
        _layer('im2col_rect', 'Im2col', ['x'], ['im2col_rect'], 'convolution_param { kernel_h: 2 kernel_w: 3 '
               'dilation: 2 }')
    c['im2col'] = case(text, ['im2col', 'im2col_rect'])
    text = _input('x', (2, 3, 7, 9)) + \
        _layer('spp3', 'SPP', ['x'], ['spp3'], 'spp_param { pyramid_height: 3 }') + \
        _layer('spp_ave', 'SPP', ['x'], ['spp_ave'], 'spp_param { pyramid_height: 2 pool: AVE }') + \
        _layer('spp1', 'SPP', ['x'], ['spp1'], 'spp_param { pyramid_height: 1 }')
    c['spp'] = case(text, ['spp3', 'spp_ave', 'spp1'])

    # parameter sharing by ParamSpec.name: a Siamese pair (the diffs of both branches add up in the owner's)
    shared = 'param { name: "w" lr_mult: 1 } param { name: "bias" lr_mult: 2 }'
    text = _input('a', (3, 2, 5, 4)) + _input('b', (3, 2, 5, 4)) + _input('y', (3,)) + \
        _layer('conv_a', 'Convolution', ['a'], ['conv_a'], shared + ' convolution_param { num_output: 3 '
               'kernel_size: 3 }') + \
        _layer('conv_b', 'Convolution', ['b'], ['conv_b'], shared + ' convolution_param { num_output: 3 '
               'kernel_size: 3 }') + \
        _layer('relu_b', 'ReLU', ['conv_b'], ['conv_b']) + \
        _layer('ip_a', 'InnerProduct', ['conv_a'], ['ip_a'], 'param { name: "ip" share_mode: PERMISSIVE } '
               'inner_product_param { num_output: 4 bias_term: false }') + \
        _layer('ip_b', 'InnerProduct', ['conv_b'], ['ip_b'], 'param { name: "ip" } '
               'inner_product_param { num_output: 4 bias_term: false }') + \
        _layer('loss', 'ContrastiveLoss', ['ip_a', 'ip_b', 'y'], ['loss'], 'contrastive_loss_param { margin: 4 }')
    c['sharing'] = case(text, inputs={'y': ('binary',)})

    # recurrent: cont 0 restarts a sequence; Caffe refuses force_backward into cont, so learned Scales feed x
    # (and the static input, the initial states), their diffs carrying the gradient
    filler = 'weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.2 }'

    def recurrent(kind, static, expose):
        t = _input('qx', (3, 2, 4)) + _input('cont', (3, 2)) + \
            _layer('x', 'Scale', ['qx'], ['x'], 'scale_param { axis: 0 }')
        bottoms = ['x', 'cont']
        if static:
            t += _input('qs', (2, 3)) + _layer('s', 'Scale', ['qs'], ['s'], 'scale_param { axis: 0 }')
            bottoms.append('s')
        tops = ['out']
        if expose:
            for st in (['h0', 'c0'] if kind == 'LSTM' else ['h0']):
                t += _input(f'q{st}', (1, 2, 5)) + _layer(st, 'Scale', [f'q{st}'], [st], 'scale_param { axis: 0 }')
                bottoms.append(st)
            tops += ['hT', 'cT'] if kind == 'LSTM' else ['hT']
        t += _layer('rec', kind, bottoms, tops, f'recurrent_param {{ num_output: 5 expose_hidden: '
                    f'{str(expose).lower()} {filler} }}')
        return t, tops
    for kind in ('RNN', 'LSTM'):
        for static, expose in ((False, False), (True, True)):
            text, tops = recurrent(kind, static, expose)
            c[f'{kind.lower()}_{"static_exposed" if static else "plain"}'] = case(
                text, tops, {'cont': ('binary',)}, force_backward=False)
    text = _input('qc', (1, 3, 4)) + _input('qg', (1, 3, 16)) + _input('cont', (1, 3)) + \
        _layer('c_prev', 'Scale', ['qc'], ['c_prev'], 'scale_param { axis: 0 }') + \
        _layer('gates', 'Scale', ['qg'], ['gates'], 'scale_param { axis: 0 }') + \
        _layer('unit', 'LSTMUnit', ['c_prev', 'gates', 'cont'], ['c', 'h'])
    c['lstm_unit'] = case(text, ['c', 'h'], {'cont': ('binary',)}, force_backward=False)

    # N-d convolution: three spatial axes, per-axis kernel, stride, pad and dilation
    text = _input('x', (2, 2, 5, 4, 6)) + \
        _layer('conv3d', 'Convolution', ['x'], ['conv3d'], 'convolution_param { num_output: 3 kernel_size: 3 '
               'kernel_size: 2 kernel_size: 1 stride: 1 stride: 2 stride: 1 pad: 1 pad: 0 pad: 1 dilation: 1 '
               'dilation: 1 dilation: 2 }') + \
        _layer('deconv3d', 'Deconvolution', ['x'], ['deconv3d'], 'convolution_param { num_output: 4 group: 2 '
               'kernel_size: 2 kernel_size: 3 kernel_size: 2 stride: 2 stride: 1 stride: 2 pad: 0 pad: 1 pad: 1 }') + \
        _layer('conv1d', 'Convolution', ['x1'], ['conv1d'], 'convolution_param { num_output: 2 kernel_size: 3 '
               'stride: 2 pad: 1 }')
    text = _input('x1', (2, 3, 7)) + text
    c['conv_nd'] = case(text, ['conv3d', 'deconv3d', 'conv1d'])

    # beyond torch's convolutions: four spatial axes, and a channel axis other than 1 (Caffe's im2col_nd)
    text = _input('x', (2, 2, 4, 3, 5, 4)) + \
        _layer('conv4d', 'Convolution', ['x'], ['conv4d'], 'convolution_param { num_output: 3 kernel_size: 2 '
               'kernel_size: 3 kernel_size: 2 kernel_size: 1 stride: 1 stride: 1 stride: 2 stride: 1 pad: 1 pad: 0 '
               'pad: 1 pad: 0 dilation: 1 dilation: 1 dilation: 1 dilation: 2 }') + \
        _layer('deconv4d', 'Deconvolution', ['x'], ['deconv4d'], 'convolution_param { num_output: 4 group: 2 '
               'kernel_size: 2 kernel_size: 1 kernel_size: 3 kernel_size: 2 stride: 2 stride: 1 stride: 1 stride: 2 '
               'pad: 0 pad: 0 pad: 1 pad: 1 }')
    c['conv_4d'] = case(text, ['conv4d', 'deconv4d'])
    text = _input('x', (2, 4, 3, 5, 6)) + \
        _layer('conv_axis2', 'Convolution', ['x'], ['conv_axis2'], 'convolution_param { axis: 2 num_output: 3 '
               'kernel_size: 2 kernel_size: 3 stride: 1 stride: 2 pad: 1 pad: 0 }') + \
        _layer('conv_axis0', 'Convolution', ['x'], ['conv_axis0'], 'convolution_param { axis: -5 num_output: 2 '
               'group: 2 kernel_size: 2 kernel_size: 3 kernel_size: 2 kernel_size: 3 pad: 0 pad: 1 pad: 1 pad: 0 '
               'dilation: 1 dilation: 1 dilation: 2 dilation: 1 }') + \
        _layer('deconv_axis2', 'Deconvolution', ['x'], ['deconv_axis2'], 'convolution_param { axis: 2 '
               'num_output: 2 kernel_size: 3 kernel_size: 2 stride: 2 stride: 1 pad: 1 pad: 0 }') + \
        _layer('conv_nd_forced', 'Convolution', ['x'], ['conv_nd_forced'], 'convolution_param { num_output: 2 '
               'kernel_size: 3 pad: 1 force_nd_im2col: true }')
    c['conv_axis'] = case(text, ['conv_axis2', 'conv_axis0', 'deconv_axis2', 'conv_nd_forced'])
    text = _input('x', (2, 3, 4, 3, 5)) + _input('x2', (2, 3, 7, 6)) + \
        _layer('im2col3d', 'Im2col', ['x'], ['im2col3d'], 'convolution_param { kernel_size: 2 kernel_size: 3 '
               'kernel_size: 2 stride: 1 stride: 2 stride: 2 pad: 1 pad: 0 pad: 1 dilation: 1 dilation: 1 '
               'dilation: 2 }') + \
        _layer('im2col_axis2', 'Im2col', ['x'], ['im2col_axis2'], 'convolution_param { axis: 2 kernel_size: 2 '
               'stride: 1 pad: 1 }') + \
        _layer('im2col_forced', 'Im2col', ['x2'], ['im2col_forced'], 'convolution_param { kernel_size: 3 '
               'stride: 2 pad: 1 force_nd_im2col: true }')
    c['im2col_nd'] = case(text, ['im2col3d', 'im2col_axis2', 'im2col_forced'])

    # sharing by ParamSpec.name under another shape of the same count (PERMISSIVE): the sharer sees the owner's
    # memory in its own shape, and its diff adds into the owner's
    text = _input('a', (2, 6)) + _input('b', (3, 4)) + \
        _layer('ip_a', 'InnerProduct', ['a'], ['ip_a'], 'param { name: "w" } inner_product_param { num_output: 4 }') + \
        _layer('ip_b', 'InnerProduct', ['b'], ['ip_b'], 'param { name: "w" share_mode: PERMISSIVE } '
               'inner_product_param { num_output: 6 }')
    c['sharing_permissive'] = case(text, ['ip_a', 'ip_b'])

    # MAX pooling's second top: the argmax mask (flat index in the map)
    text = _input('x', (2, 3, 7, 6)) + \
        _layer('pool', 'Pooling', ['x'], ['pool', 'mask'],
               'pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }') + \
        _layer('pool2', 'Pooling', ['x'], ['pool2', 'mask2'], 'pooling_param { pool: MAX kernel_size: 3 stride: 2 '
               'pad: 2 }')
    c['pool_mask'] = case(text, ['pool', 'pool2'])

    # Eltwise PROD with stable_prod_grad false: Caffe's diff is top / bottom
    text = _input('a', (2, 3, 4)) + _input('b', (2, 3, 4)) + _input('c', (2, 3, 4)) + \
        _layer('prod', 'Eltwise', ['a', 'b', 'c'], ['prod'],
               'eltwise_param { operation: PROD stable_prod_grad: false }')
    c['eltwise_quotient'] = case(text, ['prod'], {n: ('uniform', 0.5, 2.0) for n in 'abc'})
    return c


def resnet_block():
    """(net prototxt, solver prototxt body) of the ResNet-style block trained by the solver fixture."""
    fixed = 'param { lr_mult: 0 } param { lr_mult: 0 } param { lr_mult: 0 }'

    def conv_bn(name, bottom, n, k, pad, relu=True, stride=1):
        t = _layer(name, 'Convolution', [bottom], [name], f'convolution_param {{ num_output: {n} kernel_size: {k} '
                   f'pad: {pad} stride: {stride} bias_term: false weight_filler {{ type: "msra" }} }}')
        t += _layer(f'{name}_bn', 'BatchNorm', [name], [name], fixed)
        t += _layer(f'{name}_scale', 'Scale', [name], [name], 'scale_param { bias_term: true }')
        if relu:
            t += _layer(f'{name}_relu', 'ReLU', [name], [name])
        return t

    text = 'name: "resnet_block"\n' + _input('data', (4, 3, 9, 7)) + _input('label', (4,))
    text += conv_bn('conv1', 'data', 6, 3, 1)
    text += conv_bn('res_a', 'conv1', 8, 3, 1, stride=2)
    text += conv_bn('res_b', 'res_a', 8, 3, 1, relu=False)
    text += conv_bn('proj', 'conv1', 8, 1, 0, relu=False, stride=2)
    text += _layer('sum', 'Eltwise', ['res_b', 'proj'], ['sum'])
    text += _layer('sum_relu', 'ReLU', ['sum'], ['sum'])
    text += _layer('pool', 'Pooling', ['sum'], ['pool'], 'pooling_param { pool: AVE global_pooling: true }')
    text += _layer('fc', 'InnerProduct', ['pool'], ['fc'], 'inner_product_param { num_output: 5 }')
    text += _layer('loss', 'SoftmaxWithLoss', ['fc', 'label'], ['loss'])
    solver = 'type: "SGD"\nbase_lr: 0.05\nmomentum: 0.9\nweight_decay: 0\nlr_policy: "fixed"\nmax_iter: 100\n' \
             'display: 0\nsnapshot_after_train: false\n'
    return text, solver


STEPS = 10


def weight_array(layer, layer_type, index, shape):
    """The seeded start of each blob: make_runtime.weight_array, BatchNorm statistics plausible (mean ~ N(0, 0.3),
    variance in [0.5, 2), scale factor in [0.5, 2))."""
    rng = np.random.RandomState(_seed(f'{layer}/{index}'))
    shape = tuple(int(s) for s in shape)
    if layer_type == 'BatchNorm':
        if index == 0:
            return (rng.randn(*shape) * 0.3).astype(np.float32)
        return rng.uniform(0.5, 2.0, shape).astype(np.float32)
    if layer_type == 'PReLU':
        return rng.uniform(0.05, 0.6, shape).astype(np.float32)
    return mk.weight_array(layer, layer_type, index, shape)


def make_inputs(shapes, rules, seed):
    rng = np.random.RandomState(seed)
    out = {}
    for name in sorted(shapes):
        shape = tuple(shapes[name])
        rule = rules.get(name, ('randn', 1))
        kind = rule[0]
        if kind == 'randn':
            v = rng.randn(*shape) * rule[1]
        elif kind == 'uniform':
            v = rng.uniform(rule[1], rule[2], shape)
        elif kind == 'labels':
            v = rng.randint(0, rule[1], size=shape)
        elif kind == 'binary':
            v = rng.randint(0, 2, size=shape)
        elif kind == 'probs':
            e = np.exp(rng.randn(*shape))
            v = e / e.sum(axis=rule[1], keepdims=True)
        else:
            raise ValueError(rule)
        out[name] = np.asarray(v, dtype=np.float32)
    return out


def _net(caffe, text, phase):
    with tempfile.NamedTemporaryFile('w', suffix='.prototxt', delete=False) as f:
        f.write(text)
    try:
        return caffe.Net(f.name, phase)
    finally:
        os.unlink(f.name)


def make_cases(caffe, pb2, text_format, only=()):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, 'layers.npz')
    store = {}
    if only:
        with np.load(path) as old:
            store = {k: old[k] for k in old.files if k.split('/', 1)[0] not in only}
    for name, cs in cases().items():
        if only and name not in only:
            continue
        phase = caffe.TRAIN if cs['phase'] == 'TRAIN' else caffe.TEST
        text = cs['text']
        if cs['backward']:
            net0 = _net(caffe, text, phase)
            shapes = {t: net0.blobs[t].data.shape for t in cs['check']}
            text = loss_harness(text, shapes, cs['force_backward'])
        net = _net(caffe, text, phase)
        net_param = text_format.Parse(text, pb2.NetParameter())
        types = {lp.name: lp.type for lp in net_param.layer}
        for n, blobs in net.params.items():
            for i, b in enumerate(blobs):
                b.data[...] = weight_array(n, types[n], i, b.data.shape)
                store[f'{name}/weight/{n}/{i}'] = b.data.copy()
        ins = [t for lp in net_param.layer if lp.type == 'Input' for t in lp.top]
        rules = dict(cs['inputs'])
        inputs = make_inputs({n: net.blobs[n].data.shape for n in ins}, rules, _seed(name))
        for n, v in inputs.items():
            net.blobs[n].data[...] = v
        net.forward()
        if cs['backward']:
            net.backward()
        store[f'{name}/prototxt'] = np.array(text)
        store[f'{name}/phase'] = np.array(cs['phase'])
        for n, v in inputs.items():
            store[f'{name}/input/{n}'] = v
        for n, b in net.blobs.items():
            if mk.AUTO_SPLIT.search(n):
                continue
            store[f'{name}/blob/{n}'] = b.data.copy()
            label = rules.get(n, ('randn',))[0] in ('labels', 'binary')
            if cs['backward'] and cs['force_backward'] and n in inputs and not n.startswith('w_') and not label:
                store[f'{name}/diff/{n}'] = b.diff.copy()
        for n, blobs in net.params.items():
            for i, b in enumerate(blobs):
                store[f'{name}/param/{n}/{i}'] = b.data.copy()
                if cs['backward']:
                    store[f'{name}/grad/{n}/{i}'] = b.diff.copy()
        print(f'layers {name}: {len(net.blobs)} blobs', flush=True)
    np.savez_compressed(path, **store)


def siamese():
    """(net prototxt, solver prototxt body) of a Siamese pair sharing its parameters by ParamSpec.name."""
    shared = 'param { name: "w" lr_mult: 1 } param { name: "bias" lr_mult: 2 decay_mult: 0 }'
    text = 'name: "siamese"\n' + _input('a', (4, 2, 6, 5)) + _input('b', (4, 2, 6, 5)) + _input('y', (4,))
    for side in 'ab':
        text += _layer(f'conv_{side}', 'Convolution', [side], [f'conv_{side}'], shared + ' convolution_param { '
                       'num_output: 3 kernel_size: 3 weight_filler { type: "xavier" } }')
        text += _layer(f'relu_{side}', 'ReLU', [f'conv_{side}'], [f'conv_{side}'])
        text += _layer(f'ip_{side}', 'InnerProduct', [f'conv_{side}'], [f'ip_{side}'], 'param { name: "ip" } '
                       'inner_product_param { num_output: 4 bias_term: false weight_filler { type: "xavier" } }')
    text += _layer('loss', 'ContrastiveLoss', ['ip_a', 'ip_b', 'y'], ['loss'], 'contrastive_loss_param { margin: 2 }')
    solver = 'type: "SGD"\nbase_lr: 0.05\nmomentum: 0.9\nweight_decay: 0.01\nlr_policy: "fixed"\nmax_iter: 100\n' \
             'display: 0\nsnapshot_after_train: false\n'
    return text, solver


def permissive():
    """(net prototxt, solver prototxt body) of two InnerProducts sharing one weight by ParamSpec.name under two
    shapes of the same count (share_mode PERMISSIVE), each with its own loss."""
    text = 'name: "permissive"\n' + _input('a', (3, 6)) + _input('b', (3, 4)) + _input('ta', (3, 4)) + \
        _input('tb', (3, 6))
    text += _layer('ip_a', 'InnerProduct', ['a'], ['ip_a'], 'param { name: "w" } inner_product_param { num_output: 4 '
                   'weight_filler { type: "xavier" } }')
    text += _layer('ip_b', 'InnerProduct', ['b'], ['ip_b'], 'param { name: "w" share_mode: PERMISSIVE } '
                   'inner_product_param { num_output: 6 weight_filler { type: "xavier" } }')
    text += _layer('loss_a', 'EuclideanLoss', ['ip_a', 'ta'], ['loss'])
    text += _layer('loss_b', 'EuclideanLoss', ['ip_b', 'tb'], ['loss_b'], 'loss_weight: 0.5')
    solver = 'type: "SGD"\nbase_lr: 0.05\nmomentum: 0.9\nweight_decay: 0.01\nlr_policy: "fixed"\nmax_iter: 100\n' \
             'display: 0\nsnapshot_after_train: false\n'
    return text, solver


#: trained nets: name -> (net and solver, input shapes, input rules)
TRAININGS = {
    'resnet_block': (resnet_block, {'data': (4, 3, 9, 7), 'label': (4,)}, {'label': ('labels', 5)}),
    'siamese': (siamese, {'a': (4, 2, 6, 5), 'b': (4, 2, 6, 5), 'y': (4,)}, {'y': ('binary',)}),
    'permissive': (permissive, {'a': (3, 6), 'b': (3, 4), 'ta': (3, 4), 'tb': (3, 6)}, {}),
}


def make_training(caffe, name):
    os.makedirs(OUT, exist_ok=True)
    build, shapes, rules = TRAININGS[name]
    text, solver_body = build()
    with tempfile.TemporaryDirectory() as d:
        net_path = os.path.join(d, 'net.prototxt')
        with open(net_path, 'w') as f:
            f.write(text)
        solver_path = os.path.join(d, 'solver.prototxt')
        with open(solver_path, 'w') as f:
            f.write(f'net: "{net_path}"\n' + solver_body + f'snapshot_prefix: "{d}/snap"\n')
        solver = caffe.SGDSolver(solver_path)
    net = solver.net
    store = {'prototxt': np.array(text), 'solver': np.array(solver_body)}
    from google.protobuf import text_format
    from caffe.proto import caffe_pb2
    types = {lp.name: lp.type for lp in text_format.Parse(text, caffe_pb2.NetParameter()).layer}
    for n, blobs in net.params.items():
        for i, b in enumerate(blobs):
            b.data[...] = weight_array(n, types[n], i, b.data.shape)
            store[f'weight/{n}/{i}'] = b.data.copy()
    inputs = make_inputs(shapes, rules, _seed(name))
    losses = []
    for _ in range(STEPS):
        for n, v in inputs.items():
            net.blobs[n].data[...] = v
        solver.step(1)
        losses.append(float(net.blobs['loss'].data))
    for n, v in inputs.items():
        store[f'input/{n}'] = v
    store['losses'] = np.array(losses, dtype=np.float64)
    for n, blobs in net.params.items():
        for i, b in enumerate(blobs):
            store[f'param/{n}/{i}'] = b.data.copy()
    print(f'{name} losses', losses, flush=True)
    np.savez_compressed(os.path.join(OUT, f'{name}.npz'), **store)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    import caffe
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format
    caffe.set_mode_cpu()
    only = [a for a in argv if a not in TRAININGS]
    if not argv or only:
        make_cases(caffe, caffe_pb2, text_format, only)
    for name in TRAININGS:
        if not argv or name in argv:
            make_training(caffe, name)


if __name__ == '__main__':
    main()
