"""Golden fixtures for the generators' alternative nets, made by the real Caffe (the oracle):

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_variants.py'

runtime/variants.npz: the options that change a net's geometry (FCN-4s and FCN-2s with their pool2 / pool1 skips,
decreased subsampling at strides 16 and 8, learned upsampling, at-once FCN-2s), each as a thin TRAIN net (width
1/16, 5 classes, an Input data/label source, no Dropout: its masks are random) at 37x45 and 50x33. The project's
own Python (PROJECT_PYTHON, as in make_schema.py) writes each net with netspec.models.fcn_vgg16 (VARIANTS); this
process builds it with caffe.Net, so Caffe's own shape inference checks that every computed Crop fits, then runs
forward and backward with make_runtime's seeded weights (net_weight_array) and inputs, and stores the prototxt
text, every blob and every learnable gradient as make_runtime.make_nets does. Never import the project here (the
oracle's protobuf is older).
"""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
_spec = importlib.util.spec_from_file_location('make_runtime', os.path.join(HERE, 'make_runtime.py'))
mk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mk)

#: name -> fcn_vgg16 keywords
VARIANTS = {
    'fcn4s': dict(stride=4),
    'fcn2s': dict(stride=2),
    'fcn2s-atonce': dict(stride=2, at_once=True),
    'fcn16s-pool5s1': dict(stride=16, pool5_stride=1),
    'fcn8s-pool5s1': dict(stride=8, pool5_stride=1),
    'fcn8s-learned': dict(stride=8, upsampling='learned'),
}
SIZES = mk.SIZES
CLASSES, WIDTH = 5, 1 / 16


def variant_text(name, H, W):
    """Code for the project's Python: the variant's prototxt text (what the test regenerates too)."""
    return (f'netspec.to_text(fcn_vgg16(input_data(tops=("data", "label"), shapes=[(1, 3, {H}, {W}), '
            f'(1, 1, {H}, {W})], labels=("label",)), num_classes={CLASSES}, width={WIDTH!r}, dropout=False, '
            f'**{VARIANTS[name]!r}))')


def _generated():
    code = ('import json, sys; sys.path.insert(0, %r); import netspec; '
            'from netspec.models import fcn_vgg16, input_data; print(json.dumps({%s}))') % (
        ROOT, ', '.join(f'"{n}/{H}x{W}": {variant_text(n, H, W)}' for n in VARIANTS for H, W in SIZES))
    sys.path.insert(0, HERE)
    import make_schema
    out = subprocess.run([make_schema._project_python(), '-c', code], cwd=ROOT, env=make_schema._project_env(),
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    import caffe
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format
    caffe.set_mode_cpu()
    store = {}
    for key, text in _generated().items():
        net_param = text_format.Parse(text, caffe_pb2.NetParameter())
        net = mk._caffe_net(caffe, text, caffe.TRAIN)
        mk._fill_weights(net, net_param, mk.net_weight_array)
        inputs = mk.input_arrays({n: net.blobs[n].data.shape for n in mk._input_names(net_param)},
                                 mk.label_classes(net_param), mk._seed(key))
        for n, v in inputs.items():
            net.blobs[n].data[...] = v
        net.forward()
        net.backward()
        store[f'{key}/prototxt'] = np.array(text)
        for n, b in net.blobs.items():
            if not mk.AUTO_SPLIT.search(n):
                mk.summarize(store, f'{key}/blob/{n}', b.data)
        lr = {lp.name: [p.lr_mult for p in lp.param] for lp in net_param.layer}
        for n, blobs in net.params.items():
            for i, b in enumerate(blobs):
                if (lr[n][i] if i < len(lr[n]) else 1.0) != 0:
                    mk.summarize(store, f'{key}/grad/{n}/{i}', b.diff)
        print(f'{key}: score {net.blobs["score"].data.shape}, loss {float(net.blobs["loss"].data)}', flush=True)
    os.makedirs(mk.OUT, exist_ok=True)
    np.savez_compressed(os.path.join(mk.OUT, 'variants.npz'), **store)


if __name__ == '__main__':
    main()
