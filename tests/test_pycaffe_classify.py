"""Caffe's python/classify.py, unchanged, through `python -m pycaffe` (this project's caffe.Classifier), and
caffe.Detector's detect_windows: the predictions the real Caffe gave (tests/golden/make_classify.py). The script is
read from the oracle's source, where it is. Caffe's detect.py itself also needs pandas (and, by default, selective
search), which neither the oracle nor this project has."""
import os

import numpy as np
import pytest

GOLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden', 'classify')
IMAGE = os.path.join(os.path.dirname(GOLD), 'imageset', 'images', 'a.png')
CLASSIFY = '/opt/caffe-oracle/brocolli-caffe-9.0.2/python/classify.py'


@pytest.mark.skipif(not os.path.exists(CLASSIFY), reason=f'{CLASSIFY} (the oracle source) is absent')
@pytest.mark.parametrize('flags, gold', [([], 'predictions.npy'), (['--center_only'], 'predictions_center.npy')])
def test_classify_py_predicts_what_caffe_predicted(tmp_path, capsys, flags, gold, isolated):
    from pycaffe.__main__ import main
    out = tmp_path / 'p.npy'
    status = main([CLASSIFY, IMAGE, str(out), '--model_def', os.path.join(GOLD, 'deploy.prototxt'),
                   '--pretrained_model', os.path.join(GOLD, 'weights.caffemodel'), '--images_dim', '8,8',
                   '--mean_file', os.path.join(GOLD, 'mean.npy'), '--input_scale', '0.5'] + flags)
    assert status == 0
    assert 'Classifying 1 inputs.' in capsys.readouterr().out
    np.testing.assert_allclose(np.load(out), np.load(os.path.join(GOLD, gold)), rtol=1e-5, atol=1e-7)
    assert np.load(out).shape == (1, 5)


def test_detector_classifies_windows_as_caffe_does():
    import pycaffe as caffe
    images = os.path.join(os.path.dirname(GOLD), 'imageset', 'images')
    windows = [(os.path.join(images, 'a.png'), [np.array([0, 0, 5, 6]), np.array([1, 2, 7, 9])]),
               (os.path.join(images, 'c.jpg'), [np.array([2, 2, 8, 8])])]
    det = caffe.Detector(os.path.join(GOLD, 'deploy.prototxt'), os.path.join(GOLD, 'weights.caffemodel'),
                         mean=np.load(os.path.join(GOLD, 'mean.npy')), raw_scale=255, channel_swap=(2, 1, 0))
    found = det.detect_windows(windows)
    assert [d['filename'] for d in found] == [windows[0][0]] * 2 + [windows[1][0]]
    np.testing.assert_allclose(np.array([d['prediction'] for d in found]),
                               np.load(os.path.join(GOLD, 'detections.npy')), rtol=1e-5, atol=1e-7)
    with pytest.raises(caffe.NotServed, match='selective search'):
        det.detect_selective_search([windows[0][0]])


def test_detector_context_pad_fills_the_border_with_the_raw_mean():
    import pycaffe as caffe
    det = caffe.Detector(os.path.join(GOLD, 'deploy.prototxt'), os.path.join(GOLD, 'weights.caffemodel'),
                         mean=np.array([30., 60., 90.], np.float32), raw_scale=255, channel_swap=(2, 1, 0),
                         context_pad=1)
    im = np.full((10, 10, 3), 0.5, np.float32)
    crop = det.crop(im, np.array([0, 0, 4, 4]))
    assert crop.shape == (6, 6, 3)
    np.testing.assert_allclose(crop[0, 0], np.array([90., 60., 30.]) / 255)   # out of the image: the mean
    np.testing.assert_allclose(crop[-1, -1], 0.5)
