"""Surgery from a classifier into a run's first stage (fcnapps.owndata.classifier_surgery): the trunk and fc6/fc7
transplanted and named, the class scores discarded, the first conv fitted to the dataset's channels, the score
layers at their fillers, bilinear deconvolutions; a classifier that does not fit is one error naming the layer."""
import numpy as np
import pytest
import torch

import fcnapps  # noqa: F401
from fcnapps import owndata
from netspec import table1, write_text
from runtime import Net
from weights.errors import WeightsError
from weights.io import read_weights
from weights.surgery import upsample_filt

from test_ownrecipe_nets import toy_family

WIDTH = 1 / 16


pytestmark = pytest.mark.usefixtures('one_torch_thread')


def classifier(tmp_path, arch='FCN-VGG16', width=WIDTH, seed=0):
    torch.manual_seed(seed)
    net_param = table1.classifier_net(arch, batch=1, num_classes=10, width=width)
    prototxt, weights = str(tmp_path / f'{arch}-{width}.prototxt'), str(tmp_path / f'{arch}-{width}.caffemodel')
    write_text(net_param, prototxt)
    Net(net_param, phase='train').save(weights)
    return prototxt, weights


def run_folder(tmp_path, channels=3, arch='vgg16'):
    fam = toy_family(channels)
    run = owndata.make_run(fam, str(tmp_path / 'dataset.json'), 8, arch=arch, width=WIDTH)
    owndata.write_run(run, fam, str(tmp_path / 'run'))
    return str(tmp_path / 'run' / run['stages'][0]['name'] / 'train.prototxt')


def test_the_trunk_is_transplanted_and_named_and_the_head_left_at_its_fillers(tmp_path):
    fcn = run_folder(tmp_path)
    prototxt, weights = classifier(tmp_path)
    lines = []
    written = owndata.classifier_surgery(fcn, prototxt, weights, str(tmp_path / 'init.caffemodel'),
                                         log=lines.append)
    assert written[:2] == ['conv1_1', 'conv1_2'] and written[-2:] == ['fc6', 'fc7'] and len(written) == 15
    text = '\n'.join(lines)
    assert 'transplanted: conv1_1, conv1_2' in text and 'discarding fc8' in text
    assert 'coercing fc6' in text and 'left at their fillers: score_fr, upscore' in text
    out, src = read_weights(str(tmp_path / 'init.caffemodel')), read_weights(weights)
    np.testing.assert_array_equal(out['conv3_2'][0], src['conv3_2'][0])
    np.testing.assert_array_equal(out['fc6'][0].reshape(src['fc6'][0].shape), src['fc6'][0])
    assert not out['score_fr'][0].any()
    np.testing.assert_array_equal(out['upscore'][0][1, 1], upsample_filt(64).astype(np.float32))
    assert not out['upscore'][0][0, 1].any()


@pytest.mark.parametrize('channels', [1, 4])
def test_the_first_conv_is_fitted_to_the_dataset_channels_with_a_logged_line(tmp_path, channels):
    fcn = run_folder(tmp_path, channels)
    prototxt, weights = classifier(tmp_path)
    lines = []
    owndata.classifier_surgery(fcn, prototxt, weights, str(tmp_path / 'init.caffemodel'), channels=channels,
                               log=lines.append)
    w = read_weights(str(tmp_path / 'init.caffemodel'))['conv1_1'][0]
    src = read_weights(weights)['conv1_1'][0]
    assert w.shape == (src.shape[0], channels) + src.shape[2:]
    assert any(l.startswith('conv1_1: the classifier takes 3 channels, the dataset %d' % channels) for l in lines)
    if channels == 4:
        np.testing.assert_array_equal(w[:, :3], src)
        np.testing.assert_allclose(w[:, 3], src.mean(axis=1), rtol=1e-6)


def test_a_gray_image_gets_the_classifier_response_to_it_repeated_on_three_channels():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 3, 3, 3)).astype(np.float32)
    gray = rng.normal(size=(1, 1, 9, 9)).astype(np.float32)
    fitted, line = owndata.fit_first_conv(w, 1, 'conv1_1')
    ours = torch.nn.functional.conv2d(torch.from_numpy(gray), torch.from_numpy(fitted))
    theirs = torch.nn.functional.conv2d(torch.from_numpy(np.repeat(gray, 3, axis=1)), torch.from_numpy(w))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    assert owndata.fit_first_conv(w, 3)[1] is None


def test_a_classifier_of_another_trunk_is_one_error_naming_the_layer(tmp_path):
    fcn = run_folder(tmp_path)
    prototxt, weights = classifier(tmp_path, 'FCN-AlexNet')
    with pytest.raises(WeightsError, match=r"no layer 'conv1_1' of the FCN's FCN-VGG16 trunk") as e:
        owndata.classifier_surgery(fcn, prototxt, weights, str(tmp_path / 'init.caffemodel'), log=lambda l: None)
    assert weights in str(e.value) and '\n' not in str(e.value)
    assert not (tmp_path / 'init.caffemodel').exists()


def test_a_classifier_of_another_width_is_one_error_naming_the_layer_and_shapes(tmp_path):
    fcn = run_folder(tmp_path)
    prototxt, weights = classifier(tmp_path, width=1 / 8)
    with pytest.raises(WeightsError, match=r"does not fit .*layer 'conv1_1' blob 0 has shape \(8, 3, 3, 3\)"):
        owndata.classifier_surgery(fcn, prototxt, weights, str(tmp_path / 'init.caffemodel'), log=lambda l: None)


def test_alexnet_and_googlenet_classifiers_fit_their_runs(tmp_path):
    for arch, name, discarded in (('alexnet', 'FCN-AlexNet', 'fc8'),
                                  ('googlenet', 'FCN-GoogLeNet', 'loss3/classifier')):
        fcn = run_folder(tmp_path / arch, arch=arch)
        prototxt, weights = classifier(tmp_path, name)
        lines = []
        written = owndata.classifier_surgery(fcn, prototxt, weights, str(tmp_path / f'{arch}.caffemodel'),
                                             arch=arch, log=lines.append)
        assert 'score_fr' not in written and f'discarding {discarded} (the classifier\'s class scores)' in lines
