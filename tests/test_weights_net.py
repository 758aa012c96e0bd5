"""Weight files through runtime.Net, and the paper's core claim: a convolutionalized classifier is the classifier,
slid over the image at stride 32."""
import os

import numpy as np
import pytest
import torch

import weights
from runtime import Net
from weights.surgery import transplant

from golden import make_weights as MW

GOLDEN = os.path.join(os.path.dirname(__file__), 'golden')




def g(name):
    return os.path.join(GOLDEN, 'weights', name)


# ------------------------------------------------------------------------------------------ files into a Net

@pytest.mark.oracle
@pytest.mark.parametrize('net', ['vgg16_thin', 'caffenet_thin', 'fcn8s_thin'])
@pytest.mark.parametrize('ext', ['caffemodel', 'caffemodel.h5'])
def test_net_loads_caffe_written_weights_bit_exactly(net, ext):
    n = Net(g(f'{net}.prototxt'), weights=g(f'caffe_{net}.{ext}'))
    want = np.load(g(f'caffe_{net}.npz'))
    assert sum(len(v) for v in n.params.values()) == len(want.files)
    for layer, blobs in n.params.items():
        for i, p in enumerate(blobs):
            assert np.array_equal(p.detach().numpy(), want[f'{layer}.{i}']), (layer, i)


@pytest.mark.oracle
@pytest.mark.parametrize('variant', ['v1', 'unpacked', 'double'])
def test_net_loads_old_encodings_as_the_real_caffe_does(variant):
    n = Net(g('vgg16_thin.prototxt'), weights=g(f'ours_vgg16_thin_{variant}.caffemodel'))
    want = np.load(g(f'caffe_read_ours_vgg16_thin_{variant}.npz'))
    for layer, blobs in n.params.items():
        for i, p in enumerate(blobs):
            assert np.array_equal(p.detach().numpy(), want[f'{layer}.{i}']), (layer, i)


@pytest.mark.parametrize('ext', ['caffemodel', 'caffemodel.h5', 'pth'])
def test_net_save_then_copy_from_restores_every_blob(tmp_path, ext):
    a = Net(g('caffenet_thin.prototxt'), weights=g('caffe_caffenet_thin.caffemodel'))
    a.save(tmp_path / f'x.{ext}')
    b = Net(g('caffenet_thin.prototxt'))
    b.copy_from(tmp_path / f'x.{ext}')
    for (na, pa), (nb, pb) in zip(a.params.items(), b.params.items()):
        assert na == nb and all(torch.equal(x, y) for x, y in zip(pa, pb))


def test_net_refuses_weights_of_another_shape_naming_the_file_layer_and_shapes(tmp_path):
    bad = weights.read_weights(g('caffe_vgg16_thin.caffemodel'))
    bad['fc6'][0] = np.zeros((16, 391), np.float32)
    weights.write_weights(tmp_path / 'bad.caffemodel', bad)
    with pytest.raises(ValueError, match=r"bad.caffemodel.*'fc6'.*\(16, 391\).*\(16, 392\)"):
        Net(g('vgg16_thin.prototxt'), weights=tmp_path / 'bad.caffemodel')


def test_v1_style_legacy_dims_load_into_a_modern_net(tmp_path):
    arrays = weights.read_weights(g('caffe_vgg16_thin.caffemodel'))
    legacy = {k: [a.reshape((1,) * (4 - a.ndim) + a.shape) for a in v] for k, v in arrays.items()}
    weights.write_weights(tmp_path / 'legacy.caffemodel', legacy)
    n = Net(g('vgg16_thin.prototxt'), weights=tmp_path / 'legacy.caffemodel')
    assert tuple(n.params['fc6'][0].shape) == (16, 392)
    assert np.array_equal(n.params['fc6'][0].detach().numpy(), arrays['fc6'][0])


# ----------------------------------------------------------------------------------- the paper's core claim

def fcn_from_classifier(h, w, pad=1, widths=MW.VGG_WIDTHS, fc=16, classes=5):
    """The classifier with fc6/fc7/fc8 as 7x7 / 1x1 / 1x1 convolutions, keeping its geometry (conv1_1 pad as in
    the classifier, not FCN's 100) and its layer names."""
    return ('name: "vgg16_fcn_thin"\n' + MW._input((1, 3, h, w)) + MW.vgg_body(pad, widths=widths, pad=pad) +
            MW._conv('fc6', 'pool5', fc, 7) + MW._relu('relu6', 'fc6') +
            MW._conv('fc7', 'fc6', fc, 1) + MW._relu('relu7', 'fc7') +
            MW._conv('fc8', 'fc7', classes, 1))


def he_weights(net, seed):
    rng = np.random.RandomState(seed)
    arrays = {}
    for name, blobs in net.params.items():
        w = blobs[0]
        fan_in = int(np.prod(w.shape[1:]))
        arrays[name] = [(rng.randn(*w.shape) * np.sqrt(2.0 / fan_in)).astype(np.float32),
                        (rng.randn(*blobs[1].shape) * 0.1).astype(np.float32)]
    net.load_arrays(arrays)


def image(h, w, seed=0):
    return torch.from_numpy(np.random.RandomState(seed).uniform(-100, 100, (1, 3, h, w)).astype(np.float32))


@pytest.fixture(scope='module')
def classifier():
    net = Net(MW.vgg16_classifier(224))
    he_weights(net, 11)
    return net


def test_transplant_coerces_the_fully_connected_layers_into_convolutions(classifier, capsys):
    fcn = Net(fcn_from_classifier(224, 224))
    transplant(fcn, classifier)
    out = capsys.readouterr().out
    assert 'coercing fc6: blob 0 (16, 392) -> (16, 8, 7, 7)' in out
    assert 'coercing fc7' in out and 'coercing fc8' in out and 'coercing conv' not in out
    assert np.array_equal(fcn.params['fc6'][0].detach().numpy().reshape(16, -1),
                          classifier.params['fc6'][0].detach().numpy())


def test_convolutionalized_classifier_gives_the_classifier_output_on_a_224_image(classifier):
    fcn = Net(fcn_from_classifier(224, 224))
    transplant(fcn, classifier, log=lambda *_: None)
    x = image(224, 224)
    with torch.no_grad():
        classifier.forward(data=x)
        want = classifier.blobs['fc8'].numpy()
        score = fcn.forward(data=x)['fc8'].numpy()
    assert np.abs(want).max() > 1e-2 and score.shape == (1, 5, 1, 1)
    np.testing.assert_allclose(score[:, :, 0, 0], want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_on_a_larger_image_each_cell_is_the_classifier_head_on_its_stride_32_window(classifier):
    """288x320 with the classifier's padding: a 3x4 map; cell (i, j) is fc6..fc8 (the classifier's own inner
    products) applied to the 7x7 pool5 window at (i, j), i.e. the 224 window at (32i, 32j)."""
    fcn = Net(fcn_from_classifier(288, 320))
    transplant(fcn, classifier, log=lambda *_: None)
    with torch.no_grad():
        score = fcn.forward(data=image(288, 320, seed=1))['fc8'].numpy()
        pool5 = fcn.blobs['pool5'].numpy()
    assert pool5.shape[2:] == (9, 10) and score.shape == (1, 5, 3, 4)
    assert np.ptp(score[0, 0]) > 1e-3 * np.abs(score).max()  # the cells differ: a real sliding window
    W = {k: [p.detach().numpy().astype(np.float64) for p in classifier.params[k]] for k in ('fc6', 'fc7', 'fc8')}
    for i in range(3):
        for j in range(4):
            v = pool5[0, :, i:i + 7, j:j + 7].reshape(-1).astype(np.float64)
            v = np.maximum(W['fc6'][0] @ v + W['fc6'][1], 0)
            v = np.maximum(W['fc7'][0] @ v + W['fc7'][1], 0)
            v = W['fc8'][0] @ v + W['fc8'][1]
            np.testing.assert_allclose(score[0, :, i, j], v, rtol=1e-4, atol=1e-4 * np.abs(v).max())


def test_without_padding_each_cell_equals_the_classifier_run_on_its_window():
    """With unpadded convolutions there is no border effect, so the FCN's 3x4 map on a (404+64)x(404+96) image
    equals the classifier itself run on the twelve 404x404 crops at stride 32."""
    size = 404  # unpadded thin VGG16: pool5 is 7x7
    clf = Net(MW.vgg16_classifier(size, pad=0))
    he_weights(clf, 12)
    fcn = Net(fcn_from_classifier(size + 64, size + 96, pad=0))
    transplant(fcn, clf, log=lambda *_: None)
    x = image(size + 64, size + 96, seed=2)
    with torch.no_grad():
        score = fcn.forward(data=x)['fc8'].numpy()
        assert score.shape == (1, 5, 3, 4) and np.ptp(score[0, 0]) > 1e-3 * np.abs(score).max()
        for i in range(3):
            for j in range(4):
                clf.forward(data=x[:, :, 32 * i:32 * i + size, 32 * j:32 * j + size])
                want = clf.blobs['fc8'].numpy()[0]
                np.testing.assert_allclose(score[0, :, i, j], want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
