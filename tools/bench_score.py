"""Benchmark the scoring library: confusion matrices of N VOC-sized label maps (500x375) against predictions,
and the metrics from them. Prints the metric time (accumulating the matrix plus the four metrics) as wall and CPU
seconds (on a shared machine the CPU figure is the stable one); making the synthetic maps is not timed.

    python tools/bench_score.py [--images 1449] [--classes 21]
"""
import argparse
import sys
import time

import numpy as np

from scoring import fast_hist, scores
from tools._cli import run


def make_pairs(k, n, h, w, seed=0):
    """k distinct (label, prediction) pairs: blocky class regions with 255 borders, predictions ~75% right."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(k):
        coarse = rng.integers(0, n, (h // 25 + 1, w // 25 + 1)).astype(np.uint8)
        label = np.kron(coarse, np.ones((25, 25), np.uint8))[:h, :w].copy()
        edge = np.zeros((h, w), bool)
        edge[:, 1:] |= label[:, 1:] != label[:, :-1]
        edge[1:] |= label[1:] != label[:-1]
        label[edge] = 255
        pred = np.where(rng.random((h, w)) < 0.75, label, rng.integers(0, n, (h, w))).astype(np.uint8)
        pred[pred >= n] = 0
        pairs.append((label, pred))
    return pairs


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--images', type=int, default=1449, help='number of label maps (default: VOC2012 val, 1449)')
    ap.add_argument('--classes', type=int, default=21)
    ap.add_argument('--height', type=int, default=375)
    ap.add_argument('--width', type=int, default=500)
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it (0 done, 2 usage)."""
    return run(build_parser(), time_metrics, argv)


def time_metrics(args):
    pairs = make_pairs(min(16, args.images), args.classes, args.height, args.width)
    t0, c0 = time.perf_counter(), time.process_time()
    hist = np.zeros((args.classes, args.classes), np.int64)
    for i in range(args.images):
        label, pred = pairs[i % len(pairs)]
        hist += fast_hist(label, pred, args.classes)
    s = scores(hist)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    px = args.images * args.height * args.width
    print(f'{args.images} label maps of {args.width}x{args.height} ({px / 1e6:.1f} M pixels), {args.classes} classes')
    print(f'metric time {dt:.3f} s wall, {cpu:.3f} s CPU ({px / dt / 1e6:.0f} M pixels/s)')
    print(f"pixel acc. {100 * s['overall_acc']:.2f}  mean acc. {100 * s['mean_acc']:.2f}  "
          f"mean IU {100 * s['mean_iu']:.2f}  f.w. IU {100 * s['fwavacc']:.2f}")


if __name__ == '__main__':
    sys.exit(main())
