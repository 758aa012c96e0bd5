"""pycaffe's behaviour as a pycaffe user relies on it: blob arrays are the net's memory (writes take effect, arrays
kept from before follow later forwards), pycaffe's argument checks, Python layers through `caffe.Layer`, the
refusals that name what is not served, caffe.io (load_image / resize_image against scikit-image in the oracle's
environment), and `python -m pycaffe`."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import pycaffe as caffe
from conftest import GOLDEN, ROOT
from golden import make_pycaffe as mp


NET = '''
layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 5 dim: 6 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "up" type: "Deconvolution" bottom: "conv" top: "up" param { lr_mult: 0 }
        convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }
layer { name: "sum" type: "Eltwise" bottom: "up" bottom: "up" top: "out" }
'''


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / 'net.prototxt'
    path.write_text(NET)
    return str(path)


@pytest.fixture
def net(net_file):
    n = caffe.Net(net_file, caffe.TEST)
    rng = np.random.RandomState(0)
    for blobs in n.params.values():
        for b in blobs:
            b.data[...] = rng.randn(*b.data.shape)
    n.blobs['data'].data[...] = rng.randn(1, 2, 5, 6)
    return n


def reference_out(net):
    """The net's output computed with torch.nn.functional from the arrays pycaffe shows."""
    x = torch.from_numpy(net.blobs['data'].data.copy())
    w, b = (torch.from_numpy(a.data.copy()) for a in net.params['conv'])
    y = torch.relu(torch.nn.functional.conv2d(x, w, b, padding=1))
    up = torch.nn.functional.conv_transpose2d(y, torch.from_numpy(net.params['up'][0].data.copy()), stride=2)
    return (2 * up).numpy()


def test_forward_uses_what_was_written_into_params_and_inputs(net):
    out = net.forward()['out']
    np.testing.assert_allclose(out, reference_out(net), rtol=1e-5, atol=1e-5)
    net.params['conv'][0].data[...] *= -1
    net.blobs['data'].data[0, 1] = 3.0
    out = net.forward()['out']
    np.testing.assert_allclose(out, reference_out(net), rtol=1e-5, atol=1e-5)


def test_flat_and_fancy_index_assignment_reach_the_net(net):
    w = net.params['up'][0]
    w.data.flat = np.arange(w.count, dtype=np.float32).flat          # surgery.transplant's coercion
    assert float(net._rt.params['up'][0].detach().reshape(-1)[7]) == 7.0
    w.data[...] = 0
    filt = np.ones((4, 4), np.float32)
    w.data[range(3), range(3), :, :] = filt                           # surgery.interp's diagonal
    t = net._rt.params['up'][0].detach().numpy()
    assert t[1, 1].sum() == 16 and t[0, 1].sum() == 0


def test_forward_returns_the_blob_arrays_and_kept_arrays_follow(net):
    out = net.forward()
    assert out['out'] is net.blobs['out'].data
    kept = net.blobs['out'].data
    before = kept.copy()
    net.blobs['data'].data[...] *= 2
    net.forward()
    assert not np.allclose(kept, before) and np.allclose(kept, reference_out(net), rtol=1e-5, atol=1e-5)


def test_forward_with_inputs_checks_them_as_pycaffe(net):
    with pytest.raises(Exception, match='Input blob arguments do not match net inputs'):
        net.forward(image=np.zeros((1, 2, 5, 6)))
    with pytest.raises(Exception, match='Input is not batch sized'):
        net.forward(data=np.zeros((2, 2, 5, 6)))
    x = np.random.RandomState(3).randn(1, 2, 5, 6).astype(np.float32)
    out = net.forward(data=x)
    assert np.array_equal(net.blobs['data'].data, x)
    np.testing.assert_allclose(out['out'], reference_out(net), rtol=1e-5, atol=1e-5)


def test_reshape_an_input_then_forward(net):
    net.blobs['data'].reshape(1, 2, 7, 9)
    assert net.blobs['data'].data.shape == (1, 2, 7, 9)
    net.reshape()
    assert net.blobs['up'].shape == (1, 3, 16, 20)
    net.blobs['data'].data[...] = 1
    assert net.forward()['out'].shape == (1, 3, 16, 20)
    b = net.blobs['out']
    assert (b.num, b.channels, b.height, b.width, b.count) == (1, 3, 16, 20, 960)


def test_params_and_layers_lists(net):
    assert list(net.params) == ['conv', 'up']
    assert [l.type for l in net.layers] == ['Input', 'Convolution', 'ReLU', 'Deconvolution', 'Split', 'Eltwise']
    assert net._layer_names[4] == 'up_up_0_split'
    assert list(net.blobs) == ['data', 'conv', 'up', 'up_up_0_split_0', 'up_up_0_split_1', 'out']
    assert net.blobs['up_up_0_split_1'].data is net.blobs['up'].data        # a Split shares its bottom's memory
    assert net._blobs[2] is net.blobs['up'] and net._layer_names == list(net.layer_dict)
    assert net.inputs == ['data'] and net.outputs == ['out']
    assert net.layers[1].blobs[0] is net.params['conv'][0]


def test_partial_forward_reads_written_intermediate_blobs(net):
    net.forward()
    net.blobs['conv'].data[...] = 0.5
    got = net.forward(start='up', end='up')
    w = net.params['up'][0].data
    expect = torch.nn.functional.conv_transpose2d(torch.full((1, 3, 5, 6), 0.5), torch.from_numpy(w.copy()),
                                                  stride=2).numpy()
    np.testing.assert_allclose(got['up'], expect, rtol=1e-5, atol=1e-6)


def test_backward_of_a_test_net_fills_parameter_diffs(net):
    net.forward()
    assert not np.any(net.params['conv'][0].diff)
    g = np.random.RandomState(4).randn(1, 3, 12, 14).astype(np.float32)
    # without force_backward no layer contributes to a loss: Caffe computes nothing
    net.backward(out=g)
    assert not np.any(net.params['conv'][0].diff)


def test_backward_with_force_backward_gives_input_and_parameter_diffs(tmp_path):
    path = tmp_path / 'f.prototxt'
    path.write_text('force_backward: true\n' + NET)
    n = caffe.Net(str(path), caffe.TEST)
    rng = np.random.RandomState(1)
    for blobs in n.params.values():
        for b in blobs:
            b.data[...] = rng.randn(*b.data.shape)
    x = torch.from_numpy(rng.randn(1, 2, 5, 6).astype(np.float32))
    n.blobs['data'].data[...] = x.numpy()
    n.forward()
    g = rng.randn(1, 3, 12, 14).astype(np.float32)
    diffs = n.backward(out=g)
    xr = x.clone().requires_grad_(True)
    w, b = (torch.from_numpy(a.data.copy()).requires_grad_(True) for a in n.params['conv'])
    wu = torch.from_numpy(n.params['up'][0].data.copy()).requires_grad_(True)
    y = 2 * torch.nn.functional.conv_transpose2d(torch.relu(torch.nn.functional.conv2d(xr, w, b, padding=1)), wu,
                                                 stride=2)
    y.backward(torch.from_numpy(g))
    np.testing.assert_allclose(diffs['data'], xr.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(n.params['conv'][0].diff, w.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(n.params['up'][0].diff, wu.grad.numpy(), rtol=1e-4, atol=1e-4)   # lr_mult 0 too
    np.testing.assert_allclose(n.blobs['up_up_0_split_0'].diff, g, rtol=1e-6)      # one reader's diff each
    np.testing.assert_allclose(n.blobs['up'].diff, 2 * g, rtol=1e-6)               # the Split adds them


def test_constructors_and_files(net_file, tmp_path):
    with pytest.raises(RuntimeError, match='Could not open file'):
        caffe.Net(str(tmp_path / 'missing.prototxt'), caffe.TEST)
    with pytest.raises(TypeError, match='phase must be caffe.TRAIN'):
        caffe.Net(net_file, 'test')
    a = caffe.Net(net_file, caffe.TEST)
    a.params['conv'][0].data[...] = 0.25
    a.save(str(tmp_path / 'w.caffemodel'))
    a.save_hdf5(str(tmp_path / 'w.h5'))
    for b in (caffe.Net(net_file, str(tmp_path / 'w.caffemodel'), caffe.TEST),
              caffe.Net(net_file, caffe.TEST, weights=str(tmp_path / 'w.caffemodel'))):
        assert np.all(b.params['conv'][0].data == 0.25)
    c = caffe.Net(net_file, caffe.TEST)
    c.load_hdf5(str(tmp_path / 'w.h5'))
    assert np.all(c.params['conv'][0].data == 0.25)


def test_share_with_makes_one_memory(net_file):
    a, b = caffe.Net(net_file, caffe.TEST), caffe.Net(net_file, caffe.TEST)
    b.share_with(a)
    a.params['conv'][0].data[...] = 0.75
    assert np.all(b.params['conv'][0].data == 0.75)


def test_what_is_not_served_says_so(net, net_file):
    with pytest.raises(NotImplementedError, match='caffe.model_libs is not served'):
        caffe.model_libs
    with pytest.raises(RuntimeError, match='set_input_arrays may only be called if the first layer is a '
                                           'MemoryDataLayer'):
        net.set_input_arrays(np.zeros((1, 2, 5, 6), np.float32), np.zeros(1, np.float32))
    with pytest.raises(AttributeError, match='no attribute'):
        caffe.no_such_thing


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the machine without CUDA')
def test_gpu_mode_without_cuda_raises_unless_cpu_fallback(capsys, monkeypatch):
    from pycaffe import _mode
    monkeypatch.setitem(_mode._state, 'announced', False)      # said once per process: maybe by an earlier test
    with pytest.raises(RuntimeError, match='no CUDA device'):
        caffe.set_mode_gpu()
    try:
        caffe.fall_back_to_cpu()
        caffe.set_device(0)
        caffe.set_mode_gpu()
        assert 'stays on the CPU' in capsys.readouterr().err
    finally:
        caffe.fall_back_to_cpu(False)
        caffe.set_mode_cpu()


LAYER_MODULE = '''
import caffe
import numpy as np


class Twice(caffe.Layer):
    def setup(self, bottom, top):
        self.factor = float(eval(self.param_str)['factor'])

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.factor * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        bottom[0].diff[...] = self.factor * top[0].diff

    def add(self):
        self.blobs.add_blob(1, 2)
'''


def test_python_layers_subclass_caffe_layer(tmp_path, monkeypatch):
    (tmp_path / 'twice_layer.py').write_text(LAYER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    caffe.alias_caffe()
    monkeypatch.delitem(sys.modules, 'twice_layer', raising=False)
    request_cleanup = caffe.runner.unalias_caffe
    path = tmp_path / 'p.prototxt'
    path.write_text('force_backward: true\n'
                    'layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 } } }\n'
                    'layer { name: "t" type: "Python" bottom: "data" top: "t" python_param { module: "twice_layer" '
                    'layer: "Twice" param_str: "{\'factor\': 3}" } }\n')
    n = caffe.Net(str(path), caffe.TEST)
    layer = n.layers[1]
    assert type(layer).__name__ == 'Twice' and layer.type == 'Python' and layer.factor == 3
    n.blobs['data'].data[...] = [[1, 2]]
    assert n.forward()['t'].tolist() == [[3, 6]]
    assert n.backward(t=np.array([[1, 1]], np.float32))['data'].tolist() == [[3, 3]]
    layer.add()                      # a learnable blob of the layer, as Caffe's Layer.blobs.add_blob gives
    assert layer.blobs[0].data.shape == (1, 2) and not layer.blobs[0].data.any()
    request_cleanup()


def test_io_matches_scikit_image_as_caffe_io_uses_it(tmp_path):
    ref = np.load(GOLDEN / 'pycaffe' / 'io.npz')
    for name, path in mp.write_io_images(str(tmp_path)).items():
        for color in (True, False):
            got = caffe.io.load_image(path, color)
            want = ref[f'load/{name}/{int(color)}']
            assert got.dtype == np.float32 and got.shape == want.shape, (name, color)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-6, err_msg=f'{name} color={color}')
    im = ref['resize/input']
    for dims, order in mp.IO_RESIZES:
        np.testing.assert_allclose(caffe.io.resize_image(im, dims, order), ref[f'resize/{dims[0]}x{dims[1]}/{order}'],
                                   rtol=0, atol=1e-5, err_msg=f'{dims} order {order}')


def test_io_blobproto_datum_and_transformer():
    a = np.random.RandomState(5).randn(2, 3, 4).astype(np.float32)
    assert np.array_equal(caffe.io.blobproto_to_array(caffe.io.array_to_blobproto(a)), a)
    vec = caffe.io.arraylist_to_blobprotovector_str([a, a[0]])
    back = caffe.io.blobprotovector_str_to_arraylist(vec)
    assert np.array_equal(back[1], a[0])
    u = (np.arange(24).reshape(2, 3, 4) % 256).astype(np.uint8)
    d = caffe.io.array_to_datum(u, label=7)
    assert d.label == 7 and np.array_equal(caffe.io.datum_to_array(d), u)
    t = caffe.io.Transformer({'data': (1, 3, 4, 5)})
    t.set_transpose('data', (2, 0, 1))
    t.set_channel_swap('data', (2, 1, 0))
    t.set_raw_scale('data', 255)
    t.set_mean('data', np.array([10., 20., 30.]))
    img = np.random.RandomState(6).uniform(size=(4, 5, 3)).astype(np.float32)
    x = t.preprocess('data', img)
    assert x.shape == (3, 4, 5)
    np.testing.assert_allclose(x[0], img[:, :, 2] * 255 - 10, rtol=1e-6)
    np.testing.assert_allclose(t.deprocess('data', x), img, rtol=1e-5, atol=1e-6)


def test_python_dash_m_pycaffe_runs_a_script_as_python_would(tmp_path):
    script = tmp_path / 'sub' / 'script.py'
    script.parent.mkdir()
    (script.parent / 'helper.py').write_text('VALUE = 42\n')
    script.write_text('import sys\nimport caffe\nimport caffe.proto.caffe_pb2 as pb\nfrom caffe import layers as L\n'
                      'import helper\n'
                      'print(__name__, sys.argv[1:], helper.VALUE, caffe.TEST, pb.TEST, caffe.__name__)\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, '-m', 'pycaffe', str(script), 'a', 'b'], capture_output=True, text=True,
                         env=env, cwd=str(tmp_path), timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "__main__ ['a', 'b'] 42 1 1 pycaffe"


def test_solver_refuses_a_snapshot_prefix_it_cannot_write(net_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 's.prototxt').write_text(f'net: "{net_file}"\nbase_lr: 0.1\nlr_policy: "fixed"\nsnapshot: 10\n'
                                         'snapshot_prefix: "missing/train"\n')
    with pytest.raises(RuntimeError, match="Cannot write to snapshot prefix .*missing/train"):
        caffe.SGDSolver('s.prototxt')
    (tmp_path / 'missing').mkdir()
    s = caffe.SGDSolver('s.prototxt')
    assert s.iter == 0 and list(s.net.params) == ['conv', 'up'] and not os.listdir(tmp_path / 'missing')


LOSS_NET = '''
layer { name: "input" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }
layer { name: "score" type: "Convolution" bottom: "data" top: "score"
        convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss" }
'''


@pytest.fixture
def solver_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'net.prototxt').write_text(LOSS_NET)
    (tmp_path / 'snap').mkdir()
    (tmp_path / 'solver.prototxt').write_text('net: "net.prototxt"\nbase_lr: 0.1\nmomentum: 0.9\nlr_policy: "fixed"\n'
                                              'max_iter: 5\nsnapshot_prefix: "snap/s"\ndisplay: 0\n')
    return 'solver.prototxt'


def _feed(solver):
    rng = np.random.RandomState(9)
    solver.net.blobs['data'].data[...] = rng.randn(1, 2, 4, 4)
    solver.net.blobs['label'].data[...] = rng.randint(0, 3, (1, 1, 4, 4))


def test_solver_step_snapshot_restore_solve(solver_file, tmp_path):
    s = caffe.get_solver(solver_file)
    assert type(s).__name__ == 'SGDSolver' and s.test_nets == []
    _feed(s)
    losses = []
    for _ in range(3):
        s.step(1)
        losses.append(float(s.net.blobs['loss'].data))
    assert s.iter == 3 and losses[2] < losses[0]
    s.snapshot()
    assert {'s_iter_3.caffemodel', 's_iter_3.solverstate'} <= set(os.listdir(tmp_path / 'snap'))
    w = s.net.params['score'][0].data.copy()
    r = caffe.SGDSolver(solver_file)
    r.restore('snap/s_iter_3.solverstate')
    assert r.iter == 3 and np.array_equal(r.net.params['score'][0].data, w)
    _feed(r)
    r.solve()
    assert r.iter == 5 and os.path.exists(tmp_path / 'snap' / 's_iter_5.caffemodel')


def test_solver_callbacks_see_and_change_the_gradients(solver_file):
    s = caffe.SGDSolver(solver_file)
    _feed(s)
    seen = []

    def ready():
        g = s.net.params['score'][0].diff
        seen.append(float(np.abs(g).sum()))
        g[...] = 0                                  # no update this iteration (momentum history is 0)

    s.add_callback(lambda: None, ready)
    w = s.net.params['score'][0].data.copy()
    s.step(1)
    assert seen and seen[0] > 0
    assert np.array_equal(s.net.params['score'][0].data, w)


def test_classifier_predicts_class_probabilities(tmp_path):
    (tmp_path / 'c.prototxt').write_text(
        'layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }\n'
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" '
        'inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 0.1 } } }\n'
        'layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }\n')
    net = caffe.Net(str(tmp_path / 'c.prototxt'), caffe.TEST)
    net.save(str(tmp_path / 'c.caffemodel'))
    clf = caffe.Classifier(str(tmp_path / 'c.prototxt'), str(tmp_path / 'c.caffemodel'), image_dims=(10, 10),
                           raw_scale=255, channel_swap=(2, 1, 0))
    images = [np.random.RandomState(i).uniform(size=(12, 9, 3)).astype(np.float32) for i in range(3)]
    for oversample in (True, False):
        p = clf.predict(images, oversample=oversample)
        assert p.shape == (3, 4)
        np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)


@pytest.fixture
def host_copies():
    """Blob arrays as on CUDA: host copies of the tensors (simulated on the CPU)."""
    caffe._sync.simulate_device(True)
    yield
    caffe._sync.simulate_device(False)


def test_host_copies_carry_writes_to_the_net_and_follow_it(net_file, host_copies):
    n = caffe.Net(net_file, caffe.TEST)
    w = n.params['conv'][0].data
    assert not np.shares_memory(w, n._rt.params['conv'][0].detach().numpy())
    w[...] = 0.5                                     # written before the next call: it reaches the net
    n.blobs['data'].data[...] = 1.0
    n.forward()
    assert float(n._rt.params['conv'][0].detach().reshape(-1)[0]) == 0.5
    assert float(n._rt.input_value('data').reshape(-1)[0]) == 1.0
    with pytest.raises(ValueError, match='read-only'):
        w[...] = 0.25                                # kept from before the call: refused, not silently lost
    assert n.params['conv'][0].data is w and w.flags.writeable      # read again: current, writable again
    n._rt.params['conv'][0].data.fill_(2.0)          # the tensor changes in a call (as a solver step does)
    caffe._sync.after_call()
    assert float(n.params['conv'][0].data.reshape(-1)[0]) == 2.0


def test_host_copies_in_a_solver(solver_file, host_copies):
    s = caffe.SGDSolver(solver_file)
    _feed(s)
    s.net.params['score'][0].data[...] = 0
    s.step(1)
    g = s.net.params['score'][0].diff
    w = s.net.params['score'][0].data
    assert np.any(w)
    np.testing.assert_allclose(w, -g, rtol=1e-6)     # from 0: Caffe's diff holds the update the step subtracted


def test_parallel_queries_and_timer_answer_as_a_cpu_caffe():
    assert caffe.has_nccl() is False and caffe.solver_count() == 1 and caffe.solver_rank() == 0
    t = caffe.Timer()
    assert t.ms == 0.0
    t.start()
    sum(range(10000))
    t.stop()
    assert t.ms > 0
