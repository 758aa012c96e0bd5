"""Write the FCN model folders: python tools/make_nets.py --out DIR [FOLDER ...] [--width W] [--num-classes N]."""
import argparse
import os
import sys

from netspec import models
from tools._cli import UsageError, run


def build_parser():
    ap = argparse.ArgumentParser(description='Write FCN model folders (nets, deploy net, solver) as prototxt.')
    ap.add_argument('folders', nargs='*', metavar='FOLDER',
                    help=f'folders to write (default: all): {", ".join(models.FOLDERS)}')
    ap.add_argument('--out', required=True, help='output directory; each folder goes to OUT/FOLDER/')
    ap.add_argument('--width', type=float, default=1.0, help='trunk channel multiplier (default 1.0)')
    ap.add_argument('--num-classes', type=int, default=None, help='classes of the score layers (default: the '
                    "folder's own)")
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 written, 2 usage (an unknown folder, a bad width), 3 unwritable."""
    return run(build_parser(), make_nets, argv)


def make_nets(args):
    unknown = [f for f in args.folders if f not in models.FOLDERS]
    if unknown:
        raise UsageError(f'unknown folder(s) {", ".join(unknown)}; known: {", ".join(models.FOLDERS)}')
    if not args.width > 0:
        raise UsageError('--width must be positive')
    for name in args.folders or models.FOLDERS:
        paths = models.write_folder(name, os.path.join(args.out, name), width=args.width,
                                    num_classes=args.num_classes)
        print(f'{name}: ' + ' '.join(os.path.basename(p) for p in paths))


if __name__ == '__main__':
    sys.exit(main())
