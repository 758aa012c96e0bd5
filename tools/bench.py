"""Time the runtime against a hand-written nn.Module of full-width VGG16 FCN-8s (same weights, same machine).

    python tools/bench.py [--size 500] [--repeat 2]
"""
import argparse
import sys

import torch

from runtime import bench
from tools._cli import run


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--size', type=int, default=500, help='input height and width (default 500)')
    ap.add_argument('--repeat', type=int, default=2, help='timed runs of each model (the best counts)')
    ap.add_argument('--caffe', metavar='ENV_SH', default=None,
                    help="also time the real Caffe: the oracle's env.sh (e.g. /opt/caffe-oracle/env.sh)")
    ap.add_argument('--threads', type=int, default=None, help='torch threads (default: torch\'s choice)')
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it (0 done, 2 usage)."""
    return run(build_parser(), time_runtime, argv)


def time_runtime(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    r = bench.run(size=args.size, repeat=args.repeat)
    peak = r['peak_gflops']
    print(f'threads: {torch.get_num_threads()}, large-GEMM peak: {peak:.1f} GFLOP/s')
    for key, flops in (('forward', r['flops'][0]), ('forward_backward', r['flops'][1])):
        ours, hand = r[key]
        print(f'{key:17s} runtime {ours:7.3f} s   hand-written {hand:7.3f} s   ratio {ours / hand:.3f}   '
              f'runtime {flops / ours / 1e9:6.1f} GFLOP/s ({100 * flops / ours / 1e9 / peak:.0f}% of peak), '
              f'{flops / 1e9:.0f} GFLOP')
    print(f'forward score max |runtime - hand-written|: {r["forward_max_abs_diff"]:.3g}')
    if args.caffe:
        c = bench.caffe_times(args.caffe, size=args.size, repeat=args.repeat)
        for key in ('forward', 'forward_backward'):
            ours = r[key][0]
            print(f'{key:17s} Caffe   {c[key]:7.3f} s   runtime {ours:7.3f} s   Caffe / runtime {c[key] / ours:.2f}')


if __name__ == '__main__':
    sys.exit(main())
