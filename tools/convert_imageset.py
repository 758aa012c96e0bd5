"""convert_imageset: convert a set of images to the lmdb format used as input for Caffe (Caffe's tool and flags).

    convert_imageset [FLAGS] ROOTFOLDER/ LISTFILE DB_NAME

LISTFILE lines are `PATH LABEL`; each image is ROOTFOLDER + PATH (joined as strings, as Caffe does). The LMDB
holds one Datum per image under the key `%08d_PATH`, which Caffe's Data layer reads (datalayers.imageset).

Exit status (tools/_cli.py): 0 written, 2 usage, 3 bad input (no list file, an existing DB_NAME, a size
mismatch with --check_size, no OpenCV).
"""
import argparse
import logging
import sys

from datalayers.imageset import convert_imageset
from solvers import setup_logging
from solvers.logs import log
from tools._cli import run
from tools._gflags import GflagsParser, bool_flag, flag


def build_parser():
    ap = GflagsParser(prog='convert_imageset', description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('root', help='ROOTFOLDER/: prefix of every listed path')
    ap.add_argument('listfile', help='LISTFILE: lines of PATH LABEL')
    ap.add_argument('db', help='DB_NAME: the LMDB folder to create')
    bool_flag(ap, 'gray', 'When this option is on, treat images as grayscale ones')
    bool_flag(ap, 'shuffle', 'Randomly shuffle the order of images and their labels')
    flag(ap, 'backend', default='lmdb', help='The backend {lmdb} for storing the result')
    flag(ap, 'resize_width', type=int, default=0, help='Width images are resized to')
    flag(ap, 'resize_height', type=int, default=0, help='Height images are resized to')
    bool_flag(ap, 'check_size', 'When this option is on, check that all the datum have the same size')
    bool_flag(ap, 'encoded', 'When this option is on, the encoded image will be save in datum')
    flag(ap, 'encode_type', default='', help="Optional: What type should we encode the image as ('png','jpg',...).")
    return ap


def main(argv=None):
    return run(build_parser(), convert, argv)


def convert(args):
    setup_logging(logging.INFO)
    convert_imageset(args.root, args.listfile, args.db, gray=args.gray, shuffle=args.shuffle, backend=args.backend,
                     resize_height=args.resize_height, resize_width=args.resize_width, check_size=args.check_size,
                     encoded=args.encoded, encode_type=args.encode_type, log=log.info)


if __name__ == '__main__':
    sys.exit(main())
