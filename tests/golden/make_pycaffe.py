"""Golden fixtures for pycaffe, made by the real Caffe's pycaffe (the oracle):

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_pycaffe.py api io'

api.npz: each case below is a function case_*(caffe, proto_dir) that uses only pycaffe's API; the oracle runs it
with the real `caffe`, the tests run the very same function with `pycaffe` and compare what it returns. The nets
are thin versions of reference nets (trunk convolutions at 1/32 of their channels, 1/16 for AlexNet), written by
`write_nets` from ../shared/reference into `proto_dir` (the oracle stores their text, the tests write that text
back), with seeded weights (make_runtime.net_weight_array) and inputs (make_runtime.input_arrays):

- test_backward_<folder>: the TEST-phase net (val/test prototxt, its Python data layer an Input layer, Dropout
  kept: identity in TEST) run forward, backward, and backward again: every blob's diff (Split tops
  included), every parameter's diff (lr_mult 0 ones stay 0), how far a second backward is from doubling them
  (Caffe's parameter diffs accumulate), the layer and blob lists.
- saliency: voc-fcn8s deploy.prototxt with force_backward, the data reshaped to 37x45, backward from a seeded
  `score` diff: the data diff and every parameter diff (force_backward gives lr_mult 0 parameters diffs too).
- partial: the deploy net without force_backward: forward(end='fc7'), fc7's diff set to its data,
  backward(start='fc7') (no layer contributes to a loss: Caffe computes nothing); then pool4's data scaled and
  forward(start='conv5_1', end='pool5').
- deep_dream: the same with force_backward (diffs reach the data), then a backward over layers pool4..conv3_1
  only, from a seeded pool4 diff.
- coord_map: caffe.coord_map's maps between NetSpec tops and crop()'s offsets on a small FCN-8s-like net.
- api: lists, shapes, loss weights, reshape, forward's returned keys, the legacy constructor.
- solver: an SGD solver over a thin FCN-32s with Input blobs: the test net keeps its own weights until
  share_with, then follows the train net; losses and parameters over three steps.

io.npz: what caffe.io.load_image and resize_image compute for seeded images (see make_io).

shapes.npz (`make_pycaffe.py shapes`): the same scheme for parameter Blob.reshape and the setup/reshape of C++
layers from Python (shape_cases).

Every array is stored in full up to SAMPLES values, else as SAMPLES evenly spaced values, its shape, sum and sum of
absolute values. This file imports caffe only in main().
"""
import importlib
import importlib.util
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'pycaffe')
_spec = importlib.util.spec_from_file_location('make_runtime', os.path.join(HERE, 'make_runtime.py'))
mk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mk)

REFERENCE = mk.REFERENCE
SIZE = (37, 45)
SAMPLES = 96
BACKWARD_FOLDERS = ('voc-fcn8s', 'voc-fcn8s-atonce', 'voc-fcn-alexnet', 'siftflow-fcn16s', 'nyud-fcn32s-color-d',
                    'nyud-fcn32s-color-hha')


# ------------------------------------------------------------------------------------------------ thin nets

def test_file(folder):
    for name in ('val.prototxt', 'test.prototxt'):
        path = os.path.join(REFERENCE, folder, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f'{folder}: no val.prototxt or test.prototxt under {REFERENCE}')


def thin_copy(net, pb2, div, shapes=None, keep_dropout=True):
    """A copy of `net` with trunk convolutions at num_output // div; Python data layers become Input layers of
    `shapes` ({top: shape}); Dropout layers kept unless keep_dropout is False."""
    out = pb2.NetParameter()
    out.CopyFrom(net)
    out.ClearField('layer')
    for lp in net.layer:
        if lp.type == 'Dropout' and not keep_dropout:
            continue
        if lp.type == 'Python' and shapes is not None:
            layer = out.layer.add(name=lp.name, type='Input')
            layer.top.extend(lp.top)
            for t in lp.top:
                layer.input_param.shape.add().dim.extend(shapes[t])
            continue
        layer = out.layer.add()
        layer.CopyFrom(lp)
        if lp.type == 'Convolution' and not lp.name.startswith('score'):
            layer.convolution_param.num_output = max(1, lp.convolution_param.num_output // div)
    return out


def data_shapes(net, H, W):
    return {t: [1, 1 if t in mk.ONE_CHANNEL_TOPS else 3, H, W]
            for lp in net.layer if lp.type == 'Python' for t in lp.top}


def write_nets(proto_dir, pb2, text_format):
    """The thin nets of the cases, written into proto_dir; returns {file name: text}."""
    H, W = SIZE
    texts = {}
    for folder in BACKWARD_FOLDERS:
        with open(test_file(folder)) as f:
            ref = text_format.Parse(f.read(), pb2.NetParameter())
        thin = thin_copy(ref, pb2, mk.trunk_divisor(folder), data_shapes(ref, H, W))
        texts[f'test_{folder}.prototxt'] = text_format.MessageToString(thin)
    with open(os.path.join(REFERENCE, 'voc-fcn8s', 'deploy.prototxt')) as f:
        deploy = thin_copy(text_format.Parse(f.read(), pb2.NetParameter()), pb2, 32)
    texts['deploy.prototxt'] = text_format.MessageToString(deploy)
    deploy.force_backward = True
    texts['deploy_force.prototxt'] = text_format.MessageToString(deploy)
    with open(mk.train_file('voc-fcn32s')) as f:
        ref = text_format.Parse(f.read(), pb2.NetParameter())
    texts['train32.prototxt'] = text_format.MessageToString(
        thin_copy(ref, pb2, 32, data_shapes(ref, H, W), keep_dropout=False))
    with open(test_file('voc-fcn32s')) as f:
        ref = text_format.Parse(f.read(), pb2.NetParameter())
    texts['val32.prototxt'] = text_format.MessageToString(thin_copy(ref, pb2, 32, data_shapes(ref, H, W)))
    texts['solver.prototxt'] = ('train_net: "train32.prototxt"\ntest_net: "val32.prototxt"\ntest_iter: 1\n'
                                'test_interval: 999999999\ntest_initialization: false\ndisplay: 0\n'
                                'lr_policy: "fixed"\nbase_lr: 1e-6\nmomentum: 0.9\nweight_decay: 0.0005\n'
                                'max_iter: 100\n')
    write_texts(proto_dir, texts)
    return texts


def write_texts(proto_dir, texts):
    os.makedirs(proto_dir, exist_ok=True)
    for name, text in texts.items():
        with open(os.path.join(proto_dir, name), 'w') as f:
            f.write(text)


# ------------------------------------------------------------------------------------------------ helpers the cases use

def _parse(caffe, path):
    from google.protobuf import text_format
    with open(path) as f:
        return text_format.Parse(f.read(), caffe.proto.caffe_pb2.NetParameter())


def _fill(net, net_param):
    types = {lp.name: lp.type for lp in net_param.layer}
    for name, blobs in net.params.items():
        for i, b in enumerate(blobs):
            b.data[...] = mk.net_weight_array(name, types[name], i, b.data.shape)


def _feed(net, net_param, seed):
    names = [t for lp in net_param.layer if lp.type == 'Input' for t in lp.top]
    inputs = mk.input_arrays({n: net.blobs[n].data.shape for n in names}, mk.label_classes(net_param), seed)
    for n, v in inputs.items():
        net.blobs[n].data[...] = v
    return inputs


def sample_positions(size):
    return np.linspace(0, size - 1, SAMPLES).round().astype(np.int64)


def _keep(store, key, arr):
    """The array in full up to SAMPLES values; else SAMPLES values at evenly spaced flat positions, the shape, the
    sum and the sum of absolute values."""
    arr = np.asarray(arr, dtype=np.float32)
    if arr.size <= SAMPLES:
        store[key] = arr.copy()
        return
    flat = arr.ravel()
    store[f'{key}:values'] = flat[sample_positions(flat.size)]
    store[f'{key}:shape'] = np.array(arr.shape, dtype=np.int64)
    store[f'{key}:sums'] = np.array([flat.sum(dtype=np.float64), np.abs(flat).sum(dtype=np.float64)])


def _names(values):
    return np.array([str(v) for v in values])


# ------------------------------------------------------------------------------------------------ the cases

def case_test_backward(caffe, proto_dir, folder):
    path = os.path.join(proto_dir, f'test_{folder}.prototxt')
    net_param = _parse(caffe, path)
    net = caffe.Net(path, caffe.TEST)
    _fill(net, net_param)
    _feed(net, net_param, mk.case_seed(folder, *SIZE))
    net.forward()
    net.backward()
    out = {'layers': _names(net._layer_names), 'blobs': _names(net.blobs.keys()),
           'layer_types': _names(l.type for l in net.layers)}
    for name, b in net.blobs.items():
        _keep(out, f'diff/{name}', b.diff)
    first = {}
    for name, blobs in net.params.items():
        for i, b in enumerate(blobs):
            _keep(out, f'param_diff/{name}/{i}', b.diff)
            first[name, i] = b.diff.copy()
    net.backward()
    # a second backward adds the same diffs again (Caffe's parameter diffs accumulate): the largest deviation from
    # twice the first, relative to it
    out['second_backward'] = np.array(max(float(np.abs(b.diff - 2 * first[name, i]).max()) /
                                          max(float(np.abs(first[name, i]).max()), 1e-30)
                                          for name, blobs in net.params.items() for i, b in enumerate(blobs)))
    return out


def case_saliency(caffe, proto_dir):
    path = os.path.join(proto_dir, 'deploy_force.prototxt')
    net_param = _parse(caffe, path)
    net = caffe.Net(path, caffe.TEST)
    _fill(net, net_param)
    net.blobs['data'].reshape(1, 3, *SIZE)
    rng = np.random.RandomState(11)
    net.blobs['data'].data[...] = rng.randn(1, 3, *SIZE).astype(np.float32) * 50
    out = {}
    fwd = net.forward()
    out['forward_keys'] = _names(sorted(fwd))
    _keep(out, 'score', fwd['score'])
    top = rng.randn(*net.blobs['score'].data.shape).astype(np.float32)
    got = net.backward(**{'score': top})
    out['backward_keys'] = _names(sorted(got))
    _keep(out, 'data_diff', got['data'])
    for name, b in net.blobs.items():
        _keep(out, f'diff/{name}', b.diff)
    for name, blobs in net.params.items():
        for i, b in enumerate(blobs):
            _keep(out, f'param_diff/{name}/{i}', b.diff)
    return out


def case_partial(caffe, proto_dir):
    path = os.path.join(proto_dir, 'deploy.prototxt')
    net_param = _parse(caffe, path)
    net = caffe.Net(path, caffe.TEST)
    _fill(net, net_param)
    net.blobs['data'].reshape(1, 3, *SIZE)
    rng = np.random.RandomState(12)
    net.blobs['data'].data[...] = rng.randn(1, 3, *SIZE).astype(np.float32) * 50
    out = {}
    fwd = net.forward(end='fc7')
    out['forward_keys'] = _names(sorted(fwd))
    _keep(out, 'fc7', fwd['fc7'])
    dst = net.blobs['fc7']
    dst.diff[...] = dst.data
    got = net.backward(start='fc7')
    out['backward_keys'] = _names(sorted(got))
    _keep(out, 'data_diff', got['data'])
    for name in ('pool5', 'conv5_3', 'pool4', 'conv1_1', 'fc6'):
        _keep(out, f'diff/{name}', net.blobs[name].diff)
    for name, blobs in net.params.items():
        for i, b in enumerate(blobs):
            _keep(out, f'param_diff/{name}/{i}', b.diff)
    net.blobs['pool4'].data[...] *= 0.5
    got = net.forward(start='conv5_1', end='pool5')
    out['partial_keys'] = _names(sorted(got))
    _keep(out, 'pool5', got['pool5'])
    _keep(out, 'score_after_partial', net.blobs['score'].data)
    return out


def case_deep_dream(caffe, proto_dir):
    """The deep-dream pattern on the force_backward deploy net: forward(end=...), the top's diff set to its data,
    backward(start=...) to the data; then a backward over a middle range only (start='pool4', end='conv3_1')."""
    path = os.path.join(proto_dir, 'deploy_force.prototxt')
    net_param = _parse(caffe, path)
    net = caffe.Net(path, caffe.TEST)
    _fill(net, net_param)
    net.blobs['data'].reshape(1, 3, *SIZE)
    rng = np.random.RandomState(13)
    net.blobs['data'].data[...] = rng.randn(1, 3, *SIZE).astype(np.float32) * 50
    out = {}
    net.forward(end='fc7')
    dst = net.blobs['fc7']
    dst.diff[...] = dst.data
    got = net.backward(start='fc7')
    _keep(out, 'data_diff', got['data'])
    for name in ('pool5', 'conv5_3', 'pool4', 'pool4_pool4_0_split_0', 'conv1_1', 'fc6'):
        _keep(out, f'diff/{name}', net.blobs[name].diff)
    for name in ('conv1_1', 'conv3_1', 'conv4_2', 'fc6', 'fc7', 'score_pool4'):
        _keep(out, f'param_diff/{name}/0', net.params[name][0].diff)
    net.clear_param_diffs()
    net.blobs['pool4'].diff[...] = rng.randn(*net.blobs['pool4'].data.shape).astype(np.float32)
    got = net.backward(start='pool4', end='conv3_1')
    out['range_keys'] = _names(sorted(got))
    _keep(out, 'range/pool2_diff', got['pool2'])
    for name in ('conv3_1', 'conv4_1', 'conv4_3', 'conv2_2', 'conv5_1'):
        _keep(out, f'range/param_diff/{name}/0', net.params[name][0].diff)
    for name in ('conv4_1', 'conv3_3', 'pool3'):
        _keep(out, f'range/diff/{name}', net.blobs[name].diff)
    return out


def case_coord_map(caffe, proto_dir):
    """caffe.coord_map on a NetSpec with FCN-8s geometry: maps between tops, and crop()'s offsets."""
    cm = importlib.import_module(caffe.__name__ + '.coord_map')
    L, P, coord_map_from_to, crop = caffe.layers, caffe.params, cm.coord_map_from_to, cm.crop
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 100, 100]))
    n.conv1 = L.Convolution(n.data, kernel_size=3, pad=100, num_output=2)
    n.pool1 = L.Pooling(n.conv1, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    n.conv2 = L.Convolution(n.pool1, kernel_size=3, pad=1, num_output=2)
    n.pool2 = L.Pooling(n.conv2, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    n.fc = L.Convolution(n.pool2, kernel_size=7, num_output=2)
    n.up2 = L.Deconvolution(n.fc, convolution_param=dict(num_output=2, kernel_size=4, stride=2, bias_term=False))
    n.skip = L.Convolution(n.pool1, kernel_size=1, num_output=2)
    n.skipc = crop(n.skip, n.up2)
    n.fuse = L.Eltwise(n.up2, n.skipc)
    n.up = L.Deconvolution(n.fuse, convolution_param=dict(num_output=2, kernel_size=4, stride=2, bias_term=False))
    n.score = crop(n.up, n.data)
    out = {}
    for name, (a, b) in {'up_data': (n.up, n.data), 'skip_up2': (n.skip, n.up2), 'fc_data': (n.fc, n.data),
                         'data_pool2': (n.data, n.pool2)}.items():
        ax, scale, shift = coord_map_from_to(a, b)
        out[name] = np.array([-1 if ax is None else ax, float(np.ravel(scale)[0]), float(np.ravel(shift)[0])])
    proto = n.to_proto()
    for lp in proto.layer:
        if lp.type == 'Crop':
            out[f'crop/{lp.name}'] = np.array([lp.crop_param.axis] + list(lp.crop_param.offset))
    return out


def case_api(caffe, proto_dir):
    path = os.path.join(proto_dir, 'test_voc-fcn8s.prototxt')
    net = caffe.Net(path, caffe.TEST)
    out = {'inputs': _names(net.inputs), 'outputs': _names(net.outputs), '_inputs': np.array(list(net._inputs)),
           '_outputs': np.array(list(net._outputs)),
           'loss_weights': np.array(list(net._blob_loss_weights), dtype=np.float32),
           'params': _names(net.params.keys()),
           'param_shapes': _names(f'{k}:{i}:{tuple(b.data.shape)}' for k, bs in net.params.items()
                                  for i, b in enumerate(bs)),
           'top_names': _names(f'{k}:{",".join(v)}' for k, v in net.top_names.items()),
           'bottom_names': _names(f'{k}:{",".join(v)}' for k, v in net.bottom_names.items()),
           'top_ids': _names(','.join(map(str, net._top_ids(i))) for i in range(len(net.layers))),
           'legacy': _names(f'{k}:{b.num},{b.channels},{b.height},{b.width},{b.count}'
                            for k, b in net.blobs.items())}
    net.blobs['data'].reshape(1, 3, 29, 51)
    net.blobs['label'].reshape(1, 1, 29, 51)
    net.reshape()
    out['reshaped'] = _names(f'{k}:{tuple(b.data.shape)}' for k, b in net.blobs.items())
    deploy = os.path.join(proto_dir, 'deploy.prototxt')
    with tempfile.TemporaryDirectory() as tmp:
        src = caffe.Net(deploy, caffe.TEST)
        _fill(src, _parse(caffe, deploy))
        weights = os.path.join(tmp, 'w.caffemodel')
        src.save(weights)
        legacy = caffe.Net(deploy, weights, caffe.TEST)
        named = caffe.Net(deploy, caffe.TEST, weights=weights)
        out['legacy_ctor'] = np.array([float(np.abs(legacy.params[k][i].data - src.params[k][i].data).max())
                                       for k in src.params for i in range(len(src.params[k]))])
        out['weights_ctor'] = np.array([float(np.abs(named.params[k][i].data - src.params[k][i].data).max())
                                        for k in src.params for i in range(len(src.params[k]))])
    return out


def case_solver(caffe, proto_dir):
    cwd = os.getcwd()
    os.chdir(proto_dir)
    try:
        solver = caffe.SGDSolver('solver.prototxt')
        train_param = _parse(caffe, 'train32.prototxt')
        _fill(solver.net, train_param)
        _feed(solver.net, train_param, 7)
        test = solver.test_nets[0]
        _feed(test, _parse(caffe, 'val32.prototxt'), 8)
        out = {'test_own_before': np.array([float(np.abs(test.params['fc6'][0].data).max()),
                                            float(np.abs(test.params['score_fr'][0].data).max())])}
        test.forward()
        out['test_loss_own'] = np.array(float(test.blobs['loss'].data))
        losses = []
        for _ in range(3):
            solver.step(1)
            losses.append(float(solver.net.blobs['loss'].data))
        out['losses'] = np.array(losses)
        out['iter'] = np.array(solver.iter)
        test.share_with(solver.net)
        test.forward()
        out['test_loss_shared'] = np.array(float(test.blobs['loss'].data))
        solver.step(1)
        test.forward()
        out['test_loss_follows'] = np.array(float(test.blobs['loss'].data))
        for name, blobs in solver.net.params.items():
            for i, b in enumerate(blobs):
                _keep(out, f'param/{name}/{i}', b.data)
        return out
    finally:
        os.chdir(cwd)


def api_cases():
    """{case name: function(caffe, proto_dir) -> {key: array}}."""
    cases = {f'test_backward_{f}': (lambda caffe, d, f=f: case_test_backward(caffe, d, f)) for f in BACKWARD_FOLDERS}
    cases.update(saliency=case_saliency, partial=case_partial, deep_dream=case_deep_dream, api=case_api,
                 solver=case_solver, coord_map=case_coord_map)
    return cases


# ------------------------------------------------------------------------------------------------ blob and layer shapes

SHAPES_NET = """force_backward: true
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 6 dim: 5 } } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 1 } }
layer { name: "ip" type: "InnerProduct" bottom: "pool" top: "ip" inner_product_param { num_output: 5 } }
layer { name: "relu" type: "ReLU" bottom: "ip" top: "relu" }
layer { name: "concat" type: "Concat" bottom: "relu" bottom: "relu" top: "concat" }
"""


def _shapes_net(caffe, proto_dir):
    path = os.path.join(proto_dir, 'shapes.prototxt')
    with open(path, 'w') as f:
        f.write(SHAPES_NET)
    net = caffe.Net(path, caffe.TEST)
    for k, (name, blobs) in enumerate(net.params.items()):
        for i, b in enumerate(blobs):
            b.data[...] = np.random.RandomState(30 + 7 * k + i).randn(*b.data.shape)
    return net


def _blob_vec(caffe, blobs):
    """The argument list of a C++ layer's setup/reshape: Caffe's RawBlobVec (a Python list where there is none)."""
    raw = getattr(getattr(caffe, '_caffe', None), 'RawBlobVec', None)
    if raw is None:
        return list(blobs)
    vec = raw()
    for b in blobs:
        vec.append(b)
    return vec


def case_param_reshape(caffe, proto_dir):
    """Blob.reshape of parameter blobs: the flat prefix of data and diff while the count fits the memory (back to
    the old shape restores it all), zeros past it; a same-count reshape of a convolution's weight read with the
    layer's own geometry in forward."""
    net = _shapes_net(caffe, proto_dir)
    w = net.params['ip'][0]
    w.diff[...] = np.arange(w.count, dtype=np.float32).reshape(w.data.shape)
    original = w.data.copy()
    out = {}
    w.reshape(3, 7)
    out['shrunk_shape'], out['shrunk_data'], out['shrunk_diff'] = np.array(w.data.shape), w.data.copy(), \
        w.diff.copy()
    w.reshape(*original.shape)
    out['back_equal'] = np.array(float(np.abs(w.data - original).max()))
    w.reshape(7, 31)
    out['grown_shape'], out['grown_data'], out['grown_diff'] = np.array(w.data.shape), w.data.copy(), w.diff.copy()
    net = _shapes_net(caffe, proto_dir)
    cw = net.params['conv'][0]
    cw.reshape(6, 3, 2, 3)
    net.blobs['x'].data[...] = np.random.RandomState(40).randn(*net.blobs['x'].data.shape)
    net.forward()
    out['same_count_shape'] = np.array(cw.data.shape)
    out['same_count_conv'] = net.blobs['conv'].data.copy()
    out['same_count_bias_shape'] = np.array(net.params['conv'][1].data.shape)
    return out


def case_layer_reshape(caffe, proto_dir):
    """C++ layers' setup and reshape from Python (Layer::LayerSetUp / Layer::Reshape): the tops' shapes for new
    bottom shapes, and the parameters kept by setup."""
    net = _shapes_net(caffe, proto_dir)
    layers = dict(zip(net._layer_names, net.layers))
    out = {}
    net.blobs['x'].reshape(3, 3, 9, 7)
    for name in ('conv', 'pool'):
        layer = layers[name]
        bottom = _blob_vec(caffe, [net.blobs[b] for b in net.bottom_names[name]])
        top = _blob_vec(caffe, [net.blobs[t] for t in net.top_names[name]])
        before = [b.data.copy() for b in layer.blobs]
        layer.setup(bottom, top)
        out[f'{name}/setup_kept'] = np.array([float(np.abs(b.data - a).max()) for a, b in zip(before, layer.blobs)])
        layer.reshape(bottom, top)
        out[f'{name}/top_shape'] = np.array(net.blobs[net.top_names[name][0]].data.shape)
    concat = layers['concat']
    net.blobs['relu'].reshape(2, 4)
    concat.reshape(_blob_vec(caffe, [net.blobs['relu'], net.blobs['relu']]), _blob_vec(caffe, [net.blobs['concat']]))
    out['concat/top_shape'] = np.array(net.blobs['concat'].data.shape)
    relu = layers['relu']
    net.blobs['ip'].reshape(6, 5)
    relu.reshape(_blob_vec(caffe, [net.blobs['ip']]), _blob_vec(caffe, [net.blobs['relu']]))
    out['relu/top_shape'] = np.array(net.blobs['relu'].data.shape)
    out['types'] = np.array([layer.type for layer in net.layers])
    return out


def shape_cases():
    """{case name: function(caffe, proto_dir) -> {key: array}} of shapes.npz."""
    return {'param_reshape': case_param_reshape, 'layer_reshape': case_layer_reshape}


def make_shapes(caffe):
    os.makedirs(OUT, exist_ok=True)
    store = {}
    with tempfile.TemporaryDirectory() as proto_dir:
        for case, fn in shape_cases().items():
            for k, v in fn(caffe, proto_dir).items():
                store[f'{case}/{k}'] = np.asarray(v)
            print(f'shapes {case}', flush=True)
    np.savez_compressed(os.path.join(OUT, 'shapes.npz'), **store)


# ------------------------------------------------------------------------------------------------ io references

IO_IMAGES = ('rgb', 'rgba', 'gray', 'palette', 'gray16')
IO_RESIZES = (((23, 31), 1), ((9, 12), 1), ((40, 50), 0), ((17, 61), 3))


def write_io_images(folder):
    """Small seeded PNG images of several modes (PNG is lossless, so both environments read the same pixels)."""
    from PIL import Image
    rng = np.random.RandomState(21)
    rgb = rng.randint(0, 256, (19, 27, 3)).astype(np.uint8)
    alpha = rng.randint(0, 256, (19, 27, 1)).astype(np.uint8)
    images = {'rgb': Image.fromarray(rgb, 'RGB'), 'rgba': Image.fromarray(np.concatenate([rgb, alpha], 2), 'RGBA'),
              'gray': Image.fromarray(rgb[:, :, 0], 'L'),
              'palette': Image.fromarray(rgb[:, :, 1] // 16, 'P'),
              'gray16': Image.fromarray((rng.randint(0, 65536, (19, 27))).astype(np.uint16))}
    images['palette'].putpalette(rng.randint(0, 256, 16 * 3).astype(np.uint8).tolist())
    paths = {}
    for name, im in images.items():
        paths[name] = os.path.join(folder, f'{name}.png')
        im.save(paths[name])
    return paths


def make_io():
    """What caffe.io's load_image and resize_image compute, by scikit-image (the oracle's own caffe.io cannot run
    them: its load_image passes `as_grey`, which scikit-image 0.26 no longer takes, and its resize_image calls a
    `resize` it never imports), following BVLC's io.py: img_as_float(imread(path, as_gray=not color)), gray and
    alpha handling; resize of the image scaled to [0, 1] with skimage.transform.resize(order, mode='constant')."""
    import skimage
    import skimage.io
    from skimage.transform import resize
    store = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, path in write_io_images(folder).items():
            for color in (True, False):
                img = skimage.img_as_float(skimage.io.imread(path, as_gray=not color)).astype(np.float32)
                if img.ndim == 2:
                    img = img[:, :, np.newaxis]
                    if color:
                        img = np.tile(img, (1, 1, 3))
                elif img.shape[2] == 4:
                    img = img[:, :, :3]
                store[f'load/{name}/{int(color)}'] = img
    im = np.random.RandomState(22).uniform(-3, 7, (19, 27, 3)).astype(np.float32)
    store['resize/input'] = im
    for dims, order in IO_RESIZES:
        lo, hi = im.min(), im.max()
        out = resize((im - lo) / (hi - lo), dims, order=order, mode='constant') * (hi - lo) + lo
        store[f'resize/{dims[0]}x{dims[1]}/{order}'] = out.astype(np.float32)
    np.savez_compressed(os.path.join(OUT, 'io.npz'), **store)
    print(f'io: {len(store)} arrays', flush=True)


# ------------------------------------------------------------------------------------------------ the oracle run

def make_api(caffe):
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format
    os.makedirs(OUT, exist_ok=True)
    store = {}
    with tempfile.TemporaryDirectory() as proto_dir:
        texts = write_nets(proto_dir, caffe_pb2, text_format)
        for name, text in texts.items():
            store[f'proto/{name}'] = np.array(text)
        for case, fn in api_cases().items():
            out = fn(caffe, proto_dir)
            for k, v in out.items():
                store[f'{case}/{k}'] = np.asarray(v)
            print(f'api {case}: {len(out)} arrays', flush=True)
    np.savez_compressed(os.path.join(OUT, 'api.npz'), **store)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    what = argv or ['api', 'io', 'shapes']
    import caffe
    caffe.set_mode_cpu()
    if 'api' in what:
        make_api(caffe)
    if 'shapes' in what:
        make_shapes(caffe)
    if 'io' in what:
        make_io()


if __name__ == '__main__':
    main()
