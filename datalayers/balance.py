"""Class-balancing weights from a training set's label frequencies (CVPR 2015 sec. 4.3, "Class balancing").

The paper says that fully convolutional training "can balance classes by weighting or sampling the loss" and that
it found balancing unnecessary; it names no weighting rule. Two standard rules are offered:

- 'median' (median frequency balancing, Eigen & Fergus, ICCV 2015, the rule segmentation nets of the time used):
  freq(c) = pixels of class c / labelled pixels of the images in which c occurs, w(c) = median_c freq / freq(c);
- 'inverse' (inverse frequency, scaled to keep the loss's size): w(c) = N / (K n(c)), with n(c) the pixels of
  class c, N all labelled pixels and K the number of classes that occur, so sum_c n(c) w(c) = N.

Pixels with the ignore label are not counted; classes that never occur get weight 0 (they contribute no terms).
The weights go to the ClassWeightedSoftmaxLossLayer (datalayers.loss_layers) through the generators'
`class_weights` option.

    freq = class_frequencies(dataset, num_classes)       # one pass over the split's labels
    weights = class_weights(freq, 'median')
"""
import dataclasses

import numpy as np

METHODS = ('median', 'inverse')


@dataclasses.dataclass
class ClassFrequencies:
    pixels: np.ndarray          # (C,) labelled pixels of each class
    image_pixels: np.ndarray    # (C,) labelled pixels of the images in which each class occurs
    images: int                 # images counted


def count_labels(labels, num_classes, ignore_label=255, where='labels'):
    """ClassFrequencies of an iterable of label maps (arrays of class ids)."""
    pixels = np.zeros(num_classes, dtype=np.int64)
    image_pixels = np.zeros(num_classes, dtype=np.int64)
    images = 0
    for i, label in enumerate(labels):
        lab = np.asarray(label).astype(np.int64).ravel()
        if ignore_label is not None:
            lab = lab[lab != ignore_label]
        bad = (lab < 0) | (lab >= num_classes)
        if bad.any():
            raise ValueError(f'{where}: label map {i} holds the value {lab[bad][0]}, outside [0, {num_classes}) and '
                             f'not the ignore label {ignore_label}')
        counts = np.bincount(lab, minlength=num_classes)
        pixels += counts
        image_pixels[counts > 0] += lab.size
        images += 1
    return ClassFrequencies(pixels, image_pixels, images)


def class_frequencies(dataset, num_classes, top='label', ignore_label=255, limit=None):
    """ClassFrequencies of a datalayers dataset's split (its `top` label, every sample or the first `limit`)."""
    if top not in dataset.tops:
        raise ValueError(f'{dataset.layer}: no label top {top!r} (tops: {list(dataset.tops)})')
    k = dataset.tops.index(top)
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    return count_labels((dataset.load(i)[k] for i in range(n)), num_classes, ignore_label,
                        where=f'{dataset.layer} split {dataset.split!r}')


def class_weights(freq, method='median'):
    """Per-class loss weights (a list of floats) from ClassFrequencies by `method` ('median' or 'inverse')."""
    if method not in METHODS:
        raise ValueError(f'class_weights: method must be one of {METHODS}, not {method!r}')
    present = freq.pixels > 0
    if not present.any():
        raise ValueError('class_weights: no labelled pixel was counted')
    w = np.zeros(freq.pixels.shape, dtype=np.float64)
    if method == 'median':
        f = freq.pixels[present] / freq.image_pixels[present]
        w[present] = np.median(f) / f
    else:
        w[present] = freq.pixels.sum() / (present.sum() * freq.pixels[present])
    return w.tolist()
