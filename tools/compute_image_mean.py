"""compute_image_mean: compute the mean_image of a set of images given by an lmdb (Caffe's tool and flags).

    compute_image_mean [FLAGS] INPUT_DB [OUTPUT_FILE]

Writes OUTPUT_FILE (mean.binaryproto: a BlobProto 1 x C x H x W, as Caffe's Data layer's mean_file and
caffe.io.blobproto_to_array read it) and logs each channel's mean (datalayers.image_mean).

Exit status (tools/_cli.py): 0 done, 2 usage, 3 bad input (no database, an empty one, Datum of different sizes).
"""
import argparse
import logging
import os
import sys

from datalayers.image_mean import channel_means, compute_image_mean, write_blobproto
from solvers import setup_logging
from solvers.logs import log
from tools._cli import run
from tools._gflags import flag


def build_parser():
    ap = argparse.ArgumentParser(prog='compute_image_mean', description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('db', help='INPUT_DB: an LMDB of Datum')
    ap.add_argument('out', nargs='?', help='OUTPUT_FILE: the mean as a binaryproto')
    flag(ap, 'backend', default='lmdb', help='The backend {lmdb} containing the images')
    return ap


def main(argv=None):
    return run(build_parser(), mean, argv)


def mean(args):
    setup_logging(logging.INFO)
    if args.backend != 'lmdb':
        raise ValueError(f'backend {args.backend!r}: only lmdb is read here')
    if not os.path.isdir(args.db):
        raise FileNotFoundError(f'{args.db}: no LMDB folder there')
    blob = compute_image_mean(args.db, log=log.info)
    if args.out:
        log.info('Write to %s', args.out)
        write_blobproto(blob, args.out)
    channel_means(blob, log=log.info)


if __name__ == '__main__':
    sys.exit(main())
