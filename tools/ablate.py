"""The paper's studies on the demo's synthetic data, on the CPU: `python tools/ablate.py [--out DIR] [--quick]`.

Trains the variants the paper compared (Table 2 with FCN-32s-fixed and FCN-4s/2s; loss sampling p = 1, 0.5, 0.25
as Fig. 5; class balancing; mirror + jitter augmentation; learned vs frozen upsampling; shift-and-stitch vs skip
fusion at stride 16), each from the same initialization for the same number of iterations, scores them on the demo's
val split and prints the tables in the paper's form; results.json and curves.png go to --out. `--studies table1`
(not in the default set) trains Table 1's nets: AlexNet, VGG16 and GoogLeNet classifiers, each cast into FCN-32s
and trained alike; `fcn-table1 --results OUT/results.json` puts their mean IU in Table 1. The logic is in
fcndemo.ablate.
"""
import argparse
import sys

from tools.demo import add_cpu_options, configure, float_list, int_list, main_on_pinned_kernels


def _fcndemo_ablate():
    """Imported here, not at the top: a run on the pinned kernels must not load torch before its variables are set."""
    from fcndemo import ablate
    return ablate


def _names(text):
    return tuple(v.strip() for v in text.split(',') if v.strip())


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='ablate-output', help='output folder (default ./ablate-output)')
    ap.add_argument('--quick', action='store_true', help='a tiny run of every study (seconds; structure, not results)')
    ap.add_argument('--seeds', type=int_list, help='seeds, e.g. 0,1 (each: its own data, classifier and solvers; '
                                                'default 0)')
    ap.add_argument('--iters', type=int, help='iterations of every variant (default 300)')
    ap.add_argument('--score-every', type=int, help='scoring interval (default 100)')
    ap.add_argument('--lrs', type=float_list, help='fixed rates of FCN-32s,16s,8s,4s,2s')
    ap.add_argument('--sampling', type=float_list, help='loss sampling rates p, each 1/k (default 1,0.5,0.25)')
    ap.add_argument('--studies', type=_names, help='a subset of table2,sampling,balancing,augmentation,'
                                                   'upsampling,stitch,table1 (default all but table1)')
    ap.add_argument('--table1-lrs', type=float_list, help="table1: the FCN-32s's fixed rates of AlexNet,VGG16,"
                                                         "GoogLeNet (default 3e-9,1e-8,3e-8)")
    ap.add_argument('--table1-width', type=float, help="table1: the trunks' share of their channels (1/16)")
    ap.add_argument('--n-train', type=int, help='training images')
    ap.add_argument('--n-val', type=int, help='val images')
    add_cpu_options(ap)
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 done, 2 usage (a setting the run cannot use), 3 an
    unwritable output folder."""
    return main_on_pinned_kernels('tools.ablate', build_parser(), ablate, argv)


def ablate(args):
    mod = _fcndemo_ablate()
    cfg = configure(args, mod.AblationConfig, dict(out=args.out, seeds=args.seeds, iters=args.iters,
                                                   score_every=args.score_every, lrs=args.lrs, sampling=args.sampling,
                                                   studies=args.studies, n_train=args.n_train, n_val=args.n_val,
                                                   table1_lrs=args.table1_lrs, table1_width=args.table1_width))
    mod.run(cfg)


if __name__ == '__main__':
    sys.exit(main())
