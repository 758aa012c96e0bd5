"""Make an FCN's initial weights by net surgery (the reference's solve.py initialization, as a file).

Convolutionalized init from an ILSVRC classifier (fc6/fc7 coerced into 7x7 / 1x1 convolutions):
    python tools/surgery.py --classifier VGG16_deploy.prototxt --weights VGG16.caffemodel \\
        --fcn voc-fcn32s/train.prototxt --out vgg16-fcn.caffemodel

Staged training, FCN-16s from a trained FCN-32s (and FCN-8s from FCN-16s), copied by name with Caffe's rules:
    python tools/surgery.py --from-stage voc-fcn32s/deploy.prototxt fcn32s.caffemodel \\
        --fcn voc-fcn16s/train.prototxt --out fcn16s-init.caffemodel

Several trained nets into one, each into its suffixed layers (NYUD color-HHA late fusion):
    python tools/surgery.py --transplant nyud-color/deploy.prototxt color.caffemodel color \
        --transplant nyud-hha/deploy.prototxt hha.caffemodel hha --fcn nyud-fcn32s-color-hha/train.prototxt --out x.h5

A first conv with an extra depth channel (NYUD color-D): add --mean-channels conv1_1:conv1_1_bgrd.

Layers the source lacks keep Caffe's default fill (zero for FCN's score and skip layers); then every frozen
Deconvolution (lr_mult 0) gets the bilinear kernel on its diagonal, unless --no-interp. The output format follows
the extension (.caffemodel, .caffemodel.h5, .pth).
"""
import argparse
import sys

import fcnapps  # noqa: F401  (the reference nets' Python layers: datalayers on the runtime's layer path)
from netspec import read_net
from runtime import Net
from tools._cli import UsageError, run
from weights.surgery import initialize, with_input_layers


def _shape(text):
    name, _, dims = text.partition('=')
    try:
        return name, tuple(int(d) for d in dims.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'--input wants NAME=N,C,H,W, got {text!r}') from None


def _pair(text):
    src, _, dst = text.partition(':')
    if not src or not dst:
        raise argparse.ArgumentTypeError(f'--mean-channels wants SRC:DST, got {text!r}')
    return src, dst


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__.split('\n', 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--fcn', required=True, metavar='PROTOTXT', help='the FCN to initialize (train, val or deploy net)')
    p.add_argument('--out', required=True, metavar='FILE', help='where to write the FCN weights (atomic)')
    p.add_argument('--classifier', metavar='PROTOTXT',
                   help='the classifier deploy net; with --weights: transplant its parameters (reshaping fc layers)')
    p.add_argument('--weights', metavar='FILE', help='the classifier weights (.caffemodel V1/V2, .h5, .pth)')
    p.add_argument('--suffix', default='', help='transplant the classifier\'s layer L into L+SUFFIX')
    p.add_argument('--transplant', nargs=3, action='append', default=[], metavar=('PROTOTXT', 'WEIGHTS', 'SUFFIX'),
                   help='transplant another net into the layers named L+SUFFIX (SUFFIX may be ""); repeatable')
    p.add_argument('--from-stage', nargs=2, metavar=('PROTOTXT', 'WEIGHTS'),
                   help='a trained coarser FCN: copy its layers by name with Caffe\'s rules (exact shapes)')
    p.add_argument('--mean-channels', type=_pair, action='append', default=[], metavar='SRC:DST',
                   help='init conv DST, which has extra input channels, from source conv SRC: its filters, then '
                        'their channel mean on each extra channel (NYUD color-D); repeatable')
    p.add_argument('--no-interp', action='store_true', help='leave the Deconvolution weights as they are')
    p.add_argument('--size', type=int, default=224,
                   help='input side used to build nets whose data layers read a dataset (default 224)')
    p.add_argument('--input', type=_shape, action='append', default=[], metavar='TOP=N,C,H,W',
                   help='shape for a data-layer top (default 1x3 for images, 1x1 for label/sem/geo/depth)')
    return p


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 written, 2 usage (no source named, --classifier without
    --weights), 3 an unreadable or mismatched prototxt or weight file (the destination is left as it was)."""
    return run(build_parser(), surgery, argv)


def surgery(args):
    if bool(args.classifier) != bool(args.weights):
        raise UsageError('--classifier and --weights go together')
    transplants = ([(args.classifier, args.weights, args.suffix)] if args.classifier else []) + args.transplant
    if not transplants and not args.from_stage:
        raise UsageError('name a source: --classifier/--weights, --transplant or --from-stage')
    fcn = Net(with_input_layers(read_net(args.fcn), args.size, dict(args.input)), phase='train')
    initialize(fcn, from_stage=args.from_stage, transplants=transplants, mean_pairs=args.mean_channels,
               bilinear=not args.no_interp)
    fcn.save(args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    sys.exit(main())
