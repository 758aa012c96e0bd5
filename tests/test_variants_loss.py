"""The loss alternatives (datalayers.loss_layers, datalayers.balance, the generators' loss options):
patchwise training as loss sampling and class balancing (CVPR 2015 sec. 3.4, 4.3)."""
import math

import numpy as np
import pytest
import torch

from datalayers.balance import ClassFrequencies, class_frequencies, class_weights, count_labels
from netspec import NetSpec, caffe_pb2, layers as L, to_text
from netspec.models import fcn_vgg16, input_data, voc_data
from runtime import Net

pytestmark = pytest.mark.usefixtures('one_thread')

C, H, W = 3, 20, 24


def _net(sampling=None, weights=None, normalize=False, force_backward=True, loss='SoftmaxWithLoss'):
    """Input score and label -> [LossSamplingLayer] -> loss; force_backward gives the score blob its gradient."""
    n = NetSpec()
    n.score, n.label = L.Input(ntop=2, shape=[dict(dim=[2, C, H, W]), dict(dim=[2, 1, H, W])])
    label = n.label
    if sampling is not None:
        n.label_sampled = L.Python(n.label, module='loss_layers', layer='LossSamplingLayer', param_str=repr(sampling))
        label = n.label_sampled
    if weights is not None:
        n.loss = L.Python(n.score, label, module='loss_layers', layer='ClassWeightedSoftmaxLossLayer',
                          param_str=repr(dict(weights, normalize=normalize)), loss_weight=1)
    else:
        n.loss = L.SoftmaxWithLoss(n.score, label, loss_param=dict(normalize=normalize, ignore_label=255))
    net = n.to_proto()
    net.force_backward = force_backward
    return net


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    score = torch.randn(2, C, H, W, generator=g) * 3
    label = torch.randint(0, C, (2, 1, H, W), generator=g).float()
    label[:, :, :2] = 255
    return score, label


def _run(net, score, label):
    out = net.forward(score=score, label=label)
    net.backward()
    return out['loss'].detach().clone(), net.blobs['score'].grad.clone()


# -- loss sampling ------------------------------------------------------------------------------------------------

def test_sampling_with_p_1_is_the_plain_loss_bit_for_bit_and_draws_nothing():
    score, label = _inputs()
    plain = _run(Net(_net(), phase='train'), score, label)
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    sampled_net = Net(_net(sampling={'keep': 1.0}), phase='train')
    sampled = _run(sampled_net, score, label)
    assert torch.equal(plain[0], sampled[0]) and torch.equal(plain[1], sampled[1])
    assert np.array_equal(np.random.get_state()[1], before)


def test_sampling_drops_cells_to_the_ignore_label_and_their_gradient_is_exactly_zero():
    score, label = _inputs()
    net = Net(_net(sampling={'keep': 0.5, 'seed': 3}), phase='train')
    loss, grad = _run(net, score, label)
    sampled = net.blobs['label_sampled']
    dropped = (sampled == 255) & (label != 255)
    kept = sampled != 255
    assert 0.4 < float(dropped.sum()) / float((label != 255).sum()) < 0.6
    assert torch.equal(sampled[kept], label[kept])
    mask = dropped.expand_as(grad)
    assert torch.equal(grad[mask], torch.zeros_like(grad[mask]))
    assert bool((grad[kept.expand_as(grad)] != 0).all())
    # the loss is the plain summed loss of the kept cells
    plain = _run(Net(_net(), phase='train'), score, sampled)
    assert torch.equal(loss, plain[0]) and torch.equal(grad, plain[1])


def test_sampling_keeps_a_fraction_p_of_the_cells():
    net = Net(_net(sampling={'keep': 0.25, 'seed': 1}), phase='train')
    label = torch.zeros(2, 1, H, W)
    fractions = []
    for _ in range(40):
        net.forward(score=torch.zeros(2, C, H, W), label=label)
        fractions.append(float((net.blobs['label_sampled'] == 0).float().mean()))
    assert abs(np.mean(fractions) - 0.25) < 0.01


def test_sampling_cells_drop_whole_blocks():
    net = Net(_net(sampling={'keep': 0.5, 'cell': 8, 'seed': 2}), phase='train')
    net.forward(score=torch.zeros(2, C, H, W), label=torch.zeros(2, 1, H, W))
    kept = (net.blobs['label_sampled'][:, 0] == 0).numpy()
    blocks = kept[:, :16, :24].reshape(2, 2, 8, 3, 8)
    assert (blocks == blocks[:, :, :1, :, :1]).all()
    assert kept.any() and not kept.all()


def test_sampling_is_off_in_the_test_phase():
    score, label = _inputs()
    net = Net(_net(sampling={'keep': 0.5, 'seed': 3}, force_backward=False), phase='test')
    net.forward(score=score, label=label)
    assert torch.equal(net.blobs['label_sampled'], label)


def _solver(tmp_path, seed, keep=0.5):
    from solvers import get_solver
    from netspec import write_text
    net = _net(sampling={'keep': keep}, force_backward=False)
    # a learnable score layer in front, so the solver has something to update
    n = caffe_pb2.NetParameter()
    n.CopyFrom(net)
    n.layer[0].top[0], n.layer[0].name = 'data', 'input'
    conv = caffe_pb2.LayerParameter(name='score', type='Convolution', bottom=['data'], top=['score'])
    conv.convolution_param.num_output = C
    conv.convolution_param.kernel_size.append(1)
    n.layer.insert(1, conv)
    write_text(n, str(tmp_path / 'net.prototxt'))
    (tmp_path / 'solver.prototxt').write_text(
        f'net: "{tmp_path / "net.prototxt"}"\nbase_lr: 0.01\nlr_policy: "fixed"\nmomentum: 0.9\ndisplay: 0\n'
        f'max_iter: 100\nsnapshot_prefix: "{tmp_path / "snap"}"\nrandom_seed: {seed}\n')
    s = get_solver(str(tmp_path / 'solver.prototxt'))
    score, label = _inputs()
    s.feed = {'data': score.numpy(), 'label': label.numpy()}
    return s


def _masks(solver, steps):
    out = []
    for _ in range(steps):
        solver.step(1)
        out.append(solver.net.blobs['label_sampled'].clone())
    return out


def test_sampling_follows_the_solver_random_seed_and_resumes_exactly(tmp_path):
    a = _masks(_solver(tmp_path, seed=11), 4)
    b = _masks(_solver(tmp_path, seed=11), 4)
    c = _masks(_solver(tmp_path, seed=12), 3)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])
    assert not torch.equal(a[0], a[1])
    first = _solver(tmp_path, seed=11)
    first.step(2)
    state = first.snapshot()
    expected = _masks(first, 2)
    resumed = _solver(tmp_path, seed=99)
    resumed.restore(state)
    assert all(torch.equal(x, y) for x, y in zip(_masks(resumed, 2), expected))
    assert all(torch.equal(x, y) for x, y in zip(expected, a[2:]))


def test_sampling_settings_are_checked():
    with pytest.raises(Exception, match=r'keep must be in \(0, 1\], not 0.0'):
        Net(_net(sampling={'keep': 0.0}), phase='train')
    with pytest.raises(Exception, match='param_str needs keep'):
        Net(_net(sampling={'p': 0.5}), phase='train')


# -- class balancing ----------------------------------------------------------------------------------------------

def _tiny_weighted(weights, normalize):
    n = NetSpec()
    n.score, n.label = L.Input(ntop=2, shape=[dict(dim=[1, 3, 1, 4]), dict(dim=[1, 1, 1, 4])])
    n.loss = L.Python(n.score, n.label, module='loss_layers', layer='ClassWeightedSoftmaxLossLayer',
                      param_str=repr({'class_weights': weights, 'ignore_label': 255, 'normalize': normalize}),
                      loss_weight=1)
    net = n.to_proto()
    net.force_backward = True
    return Net(net, phase='train')


@pytest.mark.parametrize('normalize', [False, True])
def test_class_weighted_loss_and_gradient_equal_a_hand_computation(normalize):
    """Four positions, labels 0, 1, 2 and ignored; weights 0.5, 2, 1. By hand: p = softmax of each column,
    loss = -(0.5 log p_0(0) + 2 log p_1(1) + 1 log p_2(2)) / (1 summed, 3 normalized over valid positions),
    gradient w_l (p - onehot_l) / normalizer, zero in the ignored column. Agreement: float32 rounding (1e-6)."""
    s = [[1.0, 0.0, 2.0, 5.0], [0.0, 3.0, -1.0, 1.0], [-2.0, 1.0, 0.5, 0.0]]
    labels, w = [0, 1, 2, 255], [0.5, 2.0, 1.0]
    norm = 3.0 if normalize else 1.0
    loss, grad = 0.0, np.zeros((3, 4))
    for j, l in enumerate(labels):
        z = sum(math.exp(s[c][j]) for c in range(3))
        p = [math.exp(s[c][j]) / z for c in range(3)]
        if l == 255:
            continue
        loss -= w[l] * math.log(p[l])
        for c in range(3):
            grad[c, j] = w[l] * (p[c] - (c == l)) / norm
    loss /= norm
    net = _tiny_weighted(w, normalize)
    out = net.forward(score=torch.tensor(s).reshape(1, 3, 1, 4), label=torch.tensor(labels).float().reshape(1, 1, 1, 4))
    net.backward()
    assert float(out['loss'].detach().reshape(-1)[0]) == pytest.approx(loss, rel=1e-6)
    np.testing.assert_allclose(net.blobs['score'].grad.numpy().reshape(3, 4), grad, rtol=1e-6, atol=1e-7)
    assert np.all(net.blobs['score'].grad.numpy()[..., 3] == 0)


@pytest.mark.parametrize('normalize', [False, True])
def test_unit_class_weights_give_softmax_with_loss(normalize):
    score, label = _inputs()
    plain = _run(Net(_net(normalize=normalize), phase='train'), score, label)
    weighted = _run(Net(_net(weights={'class_weights': [1.0] * C, 'ignore_label': 255}, normalize=normalize),
                        phase='train'), score, label)
    torch.testing.assert_close(weighted[0].reshape(()), plain[0], rtol=1e-6, atol=0)
    torch.testing.assert_close(weighted[1], plain[1], rtol=1e-5, atol=1e-7)


def test_class_weights_must_match_the_classes():
    with pytest.raises(Exception, match='2 class_weights for 3 classes'):
        Net(_net(weights={'class_weights': [1.0, 2.0]}), phase='train')


def test_median_frequency_and_inverse_frequency_weights_by_hand():
    labels = [np.array([[0, 0, 0, 1]]), np.array([[0, 2, 2, 255]])]
    freq = count_labels(labels, 4)
    assert freq.pixels.tolist() == [4, 1, 2, 0] and freq.image_pixels.tolist() == [7, 4, 3, 0]
    # freq: 4/7, 1/4, 2/3; median 4/7
    assert class_weights(freq, 'median') == pytest.approx([1.0, 16 / 7, 6 / 7, 0.0])
    # N = 7 labelled pixels, K = 3 classes present
    assert class_weights(freq, 'inverse') == pytest.approx([7 / 12, 7 / 3, 7 / 6, 0.0])
    with pytest.raises(ValueError, match="method must be one of \\('median', 'inverse'\\)"):
        class_weights(freq, 'sqrt')
    with pytest.raises(ValueError, match='label map 0 holds the value 7'):
        count_labels([np.array([7])], 4)


def test_class_frequencies_of_a_dataset_split(tmp_path):
    from datalayers import SBDDSeg
    from datalayers.synthetic import make_voc
    from scipy.io import loadmat
    make_voc(str(tmp_path), n_train=3, n_val=1, size=(24, 32), num_classes=4)
    ds = SBDDSeg({'sbdd_dir': str(tmp_path / 'sbdd' / 'dataset'), 'split': 'train', 'mean': (0, 0, 0)})
    freq = class_frequencies(ds, 4)
    direct = np.zeros(4, dtype=np.int64)
    for idx in ds.ids:
        seg = loadmat(str(tmp_path / 'sbdd' / 'dataset' / 'cls' / f'{idx}.mat'))['GTcls'][0]['Segmentation'][0]
        direct += np.bincount(np.asarray(seg).ravel(), minlength=4)
    assert freq.pixels.tolist() == direct.tolist() and freq.images == 3
    assert isinstance(freq, ClassFrequencies)


# -- the generators' options --------------------------------------------------------------------------------------

def test_generator_loss_options_are_off_by_default_and_add_the_python_layers():
    assert fcn_vgg16(voc_data('train')) == fcn_vgg16(voc_data('train'), loss_sampling=1.0, class_weights=None)
    net = fcn_vgg16(voc_data('train'), loss_sampling=0.5, sampling_cell=32, class_weights=[1.0] * 21)
    layers = {l.name: l for l in net.layer}
    assert layers['loss_sampled'].python_param.layer == 'LossSamplingLayer'
    assert eval(layers['loss_sampled'].python_param.param_str) == {'keep': 0.5, 'ignore_label': 255, 'cell': 32}
    assert list(layers['loss'].bottom) == ['score', 'loss_sampled'] and list(layers['loss'].loss_weight) == [1.0]
    assert 'ClassWeightedSoftmaxLossLayer' in to_text(net)
    with pytest.raises(ValueError, match='keep must be in'):
        fcn_vgg16(voc_data('train'), loss_sampling=1.5)


def test_a_generated_sampled_and_weighted_net_trains_in_the_runtime():
    src = input_data(tops=('data', 'label'), shapes=[(1, 3, 36, 40), (1, 1, 36, 40)], labels=('label',))
    net = Net(fcn_vgg16(src, stride=16, num_classes=3, width=1 / 32, loss_sampling=0.5,
                        class_weights=[0.5, 1.0, 2.0]), phase='train')
    torch.manual_seed(0)
    with torch.no_grad():
        for blobs in net.params.values():
            for p in blobs:
                p.normal_(0, 0.1)
    out = net.forward(data=torch.randn(1, 3, 36, 40) * 50, label=torch.randint(0, 3, (1, 1, 36, 40)).float())
    assert math.isfinite(float(out['loss'].detach().reshape(-1)[0])) and net.loss() > 0
    net.backward()
    assert net.params['score_fr'][0].grad.abs().sum() > 0
