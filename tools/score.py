"""Score a model over a dataset split and compare with the paper.

    python tools/score.py --model voc-fcn8s --weights fcn8s-heavy-pascal.caffemodel --data ../data \
        --split seg11valid [--save preds/] [--json report.json]

--model is a model folder holding its eval net (val.prototxt or test.prototxt); --data is the folder the
reference prototxts call data/ (holding pascal/VOC2011, sbdd/dataset, sift-flow, nyud, pascal-context): the
data layer's dataset folders are re-rooted there, its other settings kept.
"""
import argparse
import os
import sys

from scoring.report import format_report, score_model, write_json
from tools._cli import device, run, warn


def build_parser():
    ap = argparse.ArgumentParser(description='Score a model folder over a dataset split, beside the paper.')
    ap.add_argument('--model', required=True, help='model folder (holding val.prototxt or test.prototxt)')
    ap.add_argument('--weights', help='.caffemodel / .h5 / .pth (omit: zero-initialised, for smoke tests)')
    ap.add_argument('--data', help="dataset root, the reference's data/ folder (default: param_str as written)")
    ap.add_argument('--split', help='split to score (default: the one in the eval net)')
    ap.add_argument('--save', help='folder for the predicted label PNGs (VOC palette)')
    ap.add_argument('--json', help='report path (default: score-<model>-<split>.json here)')
    ap.add_argument('--device', default='cpu', type=device, help='cpu or cuda[:k]')
    ap.add_argument('--limit', type=int, help='score only the first N images of the split')
    ap.add_argument('--quiet', action='store_true', help='no progress bar')
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 scored, 2 usage, 3 an unusable model folder, weights or data."""
    return run(build_parser(), score, argv)


def score(args):
    if args.weights is None:
        warn('no --weights given; scoring a zero-initialised net')
    report = score_model(args.model, args.weights, args.data, args.split, save_dir=args.save, device=args.device,
                         limit=args.limit, progress=not args.quiet, warn=warn)
    for line in format_report(report):
        print(line)
    out = args.json or f"score-{report['model']}-{report['split']}.json"
    write_json(report, out)
    print(f'\nreport written to {os.path.abspath(out)}')


if __name__ == '__main__':
    sys.exit(main())
