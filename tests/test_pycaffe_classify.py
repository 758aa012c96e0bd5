"""Caffe's python/classify.py, unchanged, through `python -m pycaffe` (this project's caffe.Classifier): the
predictions the real Caffe's run of the same script saved (tests/golden/make_classify.py). The script is read from
the oracle's source, where it is; Caffe's detect.py needs caffe.Detector, which is not served."""
import os

import numpy as np
import pytest

GOLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden', 'classify')
IMAGE = os.path.join(os.path.dirname(GOLD), 'imageset', 'images', 'a.png')
CLASSIFY = '/opt/caffe-oracle/brocolli-caffe-9.0.2/python/classify.py'

pytestmark = pytest.mark.skipif(not os.path.exists(CLASSIFY), reason=f'{CLASSIFY} (the oracle source) is absent')


@pytest.mark.parametrize('flags, gold', [([], 'predictions.npy'), (['--center_only'], 'predictions_center.npy')])
def test_classify_py_predicts_what_caffe_predicted(tmp_path, capsys, flags, gold):
    from pycaffe.__main__ import main
    out = tmp_path / 'p.npy'
    status = main([CLASSIFY, IMAGE, str(out), '--model_def', os.path.join(GOLD, 'deploy.prototxt'),
                   '--pretrained_model', os.path.join(GOLD, 'weights.caffemodel'), '--images_dim', '8,8',
                   '--mean_file', os.path.join(GOLD, 'mean.npy'), '--input_scale', '0.5'] + flags)
    assert status == 0
    assert 'Classifying 1 inputs.' in capsys.readouterr().out
    np.testing.assert_allclose(np.load(out), np.load(os.path.join(GOLD, gold)), rtol=1e-5, atol=1e-7)
    assert np.load(out).shape == (1, 5)
