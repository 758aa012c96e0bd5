"""Golden fixtures for convert_imageset and compute_image_mean, made by the real Caffe's tools (the oracle). Run
from the project root:

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_imageset.py'

Writes tests/golden/imageset/:
- images/: five small seeded images (color PNGs of two sizes, a grayscale PNG, a JPEG, a paletted PNG) and
  list.txt naming them with labels (one line without a label part, as a list file may hold);
- <case>.json for each convert_imageset run: [key, value as hex] of the LMDB's records in cursor order, as the
  real convert_imageset wrote them; cases: raw (color, sizes as they are), resized (--resize_height 5
  --resize_width 6 --check_size), gray (--gray, resized), encoded (--encoded), encoded_png (--encode_type png, resized);
- <case>.binaryproto: the real compute_image_mean of that LMDB (raw and encoded aside: their images differ in size);
- <case>.log: compute_image_mean's log (its per-channel means).
Never import the project here.
"""
import json
import os
import shutil
import subprocess
import tempfile

import lmdb
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'imageset')
IMAGES = os.path.join(OUT, 'images')

CASES = {
    'raw': [],
    'resized': ['--resize_height', '5', '--resize_width', '6', '--check_size'],
    'gray': ['--gray', '--resize_height', '5', '--resize_width', '6'],
    'encoded': ['--encoded'],
    'encoded_png': ['--encode_type', 'png', '--resize_height', '5', '--resize_width', '6'],
}


def make_images():
    os.makedirs(IMAGES, exist_ok=True)
    rng = np.random.RandomState(3)
    Image.fromarray(rng.randint(0, 256, (7, 9, 3)).astype(np.uint8)).save(os.path.join(IMAGES, 'a.png'))
    Image.fromarray(rng.randint(0, 256, (7, 9, 3)).astype(np.uint8)).save(os.path.join(IMAGES, 'b.PNG'))
    Image.fromarray(rng.randint(0, 256, (6, 5)).astype(np.uint8)).save(os.path.join(IMAGES, 'gray.png'))
    Image.fromarray(rng.randint(0, 256, (8, 8, 3)).astype(np.uint8)).save(os.path.join(IMAGES, 'c.jpg'),
                                                                          quality=90)
    pal = Image.fromarray(rng.randint(0, 4, (7, 9)).astype(np.uint8), mode='P')
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 10, 20, 30] + [0] * (256 * 3 - 12))
    pal.save(os.path.join(IMAGES, 'pal.png'))
    with open(os.path.join(IMAGES, 'list.txt'), 'w') as f:
        f.write('a.png 0\nb.PNG 1\ngray.png 2\nc.jpg 3\npal.png 12\nmissing.png 4\n')


def records(db):
    env = lmdb.open(db, readonly=True, lock=False)
    with env.begin() as txn:
        items = list(txn.cursor())
    env.close()
    return items


def main():
    make_images()
    with tempfile.TemporaryDirectory() as tmp:
        for case, flags in CASES.items():
            db = os.path.join(tmp, case)
            subprocess.run(['convert_imageset'] + flags + [IMAGES + '/', os.path.join(IMAGES, 'list.txt'), db],
                           check=True)
            items = records(db)
            with open(os.path.join(OUT, case + '.json'), 'w') as f:
                json.dump([[k.decode(), v.hex()] for k, v in items], f, indent=0)
            if case in ('raw', 'encoded'):    # images of several sizes: Caffe's mean refuses them
                continue
            with open(os.path.join(OUT, case + '.log'), 'w') as log:
                subprocess.run(['compute_image_mean', db, os.path.join(OUT, case + '.binaryproto')], check=True,
                               stderr=log, env=dict(os.environ, GLOG_logtostderr='1', GLOG_minloglevel='0'))
    print('wrote', sorted(os.listdir(OUT)))


if __name__ == '__main__':
    main()
