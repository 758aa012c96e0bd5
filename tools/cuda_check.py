"""The one check a session with a GPU runs: `python tools/cuda_check.py --out cuda-check` (about 5 minutes).

Runs the test suite (its runtime tests add 'cuda' cases where torch sees a GPU), compares every thin reference net's
forward blobs and gradients on CUDA with the CPU (1e-5 / 1e-4, TF32 off), benchmarks full-width FCN-8s at 500x500 on
CUDA in fp32 and the fast modes (times, peak memory), scores the demo's FCN-8s in each precision (the fast modes'
mean-IU effect) and runs a 2-process DDP (torchrun) against iter_size 2. Prints one line per step and writes
OUT/summary.json after every step. `--device cpu --tiny` runs the same logic small on the CPU (the test suite does).
"""
import argparse
import json
import sys

from devicecheck import STEPS, CheckFailed, DeviceUnavailable, failed_steps, run_all
from tools._cli import CHECK_FAILED, UsageError, run


def _steps(text):
    """--steps: comma-separated step names, each one of STEPS."""
    names = text.split(',')
    unknown = [s for s in names if s not in STEPS]
    if unknown:
        raise argparse.ArgumentTypeError(f'unknown steps {unknown}; known: {", ".join(STEPS)}')
    return names


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='cuda', help='the device to check (default cuda)')
    ap.add_argument('--out', default='cuda-check', help='folder for summary.json, logs and the demo (default '
                                                        './cuda-check)')
    ap.add_argument('--tiny', action='store_true', help='small sizes everywhere (checks the logic, on the CPU too)')
    ap.add_argument('--steps', type=_steps, help=f'comma-separated subset of: {",".join(STEPS)}')
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 every step passed, 5 a step failed (OUT/summary.json says which
    and why), 2 usage (an unknown step, a device this machine lacks), 3 an unwritable --out."""
    return run(build_parser(), check, argv, codes=((CheckFailed, CHECK_FAILED),))


def check(args):
    try:
        summary = run_all(device=args.device, out=args.out, tiny=args.tiny, steps=args.steps)
    except DeviceUnavailable as e:
        raise UsageError(e) from None
    print(json.dumps({'ok': summary['ok'], 'environment': summary['environment']}))
    if not summary['ok']:
        raise CheckFailed(f'failed: {", ".join(failed_steps(summary))} (see {args.out}/summary.json)')


if __name__ == '__main__':
    sys.exit(main())
