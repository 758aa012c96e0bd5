"""Caffe's python/classify.py, unchanged, through `python -m pycaffe` (this project's caffe.Classifier), and
caffe.Detector's detect_windows: the predictions the real Caffe gave (tests/golden/make_classify.py). The script is
read from the oracle's source, where it is. Caffe's detect.py itself also needs pandas, which neither the oracle nor
this project has; detect_selective_search runs on a stand-in proposal module the test writes."""
import json
import os
import sys

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


def _detector():
    import pycaffe as caffe
    return caffe.Detector(os.path.join(GOLD, 'deploy.prototxt'), os.path.join(GOLD, 'weights.caffemodel'),
                          mean=np.load(os.path.join(GOLD, 'mean.npy')), raw_scale=255, channel_swap=(2, 1, 0))


STAND_IN = """
import json, os
def get_windows(image_fnames, cmd='selective_search'):
    with open(os.path.join(os.path.dirname(__file__), 'calls.json'), 'a') as f:
        f.write(json.dumps([list(image_fnames), cmd]) + '\\n')
    return [[[0, 0, 5, 6], [1, 2, 7, 9]] for _ in image_fnames]
"""


def test_detect_selective_search_detects_the_windows_the_module_proposes(tmp_path, monkeypatch):
    (tmp_path / 'selective_search_ijcv_with_python.py').write_text(STAND_IN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, 'selective_search_ijcv_with_python', raising=False)
    images = os.path.join(os.path.dirname(GOLD), 'imageset', 'images')
    monkeypatch.chdir(images)
    found = _detector().detect_selective_search(['a.png'])
    a = os.path.join(images, 'a.png')
    assert json.loads((tmp_path / 'calls.json').read_text()) == [[a], 'selective_search_rcnn']   # absolute paths
    assert [(d['filename'], list(d['window'])) for d in found] == [(a, [0, 0, 5, 6]), (a, [1, 2, 7, 9])]
    np.testing.assert_allclose(np.array([d['prediction'] for d in found]),
                               np.load(os.path.join(GOLD, 'detections.npy'))[:2], rtol=1e-5, atol=1e-7)


def test_detect_selective_search_without_the_module_is_caffes_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'selective_search_ijcv_with_python', None)
    with pytest.raises(ImportError, match='selective_search_ijcv_with_python'):
        _detector().detect_selective_search(['a.png'])


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
