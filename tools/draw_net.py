"""draw_net: draw a graph of the net architecture (Caffe's python/draw_net.py and its flags).

    draw_net [--rankdir LR] [--phase ALL|TRAIN|TEST] [--display_lrm] NET.prototxt OUT.{png,svg,pdf,dot}

Drawn by pycaffe.draw (caffe.draw) through pydot; images need graphviz's `dot` program, a .dot or .gv file
(the DOT text) does not.

Exit status (tools/_cli.py): 0 drawn, 2 usage (an unknown phase), 3 bad input (a missing or malformed prototxt,
no graphviz for an image format).
"""
import argparse
import sys

from netspec import caffe_pb2, read_net
from pycaffe.draw import draw_net_to_file
from tools._cli import UsageError, run

PHASES = {'TRAIN': caffe_pb2.TRAIN, 'TEST': caffe_pb2.TEST, 'ALL': None}


def build_parser():
    ap = argparse.ArgumentParser(prog='draw_net', description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('input_net_proto_file', help='Input network prototxt file')
    ap.add_argument('output_image_file', help='Output image file')
    ap.add_argument('--rankdir', default='LR', help='One of TB (top-bottom, i.e., vertical), RL (right-left, i.e., '
                                                    'horizontal), or another valid dot option (default LR)')
    ap.add_argument('--phase', default='ALL', help='Which network phase to draw: can be TRAIN, TEST, or ALL. If '
                                                   'ALL, then all layers are drawn regardless of phase.')
    ap.add_argument('--display_lrm', action='store_true', help='Use this flag to visualize the learning rate '
                    'multiplier, when non-zero, for the learning layers (Convolution, Deconvolution, InnerProduct).')
    return ap


def main(argv=None):
    return run(build_parser(), draw, argv)


def draw(args):
    if args.phase not in PHASES:
        raise UsageError(f'Unknown phase: {args.phase}')
    net = read_net(args.input_net_proto_file)
    print(f'Drawing net to {args.output_image_file}')
    draw_net_to_file(net, args.output_image_file, args.rankdir, PHASES[args.phase], args.display_lrm)


if __name__ == '__main__':
    sys.exit(main())
