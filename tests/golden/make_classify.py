"""Golden outputs of Caffe's python/classify.py (the oracle's source, run unchanged in the oracle). Run from the
project root:

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_classify.py'

Writes tests/golden/classify/: weights.caffemodel (seeded, for deploy.prototxt: Input 2x3x6x6, conv, ReLU,
InnerProduct, Softmax), mean.npy (a per-channel mean), and the predictions classify.py saves for
tests/golden/imageset/images/a.png at --images_dim 8,8 with that mean, --input_scale 0.5: predictions.npy
(oversampled: ten crops averaged) and predictions_center.npy (--center_only); detections.npy: caffe.Detector's
detect_windows predictions for the windows WINDOWS names (mean, raw_scale 255, channel swap; no context_pad,
whose float indices Caffe's detector.py cannot use under Python 3). Never import the project here.
"""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'classify')
CLASSIFY = '/opt/caffe-oracle/brocolli-caffe-9.0.2/python/classify.py'


def main():
    import caffe
    net = caffe.Net(os.path.join(OUT, 'deploy.prototxt'), caffe.TEST)
    rng = np.random.RandomState(11)
    for blobs in net.params.values():
        for b in blobs:
            b.data[...] = rng.randn(*b.data.shape) * 0.1
    net.save(os.path.join(OUT, 'weights.caffemodel'))
    np.save(os.path.join(OUT, 'mean.npy'), np.array([104.0, 117.0, 123.0], np.float32))
    image = os.path.join(HERE, 'imageset', 'images', 'a.png')
    common = ['--model_def', os.path.join(OUT, 'deploy.prototxt'), '--pretrained_model',
              os.path.join(OUT, 'weights.caffemodel'), '--images_dim', '8,8', '--mean_file',
              os.path.join(OUT, 'mean.npy'), '--input_scale', '0.5']
    subprocess.run([sys.executable, CLASSIFY, image, os.path.join(OUT, 'predictions.npy')] + common, check=True)
    subprocess.run([sys.executable, CLASSIFY, image, os.path.join(OUT, 'predictions_center.npy'), '--center_only']
                   + common, check=True)
    det = caffe.Detector(os.path.join(OUT, 'deploy.prototxt'), os.path.join(OUT, 'weights.caffemodel'),
                         mean=np.load(os.path.join(OUT, 'mean.npy')), raw_scale=255, channel_swap=(2, 1, 0))
    images = os.path.join(HERE, 'imageset', 'images')
    found = det.detect_windows(WINDOWS(images))
    np.save(os.path.join(OUT, 'detections.npy'), np.array([d['prediction'] for d in found]))
    print('wrote', sorted(os.listdir(OUT)))


def WINDOWS(images):
    """The windows detections.npy holds the predictions of, in order."""
    return [(os.path.join(images, 'a.png'), [np.array([0, 0, 5, 6]), np.array([1, 2, 7, 9])]),
            (os.path.join(images, 'c.jpg'), [np.array([2, 2, 8, 8])])]


if __name__ == '__main__':
    main()
