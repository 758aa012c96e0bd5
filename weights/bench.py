"""Time and peak memory of reading and writing a large .caffemodel (not part of the test suite).

    python -m weights.bench --mb 300 [--dir /tmp] [--protobuf]

Makes a VGG16-shaped caffemodel of about the asked size (fc6 holds most of it, as in the real file), then, each in
a fresh process, reads it with read_weights and writes it back with write_weights, reporting the wall time and the
peak resident memory above the process's baseline after imports (VmHWM). --protobuf also measures the plain
protobuf parse (NetParameter.ParseFromString + numpy copies) for comparison.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from netspec import caffe_pb2
from .io import read_weights, write_weights


def _status_mb(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb():
    return _status_mb('VmRSS')


def _peak_mb():
    """Peak RSS of this process image (VmHWM; ru_maxrss would carry the parent's peak across fork/exec)."""
    return _status_mb('VmHWM')


def make(path, mb):
    scale = mb / 528.0  # the real VGG16 caffemodel is ~528 MiB
    rng = np.random.RandomState(0)
    arrays = {}
    for name, shape in [('conv1_1', (64, 3, 3, 3)), ('conv5_3', (512, 512, 3, 3)),
                        ('fc6', (max(1, int(4096 * scale)), 25088)), ('fc7', (4096, max(1, int(4096 * scale)))),
                        ('fc8', (1000, 4096))]:
        arrays[name] = [rng.standard_normal(shape).astype(np.float32), np.zeros(shape[0], np.float32)]
    write_weights(path, arrays)


def child(mode, path):
    base = _rss_mb()  # after the module's imports: they are part of the baseline
    t = time.perf_counter()
    if mode == 'read':
        arrays = read_weights(path)
    elif mode == 'protobuf':
        with open(path, 'rb') as f:
            msg = caffe_pb2.NetParameter.FromString(f.read())
        arrays = {lp.name: [np.array(b.data, dtype=np.float32).reshape(tuple(b.shape.dim)) for b in lp.blobs]
                  for lp in msg.layer}
    elif mode == 'write':
        arrays = read_weights(path)
        t = time.perf_counter()
        write_weights(path + '.out.caffemodel', arrays)
        os.unlink(path + '.out.caffemodel')
    dt = time.perf_counter() - t
    n = sum(a.nbytes for v in arrays.values() for a in v)
    print(f'{dt:.3f} {base:.1f} {_peak_mb():.1f} {n / 2**20:.1f}')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], allow_abbrev=False)
    p.add_argument('--mb', type=float, default=300)
    p.add_argument('--dir', default=tempfile.gettempdir())
    p.add_argument('--protobuf', action='store_true')
    args = p.parse_args(argv)
    path = os.path.join(args.dir, f'bench_{int(args.mb)}mb.caffemodel')
    try:
        subprocess.run([sys.executable, '-m', 'weights.bench', '--make', path, str(args.mb)], check=True)
        size = os.path.getsize(path) / 2**20
        print(f'file {path}: {size:.1f} MiB')
        for mode in ['read', 'write'] + (['protobuf'] if args.protobuf else []):
            out = subprocess.run([sys.executable, '-m', 'weights.bench', '--child', mode, path],
                                 capture_output=True, text=True, check=True).stdout.split()
            dt, base, peak, data = map(float, out)
            print(f'{mode:8s} {dt:7.2f} s  peak RSS {peak:7.1f} MiB (baseline {base:.0f}, above it '
                  f'{peak - base:7.1f} MiB = {(peak - base) / size:.2f}x the file; arrays {data:.0f} MiB)')
    finally:
        if os.path.exists(path):
            os.unlink(path)


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--child':
        child(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == '--make':
        make(sys.argv[2], float(sys.argv[3]))
    else:
        main()
