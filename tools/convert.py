"""Convert weights between .caffemodel, .caffemodel.h5 and .pth (formats chosen by extension).

    python tools/convert.py fcn8s-heavy-pascal.caffemodel fcn8s.pth
    python tools/convert.py VGG16.caffemodel VGG16.caffemodel.h5 --net VGG16_deploy.prototxt

Blobs keep their stored shapes; a .caffemodel's layer settings are carried over when the output is a .caffemodel.
With --net the weights go through a Net built from that prototxt (Caffe's loading rules), so old 4-D legacy blobs
(an InnerProduct weight stored 1x1xMxN) come out in the net's shapes. The output is written atomically.
"""
import argparse
import sys

import numpy as np

import fcnapps  # noqa: F401  (the reference nets' Python layers: datalayers on the runtime's layer path)
from runtime import Net
from tools._cli import run as run_tool
from weights import format_of, read_weights, write_weights
from weights.caffemodel import read_caffemodel


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n', 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('input', help='.caffemodel (V1 or V2), .caffemodel.h5 / .h5, or .pth')
    p.add_argument('output', help='.caffemodel, .caffemodel.h5 / .h5, or .pth')
    p.add_argument('--net', metavar='PROTOTXT', help='load through this net (checks names and shapes, as Caffe)')
    return p


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 converted, 2 usage, 3 an unreadable input or a mismatched net."""
    return run_tool(build_parser(), convert, argv)


def convert(args):
    if args.net:
        net = Net(args.net)
        copied = net.load_arrays(read_weights(args.input), source=args.input)
        net.save(args.output)
        print(f'{args.input} -> {args.output}: {len(copied)} layers through {args.net}')
        return
    net_param = None
    if format_of(args.input) == 'caffemodel':
        arrays, net_param = read_caffemodel(args.input, with_net=True)
        if not len(net_param.layer):
            net_param = None  # V1 files: settings in V1 form are not carried into V2 layers
    else:
        arrays = read_weights(args.input)
    legacy = [k for k, v in arrays.items() for a in v[:1] if a.ndim == 4 and a.shape[:2] == (1, 1)]
    write_weights(args.output, arrays, net_param)
    n = sum(len(v) for v in arrays.values())
    size = sum(int(np.asarray(a).nbytes) for v in arrays.values() for a in v)
    print(f'{args.input} -> {args.output}: {len(arrays)} layers, {n} blobs, {size / 2**20:.1f} MiB')
    if legacy:
        print(f'note: {len(legacy)} layer(s) keep legacy 4-D blob shapes (e.g. {legacy[0]} '
              f'{arrays[legacy[0]][0].shape}); pass --net PROTOTXT to store them in the net\'s shapes')


if __name__ == '__main__':
    sys.exit(main())
