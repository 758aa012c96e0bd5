"""The whole paper on one CPU: `python tools/demo.py [--out DIR] [--quick]`.

Makes a synthetic VOC dataset, trains a small classifier (InnerProduct fc6/fc7/fc8), convolutionalizes it into
FCN-32s (surgery), trains FCN-32s -> FCN-16s -> FCN-8s with the reference recipe, scores each on val and prints the
paper's Table 2 for them; results.json, curves.png and predictions.png go to --out. No downloads. The steps live in
the fcndemo package.
"""
import argparse
import os
import platform
import subprocess
import sys

from tools._cli import UsageError, no_abbreviations, run

# The demo's figures depend on torch's CPU kernels (fcndemo/kernels.py): set before torch loads, these pin ATen's
# vectorized kernels to AVX2 and MKL to its COMPATIBLE branch, the one branch Intel documents as giving the same
# results on Intel and non-Intel CPUs (fcndemo.kernels.PINNED is what a run then reports).
KERNEL_ENV = {'ATEN_CPU_CAPABILITY': 'avx2', 'MKL_CBWR': 'COMPATIBLE'}


def pinned_environment(environ):
    """A copy of `environ` with KERNEL_ENV's variables added where unset, on x86-64 (elsewhere an unchanged copy)."""
    env = dict(environ)
    if platform.machine().lower() in ('x86_64', 'amd64'):
        for key, value in KERNEL_ENV.items():
            env.setdefault(key, value)
    return env


def needs_pinning(environ):
    """Whether a run in a process with `environ` would miss one of KERNEL_ENV's variables (a value the user set
    stays: it is their choice)."""
    return pinned_environment(environ) != dict(environ)


def run_pinned(module, argv, prog):
    """Run MODULE's main(ARGV) in a child Python whose environment pins the kernels, its messages under the name
    `prog`, and return its exit status.

    The variables must be set before torch loads, and this process's own environment stays as it is (a test or a
    script that calls main() keeps its kernels and its children's)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = pinned_environment(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([root] + [p for p in [env.get('PYTHONPATH')] if p])
    code = f'import sys; sys.argv[0] = {prog!r}; from {module} import main; sys.exit(main())'
    child = subprocess.Popen([sys.executable, '-c', code, *argv], env=env)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:   # the child got the same Ctrl-C: let it finish what it does on one
            continue


def main_on_pinned_kernels(module, parser, body, argv=None):
    """tools/_cli.run, in a child process with the pinned kernels unless --native-kernels is given or the
    environment already pins them."""
    argv = sys.argv[1:] if argv is None else list(argv)
    no_abbreviations(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:     # argparse printed the help (status 0) or the usage and its error (status 2)
        return e.code
    if not args.native_kernels and needs_pinning(os.environ):
        return run_pinned(module, argv, parser.prog)
    return run(parser, body, argv)


def _fcndemo():
    """The package this tool runs (tests/test_demo.py reaches the demo's nets through it). Imported here, not at
    the top: a run on the pinned kernels must not load torch before its variables are set."""
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
    return main_on_pinned_kernels('tools.demo', build_parser(), demo, argv)


def demo(args):
    fcndemo = _fcndemo()
    cfg = configure(args, fcndemo.Config, dict(out=args.out, seed=args.seed, n_train=args.n_train, n_val=args.n_val,
                                               size=args.size, clf_iters=args.clf_iters, iters=args.iters,
                                               lrs=args.lrs, score_every=args.score_every))
    fcndemo.run(cfg)


if __name__ == '__main__':
    sys.exit(main())
