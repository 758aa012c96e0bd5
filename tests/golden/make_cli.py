"""Golden fixtures for the `caffe` command line, made by the real Caffe (the oracle). Run from the project root:

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_cli.py'

Reads tests/golden/cli/{net.prototxt, solver.prototxt, seq_data_layer.py} (a thin classifier fed by a Python data
layer that walks cli_data.npz in file order, so a run has no randomness) and writes into tests/golden/cli/:
- cli_data.npz: the samples (6 train, 4 test; 3x8x8, labels 0..2), seeded;
- init.caffemodel: seeded weights, written by Caffe's Net.save;
- train.log: the log of what `caffe train -solver solver.prototxt -weights init.caffemodel` does, run in a copy of
  the folder (display 1, average_loss 2, a step lr policy, tests every 2 iterations, snapshots every 2 and at the
  end), through pycaffe: get_solver, copy_from('init.caffemodel') into the train and test nets (caffe.cpp's
  CopyLayers), solve(). The oracle's own `caffe` binary (brocolli's fork) drops the -weights flag silently;
- cli_iter_5.caffemodel: the weights that run ends with;
- train_binary.log: the oracle's `caffe train -solver solver.prototxt -snapshot cli_iter_0.solverstate`, resuming
  from a snapshot of the initialized solver at iteration 0 (pycaffe's Solver.snapshot after the copy_from): the
  same run through the binary and its -snapshot flag;
- test.log: the oracle's `caffe test -model net.prototxt -weights cli_iter_5.caffemodel -iterations 3`;
- time_train.log, time_test.log: the oracle's `caffe time -model net.prototxt -iterations 2 -phase TRAIN|TEST`.
The glog of the oracle prefixes lines with the year (I20261206 ...), which the glog of Caffe 1.0's time did not;
the tests strip it before reading the logs as Caffe's parse_log.py does. Never import the project here.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'cli')

PYCAFFE_TRAIN = """
import sys
import caffe
caffe.set_mode_cpu()
s = caffe.get_solver('solver.prototxt')
for n in [s.net] + list(s.test_nets):
    n.copy_from('init.caffemodel')
if sys.argv[1:] == ['snapshot']:
    s.snapshot()
else:
    s.solve()
"""


def make_data():
    rng = np.random.RandomState(17)
    arrays = {'train_data': rng.randn(6, 3, 8, 8).astype(np.float32),
              'train_label': rng.randint(0, 3, size=6).astype(np.float32),
              'test_data': rng.randn(4, 3, 8, 8).astype(np.float32),
              'test_label': rng.randint(0, 3, size=4).astype(np.float32)}
    np.savez(os.path.join(OUT, 'cli_data.npz'), **arrays)


def make_weights():
    import caffe
    sys.path.insert(0, OUT)
    net = caffe.Net(os.path.join(OUT, 'net.prototxt'), caffe.TEST)
    rng = np.random.RandomState(5)
    for name, blobs in net.params.items():
        for b in blobs:
            b.data[...] = (rng.randn(*b.data.shape) * 0.3).astype(np.float32)
    net.save(os.path.join(OUT, 'init.caffemodel'))


def run(cmd, cwd, log):
    env = dict(os.environ, GLOG_logtostderr='1', GLOG_minloglevel='0',
               PYTHONPATH=os.pathsep.join([cwd] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    with open(log, 'w') as f:
        subprocess.run(cmd, cwd=cwd, env=env, stderr=f, check=True)


def main():
    make_data()
    make_weights()
    with tempfile.TemporaryDirectory() as tmp:
        for f in ('net.prototxt', 'solver.prototxt', 'seq_data_layer.py', 'cli_data.npz', 'init.caffemodel'):
            shutil.copy(os.path.join(OUT, f), tmp)
        os.mkdir(os.path.join(tmp, 'snap'))
        run([sys.executable, '-c', PYCAFFE_TRAIN], tmp, os.path.join(OUT, 'train.log'))
        shutil.copy(os.path.join(tmp, 'snap', 'cli_iter_5.caffemodel'), OUT)
        shutil.rmtree(os.path.join(tmp, 'snap'))
        os.mkdir(os.path.join(tmp, 'snap'))
        run([sys.executable, '-c', PYCAFFE_TRAIN, 'snapshot'], tmp, os.devnull)
        for ext in ('caffemodel', 'solverstate'):
            shutil.copy(os.path.join(tmp, 'snap', f'cli_iter_0.{ext}'), OUT)
        run(['caffe', 'train', '-solver', 'solver.prototxt', '-snapshot', 'snap/cli_iter_0.solverstate'], tmp,
            os.path.join(OUT, 'train_binary.log'))
        run(['caffe', 'test', '-model', 'net.prototxt', '-weights', os.path.join(OUT, 'cli_iter_5.caffemodel'),
             '-iterations', '3'], tmp, os.path.join(OUT, 'test.log'))
        for phase in ('TRAIN', 'TEST'):
            run(['caffe', 'time', '-model', 'net.prototxt', '-iterations', '2', '-phase', phase], tmp,
                os.path.join(OUT, f'time_{phase.lower()}.log'))
    print('wrote', sorted(os.listdir(OUT)))


if __name__ == '__main__':
    main()
