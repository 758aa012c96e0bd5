"""The whole paper on one CPU: `python tools/demo.py [--out DIR] [--quick]`.

Makes a synthetic VOC dataset, trains a small classifier (InnerProduct fc6/fc7/fc8), convolutionalizes it into
FCN-32s (surgery), trains FCN-32s -> FCN-16s -> FCN-8s with the reference recipe, scores each on val and prints the
paper's Table 2 for them; results.json, curves.png and predictions.png go to --out. No downloads. The steps live in
the fcndemo package.
"""
import argparse
import os
import platform
import sys

from tools._cli import UsageError, run

# The demo's figures depend on torch's CPU kernels (fcndemo/kernels.py): set before torch loads, these pin ATen's
# vectorized kernels and MKL's reproducibility branch to AVX2 (fcndemo.kernels.PINNED is what a run then reports).
KERNEL_ENV = {'ATEN_CPU_CAPABILITY': 'avx2', 'MKL_CBWR': 'AVX2'}


def pin_kernels(environ=None):
    """KERNEL_ENV's variables where unset, on x86-64 (no effect once torch is loaded: the demo prints the kernels
    it ran on and whether they are the pinned ones)."""
    environ = os.environ if environ is None else environ
    if platform.machine().lower() in ('x86_64', 'amd64'):
        for key, value in KERNEL_ENV.items():
            environ.setdefault(key, value)


def _fcndemo():
    """The package this tool runs (tests/test_demo.py reaches the demo's nets through it). Imported here, not at
    the top: pin_kernels must set its variables before fcndemo imports torch."""
    import fcndemo
    return fcndemo


def int_list(text):
    """A comma-separated option as a tuple of ints (--iters 600,300,300)."""
    return tuple(int(v) for v in text.split(','))


def float_list(text):
    """A comma-separated option as a tuple of floats (--lrs 1e-10,1e-12)."""
    return tuple(float(v) for v in text.split(','))


def add_cpu_options(ap):
    """--threads, --no-progress and --native-kernels, the options of every run on the demo's data."""
    ap.add_argument('--threads', type=int, help="torch's intra-op threads (default 1: fastest when the cores are "
                                                "shared; 0 leaves torch's choice)")
    ap.add_argument('--no-progress', action='store_true', help='no progress bars')
    ap.add_argument('--native-kernels', action='store_true',
                    help="torch's own choice of CPU kernels (oneDNN, the CPU's widest ISA): maybe faster, but the "
                         "figures then depend on the machine")


def configure(args, config, settings):
    """config(**settings) (config.quick with --quick), the unset ones (None) left at their defaults, with the
    add_cpu_options choices; UsageError for a setting the run cannot use (config.check's ValueError)."""
    kw = {k: v for k, v in dict(settings, threads=args.threads).items() if v is not None}
    if args.no_progress:
        kw['progress'] = False
    if args.native_kernels:
        kw['pinned_kernels'] = False
    cfg = config.quick(**kw) if args.quick else config(**kw)
    try:
        cfg.check()
    except ValueError as e:
        raise UsageError(e) from None
    return cfg


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='demo-output', help='output folder (default ./demo-output)')
    ap.add_argument('--quick', action='store_true', help='the shortened run (smaller data, fewer iterations)')
    ap.add_argument('--seed', type=int, default=0, help='seed of the data, the crops and the solvers (default 0)')
    ap.add_argument('--n-train', type=int, help='training images')
    ap.add_argument('--n-val', type=int, help='val images')
    ap.add_argument('--size', type=int_list, help='image side range MIN,MAX')
    ap.add_argument('--clf-iters', type=int, help='classifier iterations')
    ap.add_argument('--iters', type=int_list, help='FCN-32s,16s,8s iterations, e.g. 600,300,300')
    ap.add_argument('--lrs', type=float_list, help='FCN-32s,16s,8s fixed learning rates')
    ap.add_argument('--score-every', type=int, help='scoring interval during each stage')
    add_cpu_options(ap)
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 done, 2 usage (sizes the demo cannot run with), 3 an
    unwritable output folder."""
    return run(build_parser(), demo, argv)


def demo(args):
    if not args.native_kernels:
        pin_kernels()
    fcndemo = _fcndemo()
    cfg = configure(args, fcndemo.Config, dict(out=args.out, seed=args.seed, n_train=args.n_train, n_val=args.n_val,
                                               size=args.size, clf_iters=args.clf_iters, iters=args.iters,
                                               lrs=args.lrs, score_every=args.score_every))
    fcndemo.run(cfg)


if __name__ == '__main__':
    sys.exit(main())
