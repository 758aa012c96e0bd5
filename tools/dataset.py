"""fcn-dataset: describe, check and make a dataset of your own for the FCN nets (datalayers.own).

    fcn-dataset describe DATASET.json [--images DIR --labels DIR --split train=FILE --split val=FILE | --list
                         train=FILE --list val=FILE] [--classes FILE|N|a,b,c] [--ignore-label V]
                         [--map-to-ignore V ...] [--label-format png|npy|mat] [--mat-key KEY]
                         [--image-format color|gray|npy] [--channels K] [--mean V ...] [--root DIR] [--name NAME]
    fcn-dataset check DATASET.json
    fcn-dataset example FORM OUT_DIR       (FORM: folders, lists, npy, gray)

describe writes the description file (JSON; .yaml / .yml through PyYAML), or updates an existing one with the
flags given, and computes the mean of the training images when none is given (printed; a changed image folder,
split or list, or --recompute-mean, computes it again). Paths on the command line are taken from the current
directory and written relative to the root (the description's folder unless --root). --classes: a file of names
(one a line), a number N (classes '0' .. 'N-1'), or names separated by commas; the index is the class id.

check reads every image and label of every split: an image without its label, a label without its image, sizes
that differ, a label value outside [0, N) other than the ignore label are each one line naming the file. It prints
the samples per split, their sizes and the training pixels per class.

example writes a small synthetic dataset in one of the forms (datalayers.synthetic.make_own) and its description.

Exit status (tools/_cli.py): 0 done, 2 usage, 3 bad input (a bad description, a problem check found).
"""
import argparse
import os
import sys

from datalayers.io import DatasetError
from datalayers.own import IMAGE_FORMATS, LABEL_FORMATS, check_dataset, describe, load_description
from datalayers.synthetic import OWN_FORMS, make_own
from tools._cli import UsageError, run, warn


def build_parser():
    ap = argparse.ArgumentParser(prog='fcn-dataset', description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    sub = ap.add_subparsers(dest='command', required=True, metavar='{describe,check,example}')
    d = sub.add_parser('describe', help='write or update a description file, computing the mean')
    d.add_argument('out', metavar='DATASET.json', help='the description file to write (.json, .yaml, .yml)')
    d.add_argument('--name', help='short name of the dataset (default: the folder name)')
    d.add_argument('--root', help='folder the other paths are relative to in the file (default: its folder)')
    d.add_argument('--images', metavar='DIR', help='folder of images, matched to --labels by file stem')
    d.add_argument('--labels', metavar='DIR', help='folder of label maps')
    d.add_argument('--split', action='append', metavar='NAME=FILE',
                   help='a split as a file of stems, one a line (val required; train defaults to the rest)')
    d.add_argument('--list', action='append', metavar='NAME=FILE',
                   help='instead of the folders: a split as a file of `image label` lines relative to the root')
    d.add_argument('--classes', metavar='FILE|N|NAMES', help='a file of names, a number, or comma-separated names')
    d.add_argument('--ignore-label', type=int, help='the label value the loss ignores (default 255)')
    d.add_argument('--map-to-ignore', type=int, nargs='+', metavar='V', help='label values read as the ignore label')
    d.add_argument('--label-format', choices=LABEL_FORMATS, help='png (default), npy or mat')
    d.add_argument('--mat-key', help='the variable of .mat labels')
    d.add_argument('--image-format', choices=IMAGE_FORMATS, help='color (fed as BGR; default), gray or npy')
    d.add_argument('--channels', type=int, help='image channels (checked against the images)')
    d.add_argument('--mean', type=float, nargs='+', metavar='V',
                   help='the mean per channel in the net\'s order (BGR for colour); computed when not given')
    d.add_argument('--recompute-mean', action='store_true', help='compute the mean again from the training images')
    c = sub.add_parser('check', help='read every sample and report what is wrong')
    c.add_argument('description', metavar='DATASET.json')
    e = sub.add_parser('example', help='write a small synthetic dataset in one form')
    e.add_argument('form', choices=OWN_FORMS)
    e.add_argument('out', metavar='OUT_DIR')
    e.add_argument('--classes', type=int, default=5, help='number of classes (default 5)')
    e.add_argument('--train', type=int, default=8, help='training images (default 8)')
    e.add_argument('--val', type=int, default=4, help='validation images (default 4)')
    e.add_argument('--size', type=int, nargs=2, default=(64, 96), metavar=('MIN', 'MAX'),
                   help='image sides drawn from MIN..MAX (default 64 96)')
    e.add_argument('--label-format', choices=('npy', 'mat'), help="form npy: labels as .npy (default) or .mat")
    e.add_argument('--seed', type=int, default=0)
    return ap


def main(argv=None):
    return run(build_parser(), body, argv)


def body(args):
    {'describe': do_describe, 'check': do_check, 'example': do_example}[args.command](args)


def _pairs(values, flag):
    out = {}
    for v in values or ():
        name, sep, file = v.partition('=')
        if not sep or not name or not file:
            raise UsageError(f'{flag} takes NAME=FILE, not {v!r}')
        out[name] = file
    return out


def _classes(text, rel):
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    if os.path.isfile(text):
        return rel(text)
    names = [n.strip() for n in text.split(',')]
    if len(names) < 2 or not all(names):
        raise UsageError(f'--classes {text!r}: not a file, a number or comma-separated names')
    return names


def do_describe(args):
    out = os.path.abspath(args.out)
    folder = os.path.dirname(out)
    if args.root is not None:
        root = os.path.abspath(args.root)
    elif os.path.exists(out):
        root = load_description_root(out)
    else:
        root = folder

    def rel(p):
        return None if p is None else os.path.relpath(os.path.abspath(p), root)

    changes = {'name': args.name, 'root': None if args.root is None else os.path.relpath(root, folder),
               'images': rel(args.images), 'labels': rel(args.labels),
               'splits': {k: rel(v) for k, v in _pairs(args.split, '--split').items()} or None,
               'lists': {k: rel(v) for k, v in _pairs(args.list, '--list').items()} or None,
               'classes': _classes(args.classes, rel), 'ignore_label': args.ignore_label,
               'map_to_ignore': args.map_to_ignore, 'label_format': args.label_format, 'mat_key': args.mat_key,
               'image_format': args.image_format, 'channels': args.channels, 'mean': args.mean}
    desc = describe(out, changes, recompute_mean=args.recompute_mean, log=print)
    print(f'{desc.path}: {desc.name}, {desc.num_classes} classes, ' +
          ', '.join(f'{s} {len(ids)}' for s, ids in desc.splits.items()) +
          f', {desc.channels} channel(s), ignore label {desc.ignore_label}')


def load_description_root(path):
    """The root an existing description file names (its folder when it names none)."""
    from datalayers.own import read_description_file
    data = read_description_file(path)
    return os.path.normpath(os.path.join(os.path.dirname(path), str(data.get('root', '.'))))


def do_check(args):
    desc = load_description(args.description)
    report = check_dataset(desc)
    print(f'{desc.path}: {desc.name} ({desc.form} form), {desc.num_classes} classes, {desc.channels} channel(s) '
          f'({desc.image_format}), labels {desc.label_format}, ignore label {desc.ignore_label}')
    for split, n in report['splits'].items():
        size = report['sizes'][split]
        sizes = f', H {size[0]}..{size[1]} x W {size[2]}..{size[3]}' if size else ''
        print(f'  {split}: {n} samples{sizes}')
    total = int(report['pixels'].sum()) + report['ignored']
    if total:
        print('  train pixels per class:')
        for name, n in zip(desc.classes, report['pixels']):
            print(f'    {name:<20s} {int(n):>12d}  {100. * n / total:6.2f}%')
        print(f'    {"(ignored)":<20s} {report["ignored"]:>12d}  {100. * report["ignored"] / total:6.2f}%')
    if report['overlap']:
        k = len(report['overlap'])
        warn(f'{desc.path}: {k} sample{"s are" if k > 1 else " is"} in both train and val (the first: '
             f'{report["overlap"][0]}); the val scores then measure training images')
    if desc.mean is None:
        warn(f'{desc.path} has no "mean"; `fcn-dataset describe {desc.path}` computes it')
    else:
        print(f'  mean: {", ".join(f"{m:g}" for m in desc.mean)}')
    for p in report['problems']:
        print(f'  problem: {p}')
    if report['problems']:
        n = len(report['problems'])
        raise DatasetError(f'{desc.path}: {n} problem{"s" if n > 1 else ""}; the first: {report["problems"][0]}')
    print('  ok')


def do_example(args):
    if args.label_format and args.form != 'npy':
        raise UsageError(f'--label-format is for the npy form, not {args.form!r}')
    path = make_own(args.out, args.form, n_train=args.train, n_val=args.val, size=tuple(args.size),
                    num_classes=args.classes, seed=args.seed, label_format=args.label_format, log=print)
    print(path)


if __name__ == '__main__':
    sys.exit(main())
