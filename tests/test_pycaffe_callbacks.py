"""Net callbacks as Caffe 1.0's Net::ForwardFromTo / BackwardFromTo call them (the oracle's pycaffe predates them:
BVLC Caffe 1.0's net.cpp and _caffe.cpp are the reference): the order of the calls with Caffe layer indices
(Split layers included), what a callback sees and what its writes do, and that a net or solver with callbacks
computes exactly what it computes without them."""
import numpy as np
import pytest

import pycaffe as caffe

NET = '''
name: "cb"
layer { name: "input" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 } shape { dim: 2 dim: 1 dim: 6 dim: 6 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "drop" type: "Dropout" bottom: "conv1" top: "conv1" dropout_param { dropout_ratio: 0.3 } }
layer { name: "score" type: "Convolution" bottom: "conv1" top: "score"
        convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "aux" type: "Convolution" bottom: "conv1" top: "aux"
        convolution_param { num_output: 3 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "fuse" type: "Eltwise" bottom: "score" bottom: "aux" top: "fuse" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fuse" bottom: "label" top: "loss" }
'''
LAYERS = ['input', 'conv1', 'relu1', 'drop', 'conv1_drop_0_split', 'score', 'aux', 'fuse', 'loss']
KINDS = ('before_forward', 'after_forward', 'before_backward', 'after_backward')


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / 'net.prototxt'
    path.write_text(NET)
    return str(path)


def make_net(net_file, phase=caffe.TRAIN):
    net = caffe.Net(net_file, phase)
    rng = np.random.RandomState(0)
    for blobs in net.params.values():
        for b in blobs:
            b.data[...] = rng.randn(*b.data.shape) * 0.3
    net.blobs['data'].data[...] = rng.randn(*net.blobs['data'].data.shape)
    net.blobs['label'].data[...] = rng.randint(0, 3, net.blobs['label'].data.shape)
    return net


def record_calls(net):
    calls = []
    for kind in KINDS:
        getattr(net, kind)(lambda i, kind=kind: calls.append((kind, i)))
    return calls


def run(net, seed=5):
    caffe.set_random_seed(seed)
    net.forward()
    net.backward()


def assert_same_state(a, b):
    """Every blob's data and diff and every parameter's diff equal bit for bit."""
    for name in a.blobs:
        np.testing.assert_array_equal(a.blobs[name].data, b.blobs[name].data, err_msg=name)
        np.testing.assert_array_equal(a.blobs[name].diff, b.blobs[name].diff, err_msg=name)
    for layer in a.params:
        for x, y in zip(a.params[layer], b.params[layer]):
            np.testing.assert_array_equal(x.data, y.data, err_msg=layer)
            np.testing.assert_array_equal(x.diff, y.diff, err_msg=layer)


def test_callbacks_get_caffe_layer_indices_split_layers_included_in_caffe_order(net_file):
    net = make_net(net_file)
    assert net._layer_names == LAYERS
    calls = record_calls(net)
    run(net)
    n = len(LAYERS)
    forward = [(k, i) for i in range(n) for k in ('before_forward', 'after_forward')]
    backward = [(k, i) for i in reversed(range(n)) for k in ('before_backward', 'after_backward')]
    assert calls == forward + backward


def test_backward_callbacks_run_for_layers_that_need_no_backward(net_file):
    net = make_net(net_file, caffe.TEST)        # TEST: no layer needs backward, yet Caffe's loop visits each
    calls = record_calls(net)
    net.forward()
    net.backward()
    assert [i for k, i in calls if k == 'after_backward'] == list(reversed(range(len(LAYERS))))


def test_forward_and_backward_ranges_call_back_for_their_layers_only(net_file):
    net = make_net(net_file)
    net.forward()
    calls = record_calls(net)
    net.forward(start='conv1_drop_0_split', end='fuse')
    net.backward(start='fuse', end='score')
    assert calls == [(k, i) for i in (4, 5, 6, 7) for k in ('before_forward', 'after_forward')] + \
        [(k, i) for i in (7, 6, 5) for k in ('before_backward', 'after_backward')]


def test_results_with_callbacks_equal_results_without(net_file):
    plain, called = make_net(net_file), make_net(net_file)
    record_calls(called)
    for _ in range(2):                           # parameter diffs accumulate over backward passes, as in Caffe
        run(plain)
        run(called)
    assert_same_state(plain, called)
    assert np.abs(called.params['conv1'][0].diff).sum() > 0


def test_backward_callbacks_registered_after_the_forward_give_the_same_diffs(net_file):
    plain, called = make_net(net_file), make_net(net_file)
    for net in (plain, called):
        caffe.set_random_seed(5)
        net.forward()
    called.after_backward(lambda i: None)        # the forward kept no per-layer graph: the layers run again
    plain.backward()
    called.backward()
    assert_same_state(plain, called)


def test_a_test_net_backward_with_callbacks_equals_one_without(net_file):
    plain, called = make_net(net_file, caffe.TEST), make_net(net_file, caffe.TEST)
    record_calls(called)
    run(plain)
    run(called)
    assert_same_state(plain, called)


def test_before_forward_sees_the_tops_of_earlier_layers_only(net_file):
    net = make_net(net_file)
    seen = {}
    net.before_forward(lambda i: seen.setdefault(i, (net.blobs['conv1'].data.copy(), net.blobs['fuse'].data.copy())))
    net.forward()
    conv1_before_conv1, fuse_before_conv1 = seen[1]
    assert not conv1_before_conv1.any() and not fuse_before_conv1.any()      # nothing computed yet (zeros)
    np.testing.assert_array_equal(seen[7][1], np.zeros_like(net.blobs['fuse'].data))
    np.testing.assert_array_equal(seen[8][1], net.blobs['fuse'].data)        # before the loss: fuse is made


def test_after_forward_sees_each_in_place_step_of_a_blob(net_file):
    net = make_net(net_file)
    seen = {}
    net.after_forward(lambda i: seen.__setitem__(i, net.blobs['conv1'].data.copy()))
    caffe.set_random_seed(5)
    net.forward()
    conv, relu, drop = seen[1], seen[2], seen[3]
    assert (conv < 0).any()                                       # the convolution's top
    np.testing.assert_array_equal(relu, np.maximum(conv, 0))      # ReLU in place
    kept = drop != 0
    np.testing.assert_allclose(drop[kept], relu[kept] / 0.7, rtol=1e-6)      # Dropout in place: scaled survivors
    np.testing.assert_array_equal(drop, net.blobs['conv1'].data)


def test_a_second_forward_shows_the_last_values_until_each_layer_runs_again(net_file):
    net, twin = make_net(net_file), make_net(net_file)
    for n in (net, twin):
        caffe.set_random_seed(5)
        n.forward()
    seen = []
    net.before_forward(lambda i: seen.append(net.blobs['aux'].data.copy()) if i == LAYERS.index('aux') else None)
    net.blobs['data'].data[...] *= 2
    net.forward()
    np.testing.assert_array_equal(seen[0], twin.blobs['aux'].data)     # the last forward's, as Caffe's blob holds
    assert not np.array_equal(net.blobs['aux'].data, seen[0])


def test_an_error_in_a_callback_reaches_the_caller_as_it_is(net_file):
    net = make_net(net_file)

    def fail(i):
        if i == 3:
            raise KeyError('from the callback')

    net.after_forward(fail)
    with pytest.raises(KeyError, match='from the callback'):
        net.forward()


def test_before_forward_write_into_a_bottom_is_what_the_layer_reads(net_file):
    net = make_net(net_file)
    score = LAYERS.index('score')

    def zero_bottom(i):
        if i == score:
            net.blobs['conv1'].data[...] = 0               # the Split's tops share this memory, as in Caffe

    net.before_forward(zero_bottom)
    net.forward()
    for layer in ('score', 'aux'):                        # a convolution of zeros: its bias
        bias = net.params[layer][1].data[None, :, None, None]
        np.testing.assert_array_equal(net.blobs[layer].data, np.broadcast_to(bias, net.blobs[layer].data.shape))


def test_before_backward_sees_the_top_diff_and_after_backward_the_bottom_diff(net_file):
    net = make_net(net_file)
    relu = LAYERS.index('relu1')
    seen = {}
    net.before_backward(lambda i: seen.setdefault(('before', i), net.blobs['conv1'].diff.copy()))
    net.after_backward(lambda i: seen.setdefault(('after', i), net.blobs['conv1'].diff.copy()))
    run(net)
    top_diff, bottom_diff = seen[('before', relu)], seen[('after', relu)]
    assert top_diff.any()
    np.testing.assert_array_equal(bottom_diff, np.where(net.blobs['conv1'].data > 0, top_diff, 0))
    np.testing.assert_array_equal(seen[('after', LAYERS.index('conv1'))], net.blobs['conv1'].diff)


def test_after_backward_of_a_layer_has_its_parameter_diffs_and_not_those_below(net_file):
    net = make_net(net_file)
    seen = {}
    net.after_backward(lambda i: seen.setdefault(i, (np.abs(net.params['score'][0].diff).sum(),
                                                     np.abs(net.params['conv1'][0].diff).sum())))
    run(net)
    assert seen[LAYERS.index('fuse')] == (0, 0)
    assert seen[LAYERS.index('score')][0] > 0 and seen[LAYERS.index('score')][1] == 0
    assert seen[LAYERS.index('conv1')][1] > 0


def test_before_backward_write_into_a_top_diff_changes_that_layer_backward(net_file):
    net = make_net(net_file)
    score = LAYERS.index('score')

    def zero_top_diff(i):
        if i == score:
            net.blobs['score'].diff[...] = 0

    net.before_backward(zero_top_diff)
    run(net)
    assert not net.params['score'][0].diff.any() and not net.params['score'][1].diff.any()
    assert net.params['aux'][0].diff.any()


SOLVER = ('net: "net.prototxt"\nbase_lr: 0.1\nmomentum: 0.9\nweight_decay: 0.001\nlr_policy: "fixed"\nmax_iter: 3\n'
          'snapshot_prefix: "s"\ndisplay: 0\nrandom_seed: 3\n')


@pytest.fixture
def solver_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'net.prototxt').write_text(NET)
    (tmp_path / 'solver.prototxt').write_text(SOLVER)
    return 'solver.prototxt'


def _solver(path):
    s = caffe.SGDSolver(path)
    rng = np.random.RandomState(1)
    s.net.blobs['data'].data[...] = rng.randn(*s.net.blobs['data'].data.shape)
    s.net.blobs['label'].data[...] = rng.randint(0, 3, s.net.blobs['label'].data.shape)
    return s


def test_a_solver_with_net_callbacks_updates_exactly_as_without(solver_file):
    plain = _solver(solver_file)
    called = _solver(solver_file)
    calls = record_calls(called.net)
    caffe.set_random_seed(7)
    plain.step(3)
    caffe.set_random_seed(7)
    called.step(3)
    assert calls.count(('after_backward', 0)) == 3 and calls.count(('before_forward', 4)) == 3
    for layer in plain.net.params:
        for x, y in zip(plain.net.params[layer], called.net.params[layer]):
            np.testing.assert_array_equal(x.data, y.data, err_msg=layer)
            np.testing.assert_array_equal(x.diff, y.diff, err_msg=layer)


def test_after_backward_in_a_solver_sees_the_gradients_of_this_iteration(solver_file):
    s = _solver(solver_file)
    sums = []
    s.net.after_backward(lambda i: sums.append(np.abs(s.net.params['conv1'][0].diff).sum()) if i == 1 else None)
    s.step(2)
    assert len(sums) == 2 and all(v > 0 for v in sums)


def test_after_backward_takes_an_nccl_object_which_fails_when_called_as_in_a_cpu_caffe(solver_file):
    s = _solver(solver_file)
    s.net.after_backward(caffe.NCCL(s, ''))       # a build without NCCL: Net_after_backward takes any object
    s.net.forward()
    with pytest.raises(TypeError, match='not callable'):
        s.net.backward()


THREE_READERS = '''
layer { name: "input" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } shape { dim: 2 dim: 1 dim: 8 dim: 8 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "a" type: "Convolution" bottom: "conv1" top: "a"
        convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }
layer { name: "b" type: "Convolution" bottom: "conv1" top: "b" convolution_param { num_output: 3 kernel_size: 1 } }
layer { name: "c" type: "Convolution" bottom: "conv1" top: "c"
        convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }
layer { name: "fuse" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "fuse" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fuse" bottom: "label" top: "loss" }
'''


def test_a_split_of_three_readers_adds_their_diffs_in_caffes_order(tmp_path):
    path = tmp_path / 'three.prototxt'
    path.write_text(THREE_READERS)
    plain, called = make_net(str(path)), make_net(str(path))
    called.after_backward(lambda i: None)
    run(plain)
    run(called)
    tops = [called.blobs[f'conv1_conv1_0_split_{k}'].diff for k in range(3)]
    np.testing.assert_array_equal(called.blobs['conv1'].diff, (tops[0] + tops[1]) + tops[2])   # SplitLayer's sum
    # without callbacks autograd adds the three in its own order: the same values up to rounding
    np.testing.assert_allclose(plain.blobs['conv1'].diff, called.blobs['conv1'].diff, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(plain.params['conv1'][0].diff, called.params['conv1'][0].diff, rtol=1e-5, atol=1e-6)
