"""Time the runtime against a hand-written nn.Module of full-width VGG16 FCN-8s (same weights, same machine).

    python tools/bench.py [--size 500] [--repeat 2] [--profile] [--caffe ENV_SH] [--device cuda] [--precision bf16]

Prints forward (TEST) and forward+backward (TRAIN) times, GFLOP/s against a large-GEMM peak measured in the same run,
the memory of a training iteration, and with --profile a per-layer table; --json writes everything.
"""
import argparse
import json
import sys

import torch

from runtime import bench
from tools._cli import device, run


def _mb(n):
    return f'{n / 2 ** 20:.0f} MB'


def print_profile(title, profile, layers, peak, log=print, backward=True):
    """A per-layer table: time and % of the GEMM peak of each convolution, other layers where they take >= 1% of
    the total, the rest summed."""
    total_f = sum(v[0] for v in profile.values())
    total_b = sum(v[1] for v in profile.values())
    log(f'{title}: per layer (best of the runs; % = GFLOP/s of the layer / GEMM peak {peak:.0f} GFLOP/s)')
    log(f'  {"layer":15s} {"fwd GFLOP":>9s} {"fwd ms":>8s} {"%peak":>6s} {"bwd GFLOP":>9s} {"bwd ms":>8s} '
        f'{"%peak":>6s}')
    rest = [0.0, 0.0]

    def pct(flops, t):
        return f'{100 * flops / t / 1e9 / peak:5.0f}%' if flops and t > 0 else '     -'

    for name, (tf, tb) in profile.items():
        ff, fb = layers.get(name, (0, 0))
        fb = fb if backward else 0
        if name not in layers and tf + tb < 0.01 * (total_f + total_b):
            rest[0] += tf
            rest[1] += tb
            continue
        log(f'  {name:15s} {ff / 1e9:9.2f} {1e3 * tf:8.1f} {pct(ff, tf)} {fb / 1e9:9.2f} {1e3 * tb:8.1f} '
            f'{pct(fb, tb)}')
    log(f'  {"other layers":15s} {"":9s} {1e3 * rest[0]:8.1f} {"":6s} {"":9s} {1e3 * rest[1]:8.1f}')
    ff = sum(v[0] for v in layers.values())
    fb = sum(v[1] for v in layers.values()) if backward else 0
    log(f'  {"total":15s} {ff / 1e9:9.2f} {1e3 * total_f:8.1f} {pct(ff, total_f)} {fb / 1e9:9.2f} '
        f'{1e3 * total_b:8.1f} {pct(fb, total_b)}')


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--size', type=int, default=500, help='input height and width (default 500)')
    ap.add_argument('--repeat', type=int, default=2, help='timed runs of each model (the best counts)')
    ap.add_argument('--caffe', metavar='ENV_SH', default=None,
                    help="also time the real Caffe: the oracle's env.sh (e.g. /opt/caffe-oracle/env.sh)")
    ap.add_argument('--threads', type=int, default=None, help='torch threads (default: torch\'s choice)')
    ap.add_argument('--device', default='cpu', type=device, help='cpu or cuda[:N] (default cpu)')
    ap.add_argument('--precision', default='fp32', choices=('fp32', 'tf32', 'bf16'),
                    help="fp32: Caffe's arithmetic (default); tf32/bf16: the opt-in fast modes (runtime.precision)")
    ap.add_argument('--memory-format', default='auto', choices=('auto', 'channels_last', 'contiguous'))
    ap.add_argument('--width', type=float, default=1.0, help='channel width of the nets (default 1: full width)')
    ap.add_argument('--profile', action='store_true', help='also time every layer, forward and backward')
    ap.add_argument('--no-memory', action='store_true', help='skip the memory figures (they run one more iteration '
                                                              'in a fresh process on the CPU)')
    ap.add_argument('--json', metavar='PATH', help='write the results as JSON')
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it (0 done, 2 usage)."""
    return run(build_parser(), time_runtime, argv)


def time_runtime(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    r = bench.run(size=args.size, repeat=args.repeat, device=args.device, precision=args.precision,
                  memory_format=args.memory_format, profile=args.profile, memory=not args.no_memory,
                  width=args.width)
    peak = r['peak_gflops']
    print(f'device {r["device"]}, precision {r["precision"]}, threads {r["threads"]}, large-GEMM peak '
          f'{peak:.1f} GFLOP/s (best of {", ".join(f"{p:.0f}" for p in r["peaks_gflops"])})')
    for key, flops in (('forward', r['flops'][0]), ('forward_backward', r['flops'][1])):
        ours, hand = r[key]
        print(f'{key:17s} runtime {ours:7.3f} s   hand-written {hand:7.3f} s   ratio {ours / hand:.3f}   '
              f'runtime {flops / ours / 1e9:6.1f} GFLOP/s ({100 * flops / ours / 1e9 / peak:.0f}% of peak), '
              f'{flops / 1e9:.0f} GFLOP')
    print(f'forward score max |runtime - hand-written|: {r["forward_max_abs_diff"]:.3g}')
    m = r.get('memory')
    if m:
        line = (f'training iteration memory: saved for backward {_mb(m["saved_for_backward"])}, blobs '
                f'{_mb(m["blobs"])}, parameters {_mb(m["params"])}, parameter diffs {_mb(m["param_grads"])}')
        if 'cuda_peak_allocated' in m:
            line += f', CUDA peak allocated {_mb(m["cuda_peak_allocated"])} (before: ' \
                    f'{_mb(m["cuda_allocated_before"])})'
        if 'rss_peak_iteration' in m:
            grow = m['rss_peak_iteration'] - m['rss_after_build']
            line += f'; fresh process: RSS {_mb(m["rss_after_build"])} after building the net, peak ' \
                    f'{_mb(m["rss_peak_iteration"])} during one iteration (+{_mb(grow)})'
        print(line)
    if args.profile:
        print_profile('forward (TEST)', r['forward_profile'], r['forward_layers'], peak, backward=False)
        print_profile('training iteration (TRAIN)', r['train_profile'], r['train_layers'], peak)
    if args.caffe:
        c = bench.caffe_times(args.caffe, size=args.size, repeat=args.repeat)
        r['caffe'] = c
        for key in ('forward', 'forward_backward'):
            ours = r[key][0]
            print(f'{key:17s} Caffe   {c[key]:7.3f} s   runtime {ours:7.3f} s   Caffe / runtime {c[key] / ours:.2f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(r, f, indent=1, default=str)


if __name__ == '__main__':
    sys.exit(main())
