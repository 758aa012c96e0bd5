"""Golden DOT graphs drawn by Caffe's own python/caffe/draw.py (the oracle's source), for pycaffe.draw. Run from the
project root in the project's environment (pydot installed; Caffe's draw.py needs only pydot and caffe_pb2, which is
given to it as this project's schema, the same messages):

    python tests/golden/make_draw.py [/opt/caffe-oracle/brocolli-caffe-9.0.2]

Writes tests/golden/draw/<case>.dot: get_pydot_graph(net, rankdir, phase=..., display_lrm=...).to_string() for the
`caffe` fixtures' net (tests/golden/cli/net.prototxt: two phase-specific data layers, in-place ReLU, pooling) in
every phase and layout, and for a 1/16-width voc-fcn8s train net (crops, deconvolutions, lr_mult 0, Eltwise).
"""
import importlib.util
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from netspec import caffe_pb2, models, read_net  # noqa: E402

CASES = {
    'cli_all_LR': ('cli', 'LR', None, False),
    'cli_test_TB': ('cli', 'TB', caffe_pb2.TEST, False),
    'cli_train_BT_lrm': ('cli', 'BT', caffe_pb2.TRAIN, True),
    'fcn8s_train_LR_lrm': ('fcn8s', 'LR', caffe_pb2.TRAIN, True),
}


def nets():
    return {'cli': read_net(os.path.join(HERE, 'cli', 'net.prototxt')),
            'fcn8s': models.make_folder('voc-fcn8s', width=1 / 16)['train.prototxt']}


def caffe_draw(src):
    proto = types.ModuleType('caffe.proto')
    proto.caffe_pb2 = caffe_pb2
    caffe = types.ModuleType('caffe')
    caffe.proto = proto
    sys.modules.update({'caffe': caffe, 'caffe.proto': proto, 'caffe.proto.caffe_pb2': caffe_pb2})
    spec = importlib.util.spec_from_file_location('caffe_draw', os.path.join(src, 'python', 'caffe', 'draw.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else '/opt/caffe-oracle/brocolli-caffe-9.0.2'
    draw = caffe_draw(src)
    ns = nets()
    out = os.path.join(HERE, 'draw')
    os.makedirs(out, exist_ok=True)
    for case, (net, rankdir, phase, lrm) in CASES.items():
        g = draw.get_pydot_graph(ns[net], rankdir, phase=phase, display_lrm=lrm)
        with open(os.path.join(out, case + '.dot'), 'w') as f:
            f.write(g.to_string())
    print('wrote', sorted(os.listdir(out)))


if __name__ == '__main__':
    main()
