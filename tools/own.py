"""The FCN recipe on your own dataset (a description file written by fcn-dataset): model folders, surgery from a
classifier, staged training, scores and pictures.

    fcn-own nets DATASET.json RUN [--arch vgg16|alexnet|googlenet] [--width W] [--epochs E] [--lr-scale F]
    fcn-own classifier vgg16 CLF [--width W] [--train DATASET.json --iters N [--crops objects|images]]
                                                    a small stand-in classifier
    fcn-own train RUN --classifier CLF/deploy.prototxt --weights CLF/classifier.caffemodel
    fcn-own score RUN [--stage fcn8s] [--split val]
    fcn-own infer RUN IMAGE ... --out DIR

`nets` writes RUN/fcn32s, RUN/fcn16s, RUN/fcn8s (or RUN/fcn-alexnet, RUN/fcn-googlenet) and RUN/recipe.json;
`train` runs every stage in order, each from the previous one's final weights, the first by surgery from the
classifier; run it again after an interruption: finished stages are skipped, an interrupted one resumes from its
last snapshot. The logic is in fcnapps.owndata.
"""
import argparse
import os
import sys

import fcnapps  # noqa: F401  (datalayers on the runtime's Python-layer path: the nets' OwnSegDataLayer)
from fcnapps import owndata
from fcnapps.report import format_report
from solvers import LossNotFinite, setup_logging
from tools._cli import DIVERGED, UsageError, device, run, warn


def _positive(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected a number, not {text!r}') from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f'must be positive, not {text}')
        return v
    return parse


def build_parser():
    ap = argparse.ArgumentParser(prog='fcn-own', description=__doc__.split('\n\n')[0],
                                 epilog=__doc__.split('\n', 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='command', metavar='COMMAND', required=True)

    p = sub.add_parser('nets', help='write the model folders and solvers of a run for a dataset',
                       description='Write a run folder: one model folder per stage, with the dataset\'s classes, '
                                   'channels and data layer, and the recipe scaled to its size.',
                       epilog=owndata.RATES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('dataset', metavar='DATASET', help='the description file (fcn-dataset describe)')
    p.add_argument('run', metavar='RUN', help='the run folder to write')
    p.add_argument('--arch', choices=sorted(owndata.ARCHS), default='vgg16',
                   help='vgg16: FCN-32s -> 16s -> 8s (default); alexnet: FCN-AlexNet; googlenet: FCN-GoogLeNet')
    p.add_argument('--width', type=_positive(float), default=1.0,
                   help='channel width factor (1: the paper\'s nets; 0.0625 thin nets for a CPU)')
    p.add_argument('--epochs', type=_positive(float),
                   help=f'passes over the training images per stage (default {owndata.REFERENCE_EPOCHS:.1f}, '
                        f'the reference\'s)')
    p.add_argument('--iters', type=_positive(int), help='iterations per stage (instead of --epochs)')
    p.add_argument('--score-every', type=_positive(int), help='scoring interval (default: 25 scorings a stage)')
    p.add_argument('--lr-scale', type=_positive(float), default=1.0, help='multiplies every stage\'s rate (default 1)')

    p = sub.add_parser('classifier', help='write a small ILSVRC-style classifier (optionally trained on a dataset)')
    p.add_argument('arch', choices=sorted(owndata.ARCHS))
    p.add_argument('out', metavar='DIR', help='where deploy.prototxt and classifier.caffemodel go')
    p.add_argument('--width', type=_positive(float), default=1.0, help='channel width factor (the run\'s)')
    p.add_argument('--train', metavar='DATASET', help='train it on this dataset\'s training images')
    p.add_argument('--iters', type=int, default=0, help='training iterations (with --train)')
    p.add_argument('--lr', type=_positive(float), default=1e-5,
                   help='its base_lr (default 1e-5; 1e-3 silences most of a thin VGG16 trunk\'s ReLUs)')
    p.add_argument('--crops', choices=sorted(owndata.CLASSIFIER_CROPS), default='objects',
                   help='objects: a crop of each region of the label maps, labelled by its class (default); '
                        'images: each whole image, labelled by the class it holds most of')
    p.add_argument('--batch', type=_positive(int), default=4, help='crops a step (default 4)')

    p = sub.add_parser('train', help='surgery, then train every stage of a run (resumable)')
    p.add_argument('run', metavar='RUN')
    p.add_argument('--classifier', metavar='PROTOTXT', help='the classifier\'s deploy net (with --weights)')
    p.add_argument('--weights', metavar='FILE', help='the classifier\'s weights (.caffemodel, .h5, .pth)')
    p.add_argument('--init', metavar='FILE', help='or: an FCN\'s weights for the first stage, copied by name')
    p.add_argument('--device', default='cpu', type=device)
    p.add_argument('--quiet', action='store_true', help='no progress bars')

    for name, what in (('score', 'score a stage on a split: per-class IU by name, confusion matrix PNG'),
                       ('infer', 'label images: PNGs in the dataset\'s palette, pictures with a legend')):
        p = sub.add_parser(name, help=what)
        p.add_argument('run', metavar='RUN')
        if name == 'infer':
            p.add_argument('images', nargs='+', metavar='IMAGE')
            p.add_argument('--out', required=True, help='output folder')
        else:
            p.add_argument('--split', default='val', help='the split to score (default val)')
            p.add_argument('--save', metavar='DIR', help='also write the predicted label PNGs there')
            p.add_argument('--limit', type=int, help='only the first N images')
        p.add_argument('--stage', help='the stage (default: the last finished)')
        p.add_argument('--weights', help='weights to use instead of the stage\'s final ones')
        p.add_argument('--device', default='cpu', type=device)
        p.add_argument('--quiet', action='store_true', help='no progress bar')
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 done, 2 usage, 3 an unusable dataset, run folder, classifier
    or weights (one line naming the file and, for weights, the layer), 4 the loss became NaN or infinite."""
    return run(build_parser(), body, argv, codes=[(LossNotFinite, DIVERGED)])


def body(args):
    {'nets': nets, 'classifier': classifier, 'train': train, 'score': score, 'infer': infer}[args.command](args)


def nets(args):
    from datalayers.own import load_description
    desc = load_description(args.dataset)
    family = desc.family()
    record = owndata.make_run(family, desc.path, len(desc.splits['train']), arch=args.arch, width=args.width,
                              epochs=args.epochs, iters=args.iters, score_every=args.score_every,
                              lr_scale=args.lr_scale)
    owndata.write_run(record, family, args.run)
    print(f'{desc.name}: {desc.num_classes} classes ({", ".join(desc.classes)}), {desc.channels} input channel(s), '
          f'{len(desc.splits["train"])} train / {len(desc.splits["val"])} val images')
    for s in record['stages']:
        print(f'  {os.path.join(args.run, s["name"])}: {s["iters"]} iterations, scoring every {s["score_every"]}, '
              f'base_lr {s["base_lr"]:g} (as {s["reference"]})')


def classifier(args):
    if args.iters and not args.train:
        raise UsageError('--iters trains on a dataset: give --train DATASET')
    owndata.make_classifier(args.arch, args.out, width=args.width, dataset=args.train, iters=args.iters,
                            base_lr=args.lr, batch=args.batch, crops=args.crops, progress=None)


def train(args):
    if bool(args.classifier) != bool(args.weights):
        raise UsageError('--classifier and --weights go together')
    if args.classifier and args.init:
        raise UsageError('give --classifier/--weights or --init, not both')
    clf = (args.classifier, args.weights) if args.classifier else None
    setup_logging()
    records = owndata.train_stages(args.run, classifier=clf, weights=args.init, device=args.device,
                                   progress=False if args.quiet else None)
    run_record = owndata.read_run(args.run)
    if len(records) < len(run_record['stages']):
        return
    print()
    for line in owndata.stage_table(records):
        print(line)
    path = owndata.write_scores(args.run, records)
    print(f'\nfinal weights: {records[-1]["weights"]}\nscores written to {os.path.abspath(path)}')


def score(args):
    report = owndata.score_run(args.run, stage=args.stage, weights=args.weights, split=args.split,
                               save_dir=args.save, device=args.device, limit=args.limit, progress=not args.quiet,
                               warn=warn)
    for line in format_report(report):
        print(line)
    print(f'\nconfusion matrix: {report["confusion_png"]}\nreport: {report["json"]}')


def infer(args):
    results = owndata.infer_run(args.run, args.images, args.out, stage=args.stage, weights=args.weights,
                                device=args.device, progress=not args.quiet, warn=warn)
    for r in results:
        for _, (png, vis) in r['outputs'].items():
            print(f"{r['image']} ({r['shape'][1]}x{r['shape'][0]}): {png}  {vis}")


if __name__ == '__main__':
    sys.exit(main())
