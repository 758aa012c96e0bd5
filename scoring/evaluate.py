"""Scoring a net over its split: compute_hist and seg_tests as in the reference score.py, and multi-head
scoring (every SoftmaxWithLoss layer names a score blob and its ground-truth blob) for score.py and solvers.

The net is a runtime.Net whose data layer reads its own split sequentially (test order), so N forward passes
visit the first N ids of the split file. Argmax and label conversion run on the net's device; only the
uint8 maps come back to the CPU.
"""
import os
import sys
from datetime import datetime

import numpy as np
import torch
from tqdm import tqdm

from datalayers.palette import save_indexed_png

from .metrics import fast_hist, scores

__all__ = ['heads', 'compute_hists', 'compute_hist', 'format_seg_tests', 'do_seg_tests_heads', 'do_seg_tests',
           'seg_tests_heads', 'seg_tests']


def _numpy(x):
    if hasattr(x, 'detach'):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _argmax_map(score):
    """Per-pixel argmax over channels of a 1 x C x H x W score blob -> H x W (uint8 when C <= 256)."""
    if hasattr(score, 'detach'):
        m = score.detach()[0].argmax(0)
        if score.shape[1] <= 256:
            m = m.to(torch.uint8)
        return m.cpu().numpy()
    m = np.asarray(score)[0].argmax(0)
    return m.astype(np.uint8) if np.asarray(score).shape[1] <= 256 else m


def _label_map(gt):
    """The 1 x 1 x H x W float label blob -> H x W uint8 (values 0..255 are exact in float32)."""
    if hasattr(gt, 'detach'):
        g = gt.detach()[0, 0]
        ok = (g >= 0) & (g < 256)
        return torch.where(ok, g, torch.full_like(g, 255)).to(torch.uint8).cpu().numpy()
    g = np.asarray(gt)[0, 0]
    return np.where((g >= 0) & (g < 256), g, 255).astype(np.uint8)


def heads(net_param):
    """(score blob, gt blob, loss top) for every SoftmaxWithLoss layer of a NetParameter, in net order."""
    out = []
    for layer in net_param.layer:
        if layer.type == 'SoftmaxWithLoss' and len(layer.bottom) >= 2:
            out.append((layer.bottom[0], layer.bottom[1], layer.top[0] if layer.top else None))
    return out


def _ids(dataset):
    if isinstance(dataset, int):
        return [str(i) for i in range(dataset)]
    return list(dataset)


def compute_hists(net, dataset, pairs, save_dir=None, progress=True, desc='scoring'):
    """Run one forward per id of `dataset` (ids, or a count) and accumulate a confusion matrix per
    (score blob, gt blob, loss blob) in `pairs`. Returns [(hist, mean loss or None)] in pairs' order.
    save_dir: the first pair's argmax maps are written there as <id>.png (paletted, VOC palette)."""
    ids = _ids(dataset)
    hists = [None] * len(pairs)
    losses = [0.0] * len(pairs)
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
    it = ids
    if progress:
        it = tqdm(ids, desc=desc, unit='img', file=sys.stderr, dynamic_ncols=True)
    for idx in it:
        net.forward()
        for k, (layer, gt, loss) in enumerate(pairs):
            score = net.blobs[layer]
            n = int(score.shape[1])
            pred = _argmax_map(score)
            h = fast_hist(_label_map(net.blobs[gt]), pred, n)
            hists[k] = h if hists[k] is None else hists[k] + h
            if loss is not None and loss in net.blobs:
                losses[k] += float(_numpy(net.blobs[loss]).reshape(-1)[0])
            if save_dir and k == 0:
                save_indexed_png(os.path.join(save_dir, f'{idx}.png'), pred)
    return [(h, (l / len(ids) if pairs[k][2] is not None else None)) for k, (h, l) in enumerate(zip(hists, losses))]


def compute_hist(net, save_dir, dataset, layer='score', gt='label', loss='loss', progress=False):
    """The reference compute_hist: (confusion matrix, mean of the `loss` blob) over len(dataset) forwards."""
    (hist, mean_loss), = compute_hists(net, dataset, [(layer, gt, loss)], save_dir, progress=progress)
    return hist, mean_loss


def format_seg_tests(iteration, loss, hist, exclude=(), now=None):
    """The reference do_seg_tests lines ('>>> <time> Iteration <it> <metric> <value>')."""
    s = scores(hist, exclude)
    now = now or datetime.now()
    rows = [('loss', loss), ('overall accuracy', s['overall_acc']), ('mean accuracy', s['mean_acc']),
            ('mean IU', s['mean_iu']), ('fwavacc', s['fwavacc'])]
    return [f'>>> {now} Iteration {iteration} {name} {value}' for name, value in rows]


def format_absent(head, hist, absent):
    """The line that follows a head's seg-tests lines when the paper leaves classes out of its averages."""
    return (f'>>> {head} without the classes absent from the split {list(absent)}: '
            f'mean IU {scores(hist, absent)["mean_iu"]}')


def do_seg_tests_heads(net, iteration, save_format, dataset, pairs, exclude=(), absent=None, out=None,
                       progress=False):
    """Score `net` over `dataset` for every (score blob, gt blob, loss blob) in `pairs` in one pass; print each
    head's five reference lines (metrics without the classes in `exclude`), followed, for a head whose gt blob
    `absent` ({gt blob: class ids}) maps to classes, by its mean IU without them. Returns [(hist, mean loss)].
    save_format: '{}'-format of the folder for the first head's prediction PNGs (formatted with the iteration)."""
    save_dir = save_format.format(iteration) if save_format else None
    out = out or sys.stdout
    results = compute_hists(net, dataset, pairs, save_dir, progress=progress)
    for (_, gt, _), (hist, mean_loss) in zip(pairs, results):
        for line in format_seg_tests(iteration, mean_loss, hist, exclude):
            print(line, file=out)
        if absent and absent.get(gt):
            print(format_absent(gt, hist, absent[gt]), file=out)
    return results


def do_seg_tests(net, iteration, save_format, dataset, layer='score', gt='label', loss='loss', exclude=(),
                 out=None):
    """Score `net` over `dataset`, print the reference's five lines, return the confusion matrix."""
    (hist, _), = do_seg_tests_heads(net, iteration, save_format, dataset, [(layer, gt, loss)], exclude, out=out)
    return hist


def _share_weights(solver):
    """Test net 0 with the training net's current weights: solver.share_weights() (solvers.Solver), else
    test_net.share_with(net), else a copy of the weights."""
    test_net = solver.test_nets[0]
    if hasattr(solver, 'share_weights'):
        solver.share_weights()
    elif hasattr(test_net, 'share_with'):
        test_net.share_with(solver.net)
    else:
        test_net.load_arrays(solver.net.to_arrays(), source='training net')
    return test_net


def seg_tests_heads(solver, save_format, dataset, pairs, exclude=(), absent=None, out=None, progress=False):
    """The reference seg_tests for every head in `pairs`: 'Begin seg tests', test net 0 shares the training
    net's weights, then do_seg_tests_heads at the solver's current iteration (no autograd). The one scoring path
    of seg_tests and of fcnapps.recipe."""
    print('>>>', datetime.now(), 'Begin seg tests', file=out or sys.stdout)
    test_net = _share_weights(solver)
    with torch.no_grad():
        return do_seg_tests_heads(test_net, solver.iter, save_format, dataset, pairs, exclude, absent, out,
                                  progress)


def seg_tests(solver, save_format, dataset, layer='score', gt='label', loss='loss', exclude=(), out=None):
    """The reference seg_tests (one head): returns the confusion matrix."""
    (hist, _), = seg_tests_heads(solver, save_format, dataset, [(layer, gt, loss)], exclude, out=out)
    return hist
