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

from netspec import read_net
from runtime import Net
from weights import WeightsError, read_weights
from weights.surgery import interp, layer_names, mean_channels, owners_of_blobs, transplant, with_input_layers


def _shape(text):
    name, _, dims = text.partition('=')
    try:
        return name, tuple(int(d) for d in dims.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'--input wants NAME=N,C,H,W, got {text!r}') from None


def build_parser():
    p = argparse.ArgumentParser(prog='surgery.py', description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n', 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
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
    p.add_argument('--mean-channels', action='append', default=[], metavar='SRC:DST',
                   help='init conv DST, which has extra input channels, from source conv SRC: its filters, then '
                        'their channel mean on each extra channel (NYUD color-D); repeatable')
    p.add_argument('--no-interp', action='store_true', help='leave the Deconvolution weights as they are')
    p.add_argument('--size', type=int, default=224,
                   help='input side used to build nets whose data layers read a dataset (default 224)')
    p.add_argument('--input', type=_shape, action='append', default=[], metavar='TOP=N,C,H,W',
                   help='shape for a data-layer top (default 1x3 for images, 1x1 for label/sem/geo/depth)')
    return p


def _source_arrays(prototxt, weights_path):
    """The weights a Caffe Net(prototxt, weights) would hold: the file's layers that the prototxt names.

    Unlike Caffe, which leaves such layers at their fillers, a file lacking blobs for a layer of its own net that
    owns some is an error: a source for surgery must be complete."""
    arrays = read_weights(weights_path)
    net = read_net(prototxt)
    names = set(layer_names(net))
    missing = [n for n in owners_of_blobs(net) if not arrays.get(n)]
    if missing:
        raise WeightsError(f'{weights_path}: holds no blobs for layer(s) {missing} of {prototxt}')
    kept = {k: v for k, v in arrays.items() if k in names and len(v)}
    for k in arrays:
        if k not in names and len(arrays[k]):
            print(f'ignoring {k} from {weights_path} (not in {prototxt})')
    return kept


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError, KeyError) as e:  # WeightsError, PrototxtError, LayerError are ValueErrors
        print(f'error: {e}', file=sys.stderr)
        return 1


def run(args):
    if bool(args.classifier) != bool(args.weights):
        raise ValueError('--classifier and --weights go together')
    transplants = ([(args.classifier, args.weights, args.suffix)] if args.classifier else []) + args.transplant
    if not transplants and not args.from_stage:
        raise ValueError('name a source: --classifier/--weights, --transplant or --from-stage')
    shapes = dict(args.input)
    fcn = Net(with_input_layers(read_net(args.fcn), args.size, shapes), phase='train')
    written, sources = [], []
    if args.from_stage:
        prototxt, path = args.from_stage
        src = _source_arrays(prototxt, path)
        sources.append(src)
        written += fcn.load_arrays(src, source=path)
        print(f'copied {len(written)} layers from {path}')
    for prototxt, path, suffix in transplants:
        src = _source_arrays(prototxt, path)
        sources.append(src)
        done = transplant(fcn, src, suffix=suffix)
        written += done
        print(f'transplanted {len(done)} layers from {path}' + (f' into *{suffix}' if suffix else ''))
    for pair in args.mean_channels:
        a, _, b = pair.partition(':')
        src = next((s for s in sources if a in s), None)
        if src is None or not b:
            raise ValueError(f'--mean-channels {pair}: want SRC:DST with SRC a layer of a source net')
        mean_channels(fcn, b, src, a)
        written.append(b)
        print(f'{b}: {a} filters plus their channel mean on the extra input channels')
    fresh = [n for n in fcn.params if n not in written]
    if fresh:
        print('left at their fillers: ' + ', '.join(fresh))
    if not args.no_interp:
        done = interp(fcn)
        if done:
            print('bilinear interpolation: ' + ', '.join(done))
    fcn.save(args.out)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
