"""The paper's studies on the demo's synthetic data, on the CPU: `python tools/ablate.py [--out DIR] [--quick]`.

Trains the variants the paper compared (Table 2 with FCN-32s-fixed and FCN-4s/2s; loss sampling p = 1, 0.5, 0.25
as Fig. 5; class balancing; mirror + jitter augmentation; learned vs frozen upsampling; shift-and-stitch vs skip
fusion at stride 16), each from the same initialization for the same number of iterations, scores them on the demo's
val split and prints the tables in the paper's form; results.json and curves.png go to --out. The logic is in
fcndemo.ablate.
"""
import argparse
import sys

from tools._cli import UsageError, run
from tools.demo import pin_kernels


def _fcndemo_ablate():
    """Imported here, not at the top: pin_kernels must set its variables before fcndemo imports torch."""
    from fcndemo import ablate
    return ablate


def _ints(text):
    return tuple(int(v) for v in text.split(','))


def _floats(text):
    return tuple(float(v) for v in text.split(','))


def _names(text):
    return tuple(v.strip() for v in text.split(',') if v.strip())


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='ablate-output', help='output folder (default ./ablate-output)')
    ap.add_argument('--quick', action='store_true', help='a tiny run of every study (seconds; structure, not results)')
    ap.add_argument('--seeds', type=_ints, help='seeds, e.g. 0,1 (each: its own data, classifier and solvers; '
                                                'default 0)')
    ap.add_argument('--iters', type=int, help='iterations of every variant (default 300)')
    ap.add_argument('--score-every', type=int, help='scoring interval (default 100)')
    ap.add_argument('--lrs', type=_floats, help='fixed rates of FCN-32s,16s,8s,4s,2s')
    ap.add_argument('--sampling', type=_floats, help='loss sampling rates p, each 1/k (default 1,0.5,0.25)')
    ap.add_argument('--studies', type=_names, help='a subset of table2,sampling,balancing,augmentation,'
                                                   'upsampling,stitch (default all)')
    ap.add_argument('--n-train', type=int, help='training images')
    ap.add_argument('--n-val', type=int, help='val images')
    ap.add_argument('--threads', type=int, help="torch's intra-op threads (default 1; 0 leaves torch's choice)")
    ap.add_argument('--no-progress', action='store_true', help='no progress bars')
    ap.add_argument('--native-kernels', action='store_true',
                    help="torch's own choice of CPU kernels (the figures then depend on the machine)")
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 done, 2 usage (a setting the run cannot use), 3 an
    unwritable output folder."""
    return run(build_parser(), ablate, argv)


def ablate(args):
    if not args.native_kernels:
        pin_kernels()
    mod = _fcndemo_ablate()
    kw = {k: v for k, v in dict(out=args.out, seeds=args.seeds, iters=args.iters, score_every=args.score_every,
                                lrs=args.lrs, sampling=args.sampling, studies=args.studies, n_train=args.n_train,
                                n_val=args.n_val, threads=args.threads).items() if v is not None}
    if args.no_progress:
        kw['progress'] = False
    if args.native_kernels:
        kw['pinned_kernels'] = False
    cfg = mod.AblationConfig.quick(**kw) if args.quick else mod.AblationConfig(**kw)
    try:
        cfg.check()
    except ValueError as e:
        raise UsageError(e) from None
    mod.run(cfg)


if __name__ == '__main__':
    sys.exit(main())
