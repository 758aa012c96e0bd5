"""Golden fixtures for the solvers, made by the real Caffe (the oracle). Run in the oracle's venv:

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_solvers.py'

Writes tests/golden/solvers/:
- lr_policies.npz: the rate of every lr policy at iterations 0..1000, as Caffe's SGDSolver uses it. Method: a net
  with one weight w (InnerProduct 1x1, no bias, its top a loss of weight 1, input 1, so dL/dw = 1), SGD with
  momentum 0 and weight decay 0: before each step(1) w is set to 0, so after it w = 0 - rate * 1 exactly
  (history = 0 * h + rate * 1), and the rate is -w, bit for bit in float32.
- thin_fcn.prototxt, solvers.npz: a thin FCN with Input data/label (conv, relu, pool, conv, score, a frozen deconv,
  crop, SoftmaxWithLoss with ignore_label 255 and normalize false), seeded weights, 10 steps of each solver type with
  iter_size 2, mixed lr_mult/decay_mult (lr_mult 0 included), clip_gradients, L2 weight decay (and one L1 run); the
  inputs of every step, the weights after every step, and the history after step 10 (read from Caffe's own
  .solverstate snapshot).
- npz_data_layer.py, pydata.npz, thin_fcn_pydata.prototxt, solver_pydata.prototxt, pydata_run.npz: the same thin
  FCN fed by a Python data layer in a seeded random order, SGD with iter_size 2 (each pass draws its own sample):
  the weights after every step.
- sgd_iter_10.solverstate / .caffemodel and sgd_h5_iter_10.solverstate.h5 / .caffemodel.h5: Caffe's own snapshots,
  so tests can check that ours have the same layout.
Never import the project here (the oracle's protobuf is older).
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np

import caffe
from caffe.proto import caffe_pb2
from google.protobuf import text_format

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'solvers')

LR_NET = """name: "one_weight"
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" loss_weight: 1
        inner_product_param { num_output: 1 bias_term: false } }
"""

POLICIES = {
    'fixed': dict(base_lr=0.0123),
    'step': dict(base_lr=0.0123, gamma=0.37, stepsize=97),
    'exp': dict(base_lr=0.0123, gamma=0.9977),
    'inv': dict(base_lr=0.0123, gamma=0.0013, power=0.75),
    'multistep': dict(base_lr=0.0123, gamma=0.31, stepvalue=[50, 51, 300, 777]),
    'poly': dict(base_lr=0.0123, power=0.9, max_iter=1000),
    'sigmoid': dict(base_lr=0.0123, gamma=-0.011, stepsize=431),
}

THIN_FCN = """name: "thin_fcn"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } } }
layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 1 dim: 1 dim: 16 dim: 16 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
        convolution_param { num_output: 4 pad: 10 kernel_size: 3 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2"
        param { lr_mult: 0.5 decay_mult: 2 } param { lr_mult: 0 decay_mult: 1 }
        convolution_param { num_output: 6 pad: 1 kernel_size: 3 } }
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
layer { name: "score" type: "Convolution" bottom: "conv2" top: "score"
        param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
        convolution_param { num_output: 3 kernel_size: 1 } }
layer { name: "upscore" type: "Deconvolution" bottom: "score" top: "upscore" param { lr_mult: 0 }
        convolution_param { num_output: 3 bias_term: false kernel_size: 4 stride: 2 } }
layer { name: "crop" type: "Crop" bottom: "upscore" bottom: "data" top: "crop" crop_param { axis: 2 offset: 9 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "crop" bottom: "label" top: "loss"
        loss_param { ignore_label: 255 normalize: false } }
"""

# (solver type, name, settings); iter_size 2, clip_gradients and weight decay everywhere.
RUNS = [
    ('SGD', 'sgd', dict(base_lr=2e-3, momentum=0.99)),
    ('SGD', 'sgd_l1', dict(base_lr=2e-3, momentum=0.99, regularization_type='L1', weight_decay=0.05)),
    ('SGD', 'sgd_step', dict(base_lr=2e-3, momentum=0.99, lr_policy='step', gamma=0.5, stepsize=3)),
    ('Nesterov', 'nesterov', dict(base_lr=2e-3, momentum=0.99)),
    ('AdaGrad', 'adagrad', dict(base_lr=0.05, momentum=0.0)),
    ('RMSProp', 'rmsprop', dict(base_lr=0.01, momentum=0.0, rms_decay=0.98)),
    ('AdaDelta', 'adadelta', dict(base_lr=1.0, momentum=0.99, delta=1e-6)),
    ('Adam', 'adam', dict(base_lr=0.01, momentum=0.99, momentum2=0.999, lr_policy='inv', gamma=0.1, power=0.75)),
]
STEPS = 10


def solver_text(net_path, prefix, settings, fmt='BINARYPROTO'):
    p = caffe_pb2.SolverParameter()
    p.net = net_path
    p.lr_policy = 'fixed'
    p.display = 0
    p.max_iter = 100000
    p.snapshot_prefix = prefix
    p.snapshot_format = getattr(caffe_pb2.SolverParameter, fmt)
    p.solver_mode = caffe_pb2.SolverParameter.CPU
    p.random_seed = 1701
    for k, v in settings.items():
        if isinstance(v, list):
            getattr(p, k).extend(v)
        else:
            setattr(p, k, v)
    return text_format.MessageToString(p)


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


def lr_policies(tmp):
    net = write(os.path.join(tmp, 'one_weight.prototxt'), LR_NET)
    out = {}
    for name, settings in POLICIES.items():
        s = dict(lr_policy=name, momentum=0.0, weight_decay=0.0, type='SGD')
        s.update(settings)
        path = write(os.path.join(tmp, f'lr_{name}.prototxt'), solver_text(net, os.path.join(tmp, 'lr'), s))
        solver = caffe.get_solver(path)
        solver.net.blobs['x'].data[...] = 1
        rates = np.zeros(1001, np.float32)
        for it in range(1001):
            assert solver.iter == it
            solver.net.params['ip'][0].data[...] = 0
            solver.step(1)
            rates[it] = -solver.net.params['ip'][0].data.flat[0]
        out[name] = rates
    out['settings'] = np.array(json.dumps(POLICIES))
    np.savez(os.path.join(OUT, 'lr_policies.npz'), **out)
    print('lr policies:', {k: (float(v[0]), float(v[-1])) for k, v in out.items() if k != 'settings'})


def bilinear(k):
    f = (k + 1) // 2
    c = f - 1 if k % 2 == 1 else f - 0.5
    og = np.ogrid[:k, :k]
    return ((1 - abs(og[0] - c) / f) * (1 - abs(og[1] - c) / f)).astype(np.float32)


def initial_weights(net):
    rng = np.random.RandomState(1234)
    w = {}
    for name, blobs in net.params.items():
        w[name] = []
        for i, b in enumerate(blobs):
            if name == 'upscore':
                a = np.zeros(b.data.shape, np.float32)
                for c in range(a.shape[0]):
                    a[c, c] = bilinear(a.shape[2])
            else:
                a = (rng.randn(*b.data.shape) * (0.3 if i == 0 else 0.1)).astype(np.float32)
            w[name].append(a)
    return w


def step_inputs():
    rng = np.random.RandomState(4321)
    xs = (rng.randn(STEPS, 1, 3, 16, 16) * 2).astype(np.float32)
    ys = rng.randint(0, 3, size=(STEPS, 1, 1, 16, 16)).astype(np.float32)
    ys[rng.rand(*ys.shape) < 0.15] = 255
    return xs, ys


def read_state(path):
    st = caffe_pb2.SolverState()
    with open(path, 'rb') as f:
        st.ParseFromString(f.read())
    hist = []
    for b in st.history:
        shape = tuple(b.shape.dim) if b.HasField('shape') else (b.num, b.channels, b.height, b.width)
        hist.append(np.array(b.data, np.float32).reshape(shape))
    return st, hist


def solver_runs(tmp):
    net_path = write(os.path.join(OUT, 'thin_fcn.prototxt'), THIN_FCN)
    xs, ys = step_inputs()
    out = {'inputs_data': xs, 'inputs_label': ys}
    for stype, name, settings in RUNS:
        s = dict(type=stype, iter_size=2, clip_gradients=25.0, weight_decay=5e-3)
        s.update(settings)
        text = solver_text(net_path, os.path.join(tmp, name), s)
        write(os.path.join(OUT, f'solver_{name}.prototxt'), text.replace(net_path, 'thin_fcn.prototxt')
              .replace(os.path.join(tmp, name), name))
        solver = caffe.get_solver(write(os.path.join(tmp, f'solver_{name}.prototxt'), text))
        init = initial_weights(solver.net)
        for lname, arrays in init.items():
            for i, a in enumerate(arrays):
                solver.net.params[lname][i].data[...] = a
                out[f'init/{lname}/{i}'] = a
        for step in range(STEPS):
            solver.net.blobs['data'].data[...] = xs[step]
            solver.net.blobs['label'].data[...] = ys[step]
            solver.step(1)
            out[f'{name}/loss/{step}'] = np.float32(solver.net.blobs['loss'].data)
            for lname, blobs in solver.net.params.items():
                for i, b in enumerate(blobs):
                    out[f'{name}/step{step + 1}/{lname}/{i}'] = b.data.copy()
        solver.snapshot()
        st, hist = read_state(os.path.join(tmp, f'{name}_iter_{STEPS}.solverstate'))
        assert st.iter == STEPS, st.iter
        for j, h in enumerate(hist):
            out[f'{name}/history/{j}'] = h
        out[f'{name}/current_step'] = np.int64(st.current_step)
        print(name, 'loss', [float(out[f'{name}/loss/{k}']) for k in (0, STEPS - 1)], 'history blobs', len(hist))
        if name == 'sgd':
            for ext in ('.solverstate', '.caffemodel'):
                shutil.copy(os.path.join(tmp, f'sgd_iter_{STEPS}{ext}'), os.path.join(OUT, f'sgd_iter_{STEPS}{ext}'))
            h5 = caffe.get_solver(write(os.path.join(tmp, 'solver_h5.prototxt'),
                                        solver_text(net_path, os.path.join(tmp, 'sgd_h5'), s, fmt='HDF5')))
            for lname, blobs in solver.net.params.items():
                for i, b in enumerate(blobs):
                    h5.net.params[lname][i].data[...] = b.data
            for step in range(STEPS):
                h5.net.blobs['data'].data[...] = xs[step]
                h5.net.blobs['label'].data[...] = ys[step]
                h5.step(1)
            h5.snapshot()
            for ext in ('.solverstate.h5', '.caffemodel.h5'):
                shutil.copy(os.path.join(tmp, f'sgd_h5_iter_{STEPS}{ext}'), os.path.join(OUT, f'sgd_h5_iter_{STEPS}{ext}'))
    np.savez_compressed(os.path.join(OUT, 'solvers.npz'), **out)


def restore_check(state_path):
    """Caffe restores a snapshot written by this project (solvers.Solver.snapshot of the golden SGD run after 5
    steps) and runs steps 6..10; prints the largest relative difference to the golden weights after step 10."""
    xs, ys = step_inputs()
    g = np.load(os.path.join(OUT, 'solvers.npz'))
    state_path = os.path.abspath(state_path)
    os.chdir(OUT)  # Caffe resolves the solver's net path against the working directory
    solver = caffe.get_solver('solver_sgd.prototxt')
    solver.restore(state_path)
    assert solver.iter == 5, solver.iter
    for step in range(5, STEPS):
        solver.net.blobs['data'].data[...] = xs[step]
        solver.net.blobs['label'].data[...] = ys[step]
        solver.step(1)
    worst = 0.0
    for lname, blobs in solver.net.params.items():
        for i, b in enumerate(blobs):
            ref = g[f'sgd/step{STEPS}/{lname}/{i}']
            worst = max(worst, float(np.abs(b.data - ref).max() / max(np.abs(ref).max(), 1e-30)))
    print(f'Caffe restored {state_path} (iter {solver.iter}): max relative difference to the golden run {worst:.3g}')
    return worst


def python_layer_run(tmp):
    """The training flow of the reference recipes: a Python data layer (npz_data_layer.py, random order) feeds
    the net, and every one of the iter_size passes draws its own sample. SGD, momentum 0.99, iter_size 2, clipping;
    10 steps from the same initial weights; saves the weights after each step (pydata_run.npz)."""
    sys.path.insert(0, OUT)
    rng = np.random.RandomState(777)
    data = (rng.randn(6, 1, 3, 16, 16) * 2).astype(np.float32)
    label = rng.randint(0, 3, size=(6, 1, 1, 16, 16)).astype(np.float32)
    label[rng.rand(*label.shape) < 0.15] = 255
    np.savez(os.path.join(OUT, 'pydata.npz'), data=data, label=label)
    net = THIN_FCN.replace(
        'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } } }\n'
        'layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 1 dim: 1 dim: 16 dim: 16 } } }',
        'layer { name: "data" type: "Python" top: "data" top: "label" python_param { module: "npz_data_layer" '
        'layer: "NpzDataLayer" param_str: "{\'npz\': \'pydata.npz\', \'seed\': 1337}" } }')
    assert 'Python' in net
    write(os.path.join(OUT, 'thin_fcn_pydata.prototxt'), net)
    s = dict(type='SGD', iter_size=2, clip_gradients=25.0, weight_decay=5e-3, base_lr=2e-3, momentum=0.99)
    text = solver_text('thin_fcn_pydata.prototxt', 'pydata', s)
    write(os.path.join(OUT, 'solver_pydata.prototxt'), text)
    cwd = os.getcwd()
    os.chdir(OUT)
    try:
        solver = caffe.get_solver('solver_pydata.prototxt')
    finally:
        os.chdir(cwd)
    init = np.load(os.path.join(OUT, 'solvers.npz'))
    for lname, blobs in solver.net.params.items():
        for i, b in enumerate(blobs):
            b.data[...] = init[f'init/{lname}/{i}']
    out = {}
    for step in range(STEPS):
        solver.step(1)
        out[f'loss/{step}'] = np.float32(solver.net.blobs['loss'].data)
        for lname, blobs in solver.net.params.items():
            for i, b in enumerate(blobs):
                out[f'step{step + 1}/{lname}/{i}'] = b.data.copy()
    np.savez_compressed(os.path.join(OUT, 'pydata_run.npz'), **out)
    print('python data layer run: loss', [float(out[f'loss/{k}']) for k in (0, STEPS - 1)])


def main():
    caffe.set_mode_cpu()
    if sys.argv[1:2] == ['restore']:
        for path in sys.argv[2:]:
            assert restore_check(path) < 1e-5
        return
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp()
    try:
        what = sys.argv[1:] or ['lr', 'solvers', 'pydata']
        if 'lr' in what:
            lr_policies(tmp)
        if 'solvers' in what:
            solver_runs(tmp)
        if 'pydata' in what:
            python_layer_run(tmp)
    finally:
        shutil.rmtree(tmp)


if __name__ == '__main__':
    main()
