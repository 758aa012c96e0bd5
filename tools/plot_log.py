"""Plot a Caffe training log: `fcn-plot-log train.log curves.png`.

Reads the log as Caffe's tools/extra/parse_log.py does (solvers.logparse: a log of `caffe train`, of fcn-solve or of
the real Caffe) and draws, against iterations (left) and seconds since `Solving ...` (right): every train net
output, the learning rate (each iteration's own, from its `lr = ` line), every test net output. Writes a PNG (or any format matplotlib knows by the extension);
--csv DIR also writes parse_log.py's LOG.train and LOG.test files.

Exit status (tools/_cli.py): 0 written, 2 usage, 3 a missing log or one without a `Solving` line or any row.
"""
import argparse
import csv
import os
import sys

from solvers.logparse import learning_rates, parse_log
from tools._cli import run


def build_parser():
    ap = argparse.ArgumentParser(prog='fcn-plot-log', description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('log', help='a Caffe-format training log')
    ap.add_argument('out', help='the image to write (.png, .svg, .pdf)')
    ap.add_argument('--csv', metavar='DIR', help="also write parse_log.py's LOG.train and LOG.test CSV files here")
    ap.add_argument('--title', help='figure title (default: the log file name)')
    return ap


def main(argv=None):
    return run(build_parser(), plot, argv)


def _columns(rows):
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys and k not in ('NumIters', 'Seconds', 'LearningRate')]
    return keys


def write_csv(path, rows):
    if not rows:
        return
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


def plot(args):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    train, test = parse_log(args.log)
    if not train and not test:
        raise ValueError(f'{args.log}: no train or test net output rows (display and test_interval off?)')
    if args.csv:
        os.makedirs(args.csv, exist_ok=True)
        base = os.path.join(args.csv, os.path.basename(args.log))
        write_csv(base + '.train', train)
        write_csv(base + '.test', test)
    seconds = {r['NumIters']: r['Seconds'] for r in train}
    rates = [dict(r, Seconds=seconds.get(r['NumIters'], float('nan'))) for r in learning_rates(args.log)]
    panels = [('train net outputs', train, _columns(train)), ('learning rate', rates, ['LearningRate']),
              ('test net outputs', test, _columns(test))]
    panels = [p for p in panels if p[1] and p[2]]
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.2 * len(panels)), squeeze=False)
    for row, (title, rows, keys) in zip(axes, panels):
        for ax, x in zip(row, ('NumIters', 'Seconds')):
            for k in keys:
                pts = [(r[x], r[k]) for r in rows if k in r and r[x] == r[x]]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker='.', label=k)
            ax.set_xlabel('iterations' if x == 'NumIters' else 'seconds')
            ax.set_title(title)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize='small')
    fig.suptitle(args.title or os.path.basename(args.log))
    fig.tight_layout()
    fig.savefig(args.out)
    plt.close(fig)
    print(f'{args.out}: {len(train)} train rows, {len(test)} test rows')


if __name__ == '__main__':
    sys.exit(main())
