"""Label images with a model: label PNGs (VOC palette) and side-by-side pictures (image | overlay | labels).

    python tools/infer.py --model voc-fcn8s --weights fcn8s-heavy-pascal.caffemodel image.jpg ... --out out/

Uses the folder's deploy.prototxt, or one derived from its eval net (data layer -> Input). Any image size.
NYUD nets that read depth or HHA take them with --depth / --hha (one per image, in the same order).
"""
import argparse
import sys

from scoring.inference import infer
from tools._cli import device, run, warn


def build_parser():
    ap = argparse.ArgumentParser(description='Label images with a model folder and its weights.')
    ap.add_argument('--model', required=True, help='model folder (deploy.prototxt, or val/test.prototxt)')
    ap.add_argument('--weights', help='.caffemodel / .h5 / .pth (omit: zero-initialised)')
    ap.add_argument('images', nargs='+', metavar='IMAGE')
    ap.add_argument('--out', required=True, help='output folder')
    ap.add_argument('--depth', nargs='+', help='NYUD depth PNGs, one per image')
    ap.add_argument('--hha', nargs='+', help='NYUD HHA PNGs, one per image')
    ap.add_argument('--device', default='cpu', type=device)
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 labelled, 2 usage, 3 an unusable model folder, weights or image."""
    return run(build_parser(), label_images, argv)


def label_images(args):
    extra = {k: v for k, v in (('depth', args.depth), ('hha', args.hha)) if v}
    if args.weights is None:
        warn('no --weights given; labelling with a zero-initialised net')
    results = infer(args.model, args.weights, args.images, args.out, extra=extra, device=args.device, warn=warn)
    for r in results:
        for blob, (png, vis) in r['outputs'].items():
            print(f"{r['image']} ({r['shape'][1]}x{r['shape'][0]}) {blob}: {png}  {vis}")


if __name__ == '__main__':
    sys.exit(main())
