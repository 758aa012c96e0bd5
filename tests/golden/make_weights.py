"""Golden fixtures for the weights package, made with the real Caffe (the oracle) and this project, in three steps.

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_weights.py caffe-save'   # oracle venv
    python tests/golden/make_weights.py ours                                                        # project env
    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_weights.py caffe-load'   # oracle venv

or `python tests/golden/make_weights.py all` from the project env, which runs the three in order.

1. caffe-save: thin VGG16 classifier, thin CaffeNet/AlexNet and a thin FCN-8s (prototxts written below, tiny
   channel counts) get seeded weights and are saved by Caffe as .caffemodel and .caffemodel.h5, with the arrays in
   caffe_<net>.npz. Then the reference's surgery (transplant + interp) runs in pycaffe from that VGG16 into a
   thin FCN-32s: caffe_surgery_fcn32s_thin.caffemodel.
2. ours: the project writes other seeded weights for the same nets with weights.write_weights (.caffemodel with the
   net's layer settings, .caffemodel.h5), and a solver state (binary and HDF5) for a one-layer solver net, keeping
   what it meant to write in ours_<net>.npz / ours_solver.npz.
   It also hand-builds old encodings of thin VGG16 weights with the schema: V1 `layers` with legacy 4-D dims,
   unpacked float data, and double_data (ours_vgg16_thin_{v1,unpacked,double}.caffemodel).
3. caffe-load: Caffe loads the project's files and dumps what it got (caffe_read_ours_<net>[_h5].npz, and
   caffe_read_ours_vgg16_thin_<variant>.npz for the old encodings); it restores
   the project's solver states, steps once with base_lr 0 and momentum 1 (so each weight moves by exactly its
   restored history), and snapshots again in the same format (caffe_bin_iter_8.*, caffe_h5_iter_8.*).

The oracle step never imports the project (its protobuf is older); the project step never imports caffe.
"""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'weights')
NETS = ('vgg16_thin', 'caffenet_thin', 'fcn8s_thin')


# ------------------------------------------------------------------------------------------------ net definitions

def _conv(name, bottom, n, k, pad=0, stride=1, group=1, lr=None):
    extra = f' group: {group}' if group != 1 else ''
    params = ('  param { lr_mult: 1 decay_mult: 1 }\n  param { lr_mult: 2 decay_mult: 0 }\n' if lr else '')
    return (f'layer {{\n  name: "{name}"\n  type: "Convolution"\n  bottom: "{bottom}"\n  top: "{name}"\n{params}'
            f'  convolution_param {{ num_output: {n} pad: {pad} kernel_size: {k} stride: {stride}{extra} }}\n}}\n')


def _relu(name, top):
    return f'layer {{ name: "{name}" type: "ReLU" bottom: "{top}" top: "{top}" }}\n'


def _pool(name, bottom, k, s):
    return (f'layer {{ name: "{name}" type: "Pooling" bottom: "{bottom}" top: "{name}" '
            f'pooling_param {{ pool: MAX kernel_size: {k} stride: {s} }} }}\n')


def _ip(name, bottom, n):
    return (f'layer {{ name: "{name}" type: "InnerProduct" bottom: "{bottom}" top: "{name}" '
            f'inner_product_param {{ num_output: {n} }} }}\n')


def _drop(name, top):
    return (f'layer {{ name: "{name}" type: "Dropout" bottom: "{top}" top: "{top}" '
            f'dropout_param {{ dropout_ratio: 0.5 }} }}\n')


def _input(shape, top='data'):
    dims = ' '.join(f'dim: {d}' for d in shape)
    return f'layer {{ name: "input" type: "Input" top: "{top}" input_param {{ shape {{ {dims} }} }} }}\n'


VGG_WIDTHS = (2, 4, 4, 8, 8)
VGG_BLOCKS = (2, 2, 3, 3, 3)


def vgg_body(first_pad, lr=False, widths=VGG_WIDTHS, pad=1):
    """conv1_1 .. pool5 of a (thin) VGG16; first_pad is conv1_1's pad (1 in the classifier, 100 in FCNs)."""
    text, bottom = '', 'data'
    for b, (n, reps) in enumerate(zip(widths, VGG_BLOCKS), start=1):
        for r in range(1, reps + 1):
            name = f'conv{b}_{r}'
            text += _conv(name, bottom, n, 3, pad=first_pad if name == 'conv1_1' else pad, lr=lr)
            text += _relu(f'relu{b}_{r}', name)
            bottom = name
        text += _pool(f'pool{b}', bottom, 2, 2)
        bottom = f'pool{b}'
    return text


def vgg16_classifier(size=224, fc=16, classes=5, widths=VGG_WIDTHS, pad=1):
    """Thin VGG16 deploy net (the ILSVRC classifier's layer names and geometry)."""
    return ('name: "VGG_ILSVRC_16_layers_thin"\n' + _input((1, 3, size, size)) +
            vgg_body(pad, widths=widths, pad=pad) +
            _ip('fc6', 'pool5', fc) + _relu('relu6', 'fc6') + _drop('drop6', 'fc6') +
            _ip('fc7', 'fc6', fc) + _relu('relu7', 'fc7') + _drop('drop7', 'fc7') +
            _ip('fc8', 'fc7', classes) +
            'layer { name: "prob" type: "Softmax" bottom: "fc8" top: "prob" }\n')


def caffenet():
    """Thin CaffeNet (AlexNet as released with Caffe): grouped convs, LRN."""
    lrn = ('layer {{ name: "{0}" type: "LRN" bottom: "{1}" top: "{0}" '
           'lrn_param {{ local_size: 5 alpha: 0.0001 beta: 0.75 }} }}\n')
    return ('name: "CaffeNet_thin"\n' + _input((1, 3, 227, 227)) +
            _conv('conv1', 'data', 4, 11, stride=4) + _relu('relu1', 'conv1') + _pool('pool1', 'conv1', 3, 2) +
            lrn.format('norm1', 'pool1') +
            _conv('conv2', 'norm1', 8, 5, pad=2, group=2) + _relu('relu2', 'conv2') + _pool('pool2', 'conv2', 3, 2) +
            lrn.format('norm2', 'pool2') +
            _conv('conv3', 'norm2', 8, 3, pad=1) + _relu('relu3', 'conv3') +
            _conv('conv4', 'conv3', 8, 3, pad=1, group=2) + _relu('relu4', 'conv4') +
            _conv('conv5', 'conv4', 8, 3, pad=1, group=2) + _relu('relu5', 'conv5') + _pool('pool5', 'conv5', 3, 2) +
            _ip('fc6', 'pool5', 16) + _relu('relu6', 'fc6') + _drop('drop6', 'fc6') +
            _ip('fc7', 'fc6', 16) + _relu('relu7', 'fc7') + _drop('drop7', 'fc7') +
            _ip('fc8', 'fc7', 5) + 'layer { name: "prob" type: "Softmax" bottom: "fc8" top: "prob" }\n')


def _deconv(name, bottom, n, k, s):
    return (f'layer {{\n  name: "{name}"\n  type: "Deconvolution"\n  bottom: "{bottom}"\n  top: "{name}"\n'
            f'  param {{ lr_mult: 0 }}\n'
            f'  convolution_param {{ num_output: {n} bias_term: false kernel_size: {k} stride: {s} }}\n}}\n')


def _crop(name, bottom, ref, offset):
    return (f'layer {{ name: "{name}" type: "Crop" bottom: "{bottom}" bottom: "{ref}" top: "{name}" '
            f'crop_param {{ axis: 2 offset: {offset} }} }}\n')


def _sum(name, a, b):
    return (f'layer {{ name: "{name}" type: "Eltwise" bottom: "{a}" bottom: "{b}" top: "{name}" '
            f'eltwise_param {{ operation: SUM }} }}\n')


def fcn8s(size=64, fc=16, classes=5, first_pad=100):
    """Thin FCN-8s deploy net (the reference voc-fcn8s/deploy.prototxt's layers, crops 5, 9, 31)."""
    c = classes
    return ('name: "FCN8s_thin"\n' + _input((1, 3, size, size)) + vgg_body(first_pad, lr=True) +
            _conv('fc6', 'pool5', fc, 7, lr=True) + _relu('relu6', 'fc6') +
            _conv('fc7', 'fc6', fc, 1, lr=True) + _relu('relu7', 'fc7') +
            _conv('score_fr', 'fc7', c, 1, lr=True) +
            _deconv('upscore2', 'score_fr', c, 4, 2) +
            _conv('score_pool4', 'pool4', c, 1, lr=True) + _crop('score_pool4c', 'score_pool4', 'upscore2', 5) +
            _sum('fuse_pool4', 'upscore2', 'score_pool4c') +
            _deconv('upscore_pool4', 'fuse_pool4', c, 4, 2) +
            _conv('score_pool3', 'pool3', c, 1, lr=True) + _crop('score_pool3c', 'score_pool3', 'upscore_pool4', 9) +
            _sum('fuse_pool3', 'upscore_pool4', 'score_pool3c') +
            _deconv('upscore8', 'fuse_pool3', c, 16, 8) + _crop('score', 'upscore8', 'data', 31))


def fcn32s(size=64, fc=16, classes=5):
    """Thin FCN-32s deploy net (voc-fcn32s: upscore 64/32, crop 19), sized to take the thin VGG16's weights."""
    return ('name: "FCN32s_thin"\n' + _input((1, 3, size, size)) + vgg_body(100, lr=True) +
            _conv('fc6', 'pool5', fc, 7, lr=True) + _relu('relu6', 'fc6') + _drop('drop6', 'fc6') +
            _conv('fc7', 'fc6', fc, 1, lr=True) + _relu('relu7', 'fc7') + _drop('drop7', 'fc7') +
            _conv('score_fr', 'fc7', classes, 1, lr=True) +
            _deconv('upscore', 'score_fr', classes, 64, 32) + _crop('score', 'upscore', 'data', 19))


def reference_surgery(caffe, out_path):
    """The FCN reference's own procedure in pycaffe (surgery.transplant's flat assignment, then interp with
    upsample_filt on the diagonal), from the Caffe-written thin VGG16 into the thin FCN-32s."""
    clf = caffe.Net(os.path.join(OUT, 'vgg16_thin.prototxt'), os.path.join(OUT, 'caffe_vgg16_thin.caffemodel'),
                    caffe.TEST)
    fcn = caffe.Net(os.path.join(OUT, 'fcn32s_thin.prototxt'), caffe.TEST)
    for p in clf.params:
        if p not in fcn.params:
            continue
        for i in range(len(clf.params[p])):
            if i > len(fcn.params[p]) - 1:
                break
            fcn.params[p][i].data.flat = clf.params[p][i].data.flat
    for name in [k for k in fcn.params if 'up' in k]:
        m, k, h, w = fcn.params[name][0].data.shape
        factor = (h + 1) // 2
        center = factor - 1 if h % 2 == 1 else factor - 0.5
        og = np.ogrid[:h, :h]
        filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
        fcn.params[name][0].data[range(m), range(k), :, :] = filt
    fcn.save(out_path)


SOLVER_NET = '''name: "solvernet"
layer {
  name: "data" type: "DummyData" top: "data" top: "target"
  dummy_data_param {
    shape { dim: 2 dim: 4 } shape { dim: 2 dim: 3 }
    data_filler { type: "constant" value: 1 } data_filler { type: "constant" value: 0 }
  }
}
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 3 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "target" top: "loss" }
'''
SOLVER_SHAPES = [(3, 4), (3,)]


def solver_text(fmt):
    return (f'train_net: "solvernet.prototxt"\nbase_lr: 0\nmomentum: 1\nlr_policy: "fixed"\nweight_decay: 0\n'
            f'display: 0\nmax_iter: 100\nsnapshot_prefix: "caffe_{fmt}"\n'
            f'snapshot_format: {"HDF5" if fmt == "h5" else "BINARYPROTO"}\n')


def write_prototxts():
    os.makedirs(OUT, exist_ok=True)
    texts = {'vgg16_thin': vgg16_classifier(), 'caffenet_thin': caffenet(), 'fcn8s_thin': fcn8s(),
             'fcn32s_thin': fcn32s(),
             'solvernet': SOLVER_NET, 'solver_bin': solver_text('bin'), 'solver_h5': solver_text('h5')}
    for name, text in texts.items():
        with open(os.path.join(OUT, name + '.prototxt'), 'w') as f:
            f.write(text)


def seeded(shapes, seed):
    rng = np.random.RandomState(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


# --------------------------------------------------------------------------------------------------------- steps

def caffe_save():
    import caffe
    write_prototxts()
    for k, name in enumerate(NETS):
        net = caffe.Net(os.path.join(OUT, name + '.prototxt'), caffe.TEST)
        flat = {}
        for lname, blobs in net.params.items():
            for i, (b, v) in enumerate(zip(blobs, seeded([b.data.shape for b in blobs], 1000 * k + len(flat)))):
                b.data[...] = v
                flat[f'{lname}.{i}'] = b.data.copy()
        net.save(os.path.join(OUT, f'caffe_{name}.caffemodel'))
        net.save_hdf5(os.path.join(OUT, f'caffe_{name}.caffemodel.h5'))
        np.savez(os.path.join(OUT, f'caffe_{name}.npz'), **flat)
    reference_surgery(caffe, os.path.join(OUT, 'caffe_surgery_fcn32s_thin.caffemodel'))


def ours():
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
    from netspec import read_net
    from weights import SolverState, write_solverstate, write_weights
    for k, name in enumerate(NETS):
        shapes = np.load(os.path.join(OUT, f'caffe_{name}.npz'))
        arrays, flat = {}, {}
        for key in shapes.files:
            layer, i = key.rsplit('.', 1)
            arrays.setdefault(layer, []).append(shapes[key].shape)
        for j, (layer, ss) in enumerate(arrays.items()):
            arrays[layer] = seeded(ss, 7000 + 100 * k + j)
            flat.update({f'{layer}.{i}': a for i, a in enumerate(arrays[layer])})
        net_param = read_net(os.path.join(OUT, name + '.prototxt'))
        write_weights(os.path.join(OUT, f'ours_{name}.caffemodel'), arrays, net_param)
        write_weights(os.path.join(OUT, f'ours_{name}.caffemodel.h5'), arrays, net_param)
        np.savez(os.path.join(OUT, f'ours_{name}.npz'), **flat)
    legacy_variants(net_param_of=lambda n: read_net(os.path.join(OUT, n + '.prototxt')))
    w0 = seeded(SOLVER_SHAPES, 99)
    hist = seeded(SOLVER_SHAPES, 98)
    write_weights(os.path.join(OUT, 'ours_solver_w0.caffemodel'), {'ip': w0})
    write_weights(os.path.join(OUT, 'ours_solver_w0.caffemodel.h5'), {'ip': w0})
    write_solverstate(os.path.join(OUT, 'ours.solverstate'),
                      SolverState(iter=7, learned_net='ours_solver_w0.caffemodel', history=hist, current_step=3))
    write_solverstate(os.path.join(OUT, 'ours.solverstate.h5'),
                      SolverState(iter=7, learned_net='ours_solver_w0.caffemodel.h5', history=hist, current_step=3))
    np.savez(os.path.join(OUT, 'ours_solver.npz'), w0_0=w0[0], w0_1=w0[1], h_0=hist[0], h_1=hist[1])


VARIANTS = ('v1', 'unpacked', 'double')


def legacy_variants(net_param_of):
    """Old encodings of thin VGG16 weights, hand-built with the schema: V1 `layers` with type enums and legacy
    4-D dims (the ILSVRC VGG16 release), float data written unpacked, and double_data."""
    import struct
    from netspec import caffe_pb2
    shapes = np.load(os.path.join(OUT, 'caffe_vgg16_thin.npz'))
    arrays = {}
    for key in shapes.files:
        layer, _ = key.rsplit('.', 1)
        arrays.setdefault(layer, []).append(shapes[key].shape)
    arrays = {k: seeded(v, 9000 + j) for j, (k, v) in enumerate(arrays.items())}
    V1 = caffe_pb2.V1LayerParameter
    kinds = {'Input': None, 'Convolution': V1.CONVOLUTION, 'ReLU': V1.RELU, 'Pooling': V1.POOLING,
             'InnerProduct': V1.INNER_PRODUCT, 'Dropout': V1.DROPOUT, 'Softmax': V1.SOFTMAX}
    v1 = caffe_pb2.NetParameter(name='VGG_ILSVRC_16_layers')
    dbl = caffe_pb2.NetParameter(name='VGG_ILSVRC_16_layers')
    unpacked = b''
    flat = {}
    for lp in net_param_of('vgg16_thin').layer:
        if kinds[lp.type] is None:
            continue
        layer = v1.layers.add(name=lp.name, type=kinds[lp.type])
        dlayer = dbl.layer.add(name=lp.name, type=lp.type)
        body = caffe_pb2.LayerParameter(name=lp.name, type=lp.type).SerializeToString()
        for i, a in enumerate(arrays.get(lp.name, [])):
            flat[f'{lp.name}.{i}'] = a
            legacy = (1,) * (4 - a.ndim) + a.shape
            layer.blobs.add(num=legacy[0], channels=legacy[1], height=legacy[2], width=legacy[3]).data.extend(
                a.ravel())
            d = dlayer.blobs.add()
            d.shape.dim.extend(a.shape)
            d.double_data.extend(a.astype(np.float64).ravel() * (1 + 1e-9))  # not float32-representable
            shape = caffe_pb2.BlobShape(dim=a.shape).SerializeToString()
            blob = b'\x3a' + _varint(len(shape)) + shape + b''.join(b'\x2d' + struct.pack('<f', v) for v in a.ravel())
            body += b'\x3a' + _varint(len(blob)) + blob
        unpacked += b'\xa2\x06' + _varint(len(body)) + body
    with open(os.path.join(OUT, 'ours_vgg16_thin_v1.caffemodel'), 'wb') as f:
        f.write(v1.SerializeToString())
    with open(os.path.join(OUT, 'ours_vgg16_thin_unpacked.caffemodel'), 'wb') as f:
        f.write(unpacked)
    with open(os.path.join(OUT, 'ours_vgg16_thin_double.caffemodel'), 'wb') as f:
        f.write(dbl.SerializeToString())
    np.savez(os.path.join(OUT, 'ours_vgg16_thin_variants.npz'), **flat)


def _varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def caffe_load():
    import caffe
    for name in NETS:
        proto = os.path.join(OUT, name + '.prototxt')
        net = caffe.Net(proto, os.path.join(OUT, f'ours_{name}.caffemodel'), caffe.TEST)
        np.savez(os.path.join(OUT, f'caffe_read_ours_{name}.npz'),
                 **{f'{n}.{i}': b.data.copy() for n, bs in net.params.items() for i, b in enumerate(bs)})
        net = caffe.Net(proto, caffe.TEST)
        net.copy_from(os.path.join(OUT, f'ours_{name}.caffemodel.h5'))
        np.savez(os.path.join(OUT, f'caffe_read_ours_{name}_h5.npz'),
                 **{f'{n}.{i}': b.data.copy() for n, bs in net.params.items() for i, b in enumerate(bs)})
    for variant in VARIANTS:
        net = caffe.Net(os.path.join(OUT, 'vgg16_thin.prototxt'),
                        os.path.join(OUT, f'ours_vgg16_thin_{variant}.caffemodel'), caffe.TEST)
        np.savez(os.path.join(OUT, f'caffe_read_ours_vgg16_thin_{variant}.npz'),
                 **{f'{n}.{i}': b.data.copy() for n, bs in net.params.items() for i, b in enumerate(bs)})
    cwd = os.getcwd()
    os.chdir(OUT)  # learned_net and snapshot paths are relative to the working directory, as in Caffe
    try:
        for fmt, state in (('bin', 'ours.solverstate'), ('h5', 'ours.solverstate.h5')):
            solver = caffe.SGDSolver(f'solver_{fmt}.prototxt')
            solver.restore(state)
            got = {'iter_restored': np.array(solver.iter)}
            got.update({f'w0_{i}': b.data.copy() for i, b in enumerate(solver.net.params['ip'])})
            solver.step(1)
            got.update({f'w1_{i}': b.data.copy() for i, b in enumerate(solver.net.params['ip'])})
            solver.snapshot()
            np.savez(f'caffe_restored_{fmt}.npz', **got)
    finally:
        os.chdir(cwd)


def run_all():
    oracle = "source /opt/caffe-oracle/env.sh && python {} {}"
    me = os.path.abspath(__file__)
    subprocess.run(['bash', '-c', oracle.format(me, 'caffe-save')], check=True)
    subprocess.run([sys.executable, me, 'ours'], check=True)
    subprocess.run(['bash', '-c', oracle.format(me, 'caffe-load')], check=True)


if __name__ == '__main__':
    step = sys.argv[1] if len(sys.argv) > 1 else 'all'
    {'caffe-save': caffe_save, 'ours': ours, 'caffe-load': caffe_load, 'all': run_all}[step]()
