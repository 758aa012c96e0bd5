"""The confusion matrix and the paper's four metrics, as the reference score.py computes them.

H[i, j] counts pixels of ground-truth class i predicted as j. Ground-truth values outside [0, n) (255 = void,
and any other out-of-range value) are skipped. With t_i = sum_j H[i, j] and p_j = sum_i H[i, j]:
overall accuracy = sum_i H[i, i] / sum_i t_i; mean accuracy = nanmean_i H[i, i] / t_i (classes absent from the
ground truth are NaN and skipped); IU_i = H[i, i] / (t_i + p_i - H[i, i]) (NaN only when absent from both ground
truth and prediction; a class predicted but absent from the ground truth has IU 0); mean IU = nanmean_i IU_i;
frequency-weighted IU = sum over t_i > 0 of t_i / sum t * IU_i.
"""
import warnings

import numpy as np

#: the paper's four metrics (sec. 5), in its tables' order: the keys scores() gives them, the one list every
#: report, table and history reads
METRICS = ('overall_acc', 'mean_acc', 'mean_iu', 'fwavacc')
#: the tables' column label of each metric
METRIC_LABELS = {'overall_acc': 'pixel acc.', 'mean_acc': 'mean acc.', 'mean_iu': 'mean IU', 'fwavacc': 'f.w. IU'}


def fast_hist(a, b, n):
    """n x n confusion matrix (int64) of ground truth `a` against prediction `b` (any shapes of equal size).

    Same result as the reference's bincount(n * a[k] + b[k]) with k = (0 <= a < n), computed (for uint8
    labels) with 16-bit indices and no mask, since a skipped label's index already falls past the n*n cells.
    Predictions outside [0, n) are an error (the reference would count them in a wrong cell)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.size != b.size:
        raise ValueError(f'fast_hist: label has {a.size} pixels but prediction has {b.size}')
    a, b = a.ravel(), b.ravel()
    if b.size and b.dtype.kind == 'i' and b.min() < 0:
        raise ValueError('fast_hist: predictions must be class ids in [0, n); found negative values')
    if b.size and b.max() >= n:
        raise ValueError(f'fast_hist: predictions must be class ids in [0, {n}); found {b.max()}')
    if b.dtype.kind == 'f':
        b = b.astype(np.int64)
    if a.dtype == np.uint8 and n <= 255 and b.dtype.itemsize <= 2:
        # fast path: n * a + b in 16 bits; a void/out-of-range label (n <= a <= 255) lands at n * n or beyond
        idx = np.multiply(a, np.uint16(n), dtype=np.uint16)
        np.add(idx, b, out=idx, casting='unsafe')
        counts = np.bincount(idx, minlength=n * n)
        return counts[:n * n].reshape(n, n)
    valid = (a < n) if a.dtype.kind == 'u' else (a >= 0) & (a < n)
    if a.dtype.kind == 'f':
        a = np.where(valid, a, 0)
    idx = a.astype(np.int64)
    idx *= n
    idx += b.astype(np.int64, copy=False)
    idx[~valid] = n * n
    counts = np.bincount(idx, minlength=n * n + 1)
    return counts[:n * n].reshape(n, n)


def per_class(hist):
    """(per-class accuracy, per-class IU) as float64 arrays, NaN where undefined."""
    hist = np.asarray(hist, dtype=np.float64)
    diag, t, p = np.diag(hist), hist.sum(1), hist.sum(0)
    with np.errstate(divide='ignore', invalid='ignore'):
        return diag / t, diag / (t + p - diag)


def scores(hist, exclude=()):
    """The four metrics (fractions, not percent) and the per-class values from a confusion matrix.

    `exclude`: class ids left out of the class averages (mean accuracy, mean IU, f.w. IU), as the paper does
    for SIFT Flow's cow, desert and moon (absent from its test set); their pixels still count in every other
    class's counts and in the overall accuracy."""
    hist = np.asarray(hist, dtype=np.float64)
    n = hist.shape[0]
    acc_c, iu_c = per_class(hist)
    keep = np.ones(n, bool)
    keep[list(exclude)] = False
    total = hist.sum()
    freq = hist.sum(1) / total if total else np.zeros(n)
    with np.errstate(invalid='ignore'):
        overall = np.diag(hist).sum() / total if total else float('nan')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # nanmean of all-NaN gives NaN, as the reference
        mean_acc = float(np.nanmean(acc_c[keep])) if keep.any() else float('nan')
        mean_iu = float(np.nanmean(iu_c[keep])) if keep.any() else float('nan')
    f = keep & (freq > 0)
    fwavacc = float((freq[f] * iu_c[f]).sum())
    return {'overall_acc': float(overall), 'mean_acc': mean_acc, 'mean_iu': mean_iu, 'fwavacc': fwavacc,
            'per_class_acc': acc_c.tolist(), 'per_class_iu': iu_c.tolist(), 'excluded': sorted(int(i) for i in exclude),
            'pixels': int(total)}
