"""Full-width nets: every reference net's blob shapes at 500x500 (shape inference on the meta device: fast), and a
real CPU forward of VGG16 FCN-8s at 500x500 against a hand-written module (marked slow: `-m "not slow"` skips it)."""

import numpy as np
import pytest
import torch

from netspec import read_net
from netspec.models import SINGLE_CHANNEL_TOPS
from runtime import Net, with_inputs

FCN8S_SHAPES = {  # Caffe's size rules at 500x500: conv out = (in + 2 pad - k) / s + 1, pooling rounds up
    'data': (1, 3, 500, 500), 'conv1_1': (1, 64, 698, 698), 'pool1': (1, 64, 349, 349),
    'pool2': (1, 128, 175, 175), 'pool3': (1, 256, 88, 88), 'pool4': (1, 512, 44, 44), 'pool5': (1, 512, 22, 22),
    'fc6': (1, 4096, 16, 16), 'fc7': (1, 4096, 16, 16), 'score_fr': (1, 21, 16, 16), 'upscore2': (1, 21, 34, 34),
    'score_pool4c': (1, 21, 34, 34), 'upscore_pool4': (1, 21, 70, 70), 'score_pool3c': (1, 21, 70, 70),
    'upscore8': (1, 21, 568, 568), 'score': (1, 21, 500, 500)}


def test_fcn8s_deploy_blob_shapes_at_500(reference):
    net = Net(reference / 'voc-fcn8s' / 'deploy.prototxt', device='meta')
    for name, shape in FCN8S_SHAPES.items():
        assert net.blob_shapes[name] == shape, name
    out = net.forward()
    assert tuple(out['score'].shape) == (1, 21, 500, 500)
    for name, t in net.blobs.items():
        assert tuple(t.shape) == net.blob_shapes[name], name


def _train_file(folder):
    return folder / 'train.prototxt' if (folder / 'train.prototxt').exists() else folder / 'trainval.prototxt'


@pytest.mark.parametrize('folder', ['voc-fcn32s', 'voc-fcn16s', 'voc-fcn8s', 'voc-fcn8s-atonce', 'voc-fcn-alexnet',
                                    'siftflow-fcn8s', 'nyud-fcn32s-color-d', 'nyud-fcn32s-color-hha',
                                    'pascalcontext-fcn8s'])
def test_reference_train_nets_build_full_width_with_caffe_shapes(reference, folder):
    param = read_net(_train_file(reference / folder))
    tops = [t for lp in param.layer if lp.type == 'Python' for t in lp.top]
    shapes = {t: (1, 1 if t in SINGLE_CHANNEL_TOPS else 3, 500, 500) for t in tops}
    net = Net(with_inputs(param, shapes), phase='train', device='meta')
    losses = [lp for lp in net.net_param.layer if lp.type == 'SoftmaxWithLoss']
    assert losses
    for lp in losses:
        assert net.blob_shapes[lp.bottom[0]][2:] == (500, 500)
    out = net.forward()
    assert all(tuple(v.shape) == () for v in out.values())


@pytest.mark.slow
def test_fcn8s_forward_at_500_on_cpu(reference):
    from fcnapps.bench import HandFCN8s
    torch.manual_seed(0)
    net = Net(reference / 'voc-fcn8s' / 'deploy.prototxt')
    with torch.no_grad():
        for ps in net.params.values():
            for p in ps:
                p.normal_(0, 0.01)
    x = (np.random.RandomState(0).randn(1, 3, 500, 500) * 50).astype(np.float32)
    score = net.forward(data=x)['score']
    assert tuple(score.shape) == (1, 21, 500, 500) and bool(torch.isfinite(score).all())
    for name, shape in FCN8S_SHAPES.items():
        assert tuple(net.blobs[name].shape) == shape, name
    with torch.no_grad():
        ref = HandFCN8s(net)(net.blobs['data'])
    torch.testing.assert_close(score, ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
