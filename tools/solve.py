"""Run a reference training recipe: `python tools/solve.py voc-fcn32s --weights vgg16-fcn.caffemodel --data data`.

The folder's solver.prototxt and nets are used (or written with netspec.models when absent); the net is initialized
from --weights (copy_from), its upsampling layers get bilinear kernels (surgery.interp), and training runs for the
reference's length, scoring the eval split at the reference's interval and printing the four metrics. Snapshots go
to <out>/snapshot/train_iter_N.*; Ctrl-C snapshots then stops; --resume continues from a .solverstate.
Distributed: `torchrun --nproc_per_node N tools/solve.py ...` (N processes of batch 1 = iter_size N).
"""
import argparse
import logging
import os
import sys

from fcnapps.recipe import train
from solvers import LossNotFinite, setup_logging
from solvers.distributed import init_from_env, leave
from tools._cli import DIVERGED, device, run


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('folder', help='model folder named as the reference (voc-fcn32s, siftflow-fcn16s, ...)')
    ap.add_argument('--weights', help='initial weights (.caffemodel, .h5, .pth): the base net or previous stage')
    ap.add_argument('--data', help="data root, the reference's ../data (default: resolved from the folder)")
    ap.add_argument('--device', default='cpu', type=device, help='cpu, cuda, cuda:1 ... (default cpu)')
    ap.add_argument('--iters', type=int, help='total iterations (default: the reference length)')
    ap.add_argument('--score-every', type=int, help='scoring interval (default: the reference interval)')
    ap.add_argument('--resume', help='a .solverstate[.h5] to continue from')
    ap.add_argument('--width', type=float, default=1.0, help='channel width factor for new nets (thin nets for tests)')
    ap.add_argument('--num-classes', type=int, help='number of classes for new nets (default: the reference)')
    ap.add_argument('--out', help='where snapshots go (default: the folder)')
    ap.add_argument('--seed', type=int, help='random_seed (dropout, data order); default: the solver file')
    ap.add_argument('--base-lr', type=float, help='override base_lr')
    ap.add_argument('--log', help='also write the Caffe-format log to this file')
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 trained (also after Ctrl-C, which snapshots then stops),
    2 usage, 3 an unusable folder, weights, snapshot or dataset, 4 the loss became NaN or infinite."""
    return run(build_parser(), solve, argv, codes=[(LossNotFinite, DIVERGED)])


def solve(args):
    setup_logging(logging.INFO, logfile=args.log)
    rank, size = init_from_env(args.device)
    device = args.device
    if size > 1 and device.startswith('cuda') and ':' not in device:
        device = f'cuda:{int(os.environ.get("LOCAL_RANK", rank))}'
    solver, history = train(args.folder, weights=args.weights, data=args.data, device=device, iters=args.iters,
                            score_every=args.score_every, resume=args.resume, width=args.width,
                            num_classes=args.num_classes, out=args.out, seed=args.seed, base_lr=args.base_lr)
    leave()
    if rank == 0:
        if solver.requested_early_exit:
            print(f'Stopped at iteration {solver.iter}; last snapshot: {solver.last_snapshot}')
        for it, report in history[-1:]:
            for gt, r in report.items():
                print(f'{args.folder} iteration {it} [{gt}]: overall accuracy {r["overall_acc"]:.4f}, mean accuracy '
                      f'{r["mean_acc"]:.4f}, mean IU {r["mean_iu"]:.4f}, f.w. IU {r["fwavacc"]:.4f}')


if __name__ == '__main__':
    sys.exit(main())
