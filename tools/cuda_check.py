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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='cuda', help='the device to check (default cuda)')
    ap.add_argument('--out', default='cuda-check', help='folder for summary.json, logs and the demo (default '
                                                        './cuda-check)')
    ap.add_argument('--tiny', action='store_true', help='small sizes everywhere (checks the logic, on the CPU too)')
    ap.add_argument('--steps', help='comma-separated subset of: tests,devices,bench,fast_mode,ddp')
    args = ap.parse_args(argv)
    from devicecheck import STEPS, run_all
    steps = args.steps.split(',') if args.steps else None
    unknown = [s for s in steps or [] if s not in STEPS]
    if unknown:
        ap.error(f'unknown steps {unknown}; known: {", ".join(STEPS)}')
    summary = run_all(device=args.device, out=args.out, tiny=args.tiny, steps=steps)
    print(json.dumps({'ok': summary['ok'], 'environment': summary['environment']}))
    return 0 if summary['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
