"""Golden records for netspec, made by the real Caffe (the oracle). Run from the project root in the oracle's venv:

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_schema.py'

Writes tests/golden/schema/:
- caffe_schema.json: the real Caffe's caffe_pb2 descriptor: per message, every field's number, type, label,
  default and (for enums) enum type; per enum (top-level and nested), its values. tests/test_netspec_schema.py checks
  that our netspec/caffe.proto agrees with it wherever both have a message, field or enum value.
- parse_record.json: "real Caffe reads what we write". First the project's own Python (PROJECT_PYTHON, default the
  python3 found outside the oracle venv) runs tools/make_nets.py into a temp dir, for every folder at width 1 and
  at width 1/16; then this process parses every file with the oracle's text_format (NetParameter or
  SolverParameter), and builds each width-1/16 deploy net with caffe.Net (Caffe's own shape inference, so every
  Crop must fit), recording every blob's shape for a 1x3x500x500 input (or the folder's input tops).
  Each entry keeps the sha256 of the text, so the test can tell when the record is stale.
- dsl_cases.json: small programs in Caffe's net_spec style (the names L, P, NetSpec, to_proto and nothing else),
  run with Caffe's own python/caffe/net_spec.py; each case keeps its code and the NetParameter Caffe made (as text).
  The test runs the same code with netspec's DSL and expects the same message.
- coord_maps.json: Caffe's own python/caffe/coord_map.crop on seeded random layer chains (Convolution, Pooling,
  Deconvolution, ReLU; a reference that is the input or a branch off it): the offset it emits, or which of its
  checks refused (scale / negative / noninteger / unrelated). The test rebuilds each chain with netspec's DSL and
  expects the same offset or the same refusal.
Never import the project here (the oracle's protobuf is older): the project runs in its own process.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor

import caffe
from caffe.proto import caffe_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, 'schema')
WIDTHS = {'1': 1.0, '1/16': 0.0625}

_TYPES = {v: k[len('TYPE_'):].lower() for k, v in vars(FieldDescriptor).items() if k.startswith('TYPE_')}
_LABELS = {FieldDescriptor.LABEL_OPTIONAL: 'optional', FieldDescriptor.LABEL_REQUIRED: 'required',
           FieldDescriptor.LABEL_REPEATED: 'repeated'}


def _default(field):
    if field.label == FieldDescriptor.LABEL_REPEATED or field.type == FieldDescriptor.TYPE_MESSAGE:
        return None
    value = field.default_value
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values_by_number[value].name if value in field.enum_type.values_by_number else value
    if isinstance(value, bytes):
        return value.decode('latin-1')
    return value


def dump_schema():
    messages, enums = {}, {}

    def visit_enum(enum):
        enums[enum.full_name] = {v.name: v.number for v in enum.values}

    def visit(msg):
        fields = {}
        for f in msg.fields:
            fields[f.name] = {'number': f.number, 'type': _TYPES[f.type], 'label': _LABELS[f.label],
                              'default': _default(f), 'has_default': f.has_default_value,
                              'message_type': f.message_type.full_name if f.message_type else None,
                              'enum_type': f.enum_type.full_name if f.enum_type else None}
        messages[msg.full_name] = fields
        for e in msg.enum_types:
            visit_enum(e)
        for m in msg.nested_types:
            visit(m)

    for msg in caffe_pb2.DESCRIPTOR.message_types_by_name.values():
        visit(msg)
    for enum in caffe_pb2.DESCRIPTOR.enum_types_by_name.values():
        visit_enum(enum)
    return {'source': caffe.__file__, 'messages': messages, 'enums': enums}


def _project_python():
    if os.environ.get('PROJECT_PYTHON'):
        return os.environ['PROJECT_PYTHON']
    venv = os.environ.get('VIRTUAL_ENV', '\0')
    for d in os.environ.get('PATH', '').split(os.pathsep):
        exe = os.path.join(d, 'python3')
        if not d.startswith(venv) and os.path.exists(exe):
            return exe
    sys.exit('set PROJECT_PYTHON to the project environment\'s python3')


def _project_env():
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    venv = os.environ.get('VIRTUAL_ENV')
    if venv:
        env['PATH'] = os.pathsep.join(d for d in env.get('PATH', '').split(os.pathsep) if not d.startswith(venv))
    return env


def parse_generated():
    tmp = tempfile.mkdtemp(prefix='netspec_oracle_')
    record = {}
    try:
        for label, width in WIDTHS.items():
            out = os.path.join(tmp, 'w' + str(width))
            subprocess.run([_project_python(), os.path.join(ROOT, 'tools', 'make_nets.py'), '--out', out,
                            '--width', repr(width)], check=True, cwd=ROOT, env=_project_env())
            for folder in sorted(os.listdir(out)):
                for fname in sorted(os.listdir(os.path.join(out, folder))):
                    path = os.path.join(out, folder, fname)
                    with open(path) as f:
                        text = f.read()
                    kind = caffe_pb2.SolverParameter if fname == 'solver.prototxt' else caffe_pb2.NetParameter
                    entry = {'sha256': hashlib.sha256(text.encode()).hexdigest()}
                    try:
                        msg = text_format.Merge(text, kind())
                        entry['parsed'] = True
                        if kind is caffe_pb2.NetParameter:
                            entry['layers'] = len(msg.layer)
                    except text_format.ParseError as e:
                        entry['parsed'] = False
                        entry['error'] = str(e)
                    if fname == 'deploy.prototxt' and width < 1 and entry['parsed']:
                        try:
                            net = caffe.Net(path, caffe.TEST)
                            entry['net_built'] = True
                            entry['outputs'] = {b: list(net.blobs[b].data.shape) for b in net.outputs}
                            entry['inputs'] = {b: list(net.blobs[b].data.shape) for b in net.inputs}
                            entry['blobs'] = {b: list(v.data.shape) for b, v in net.blobs.items()}
                        except Exception as e:  # Caffe aborts on most errors; an exception is recorded as is
                            entry['net_built'] = False
                            entry['error'] = repr(e)
                    record[f'{label}/{folder}/{fname}'] = entry
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return record


def _chain_cases(count=300, seed=1):
    import random
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        layers, stride = [], 1
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(['Convolution', 'Convolution', 'Pooling', 'ReLU'])
            if kind == 'ReLU':
                layers.append({'type': 'ReLU'})
                continue
            s = rng.randint(1, 3)
            layers.append({'type': kind, 'kernel_size': rng.randint(1, 7) if kind == 'Convolution'
                           else rng.randint(2, 3), 'stride': s, 'pad': rng.randint(0, 4)})
            stride *= s
        up = stride if rng.random() < 0.85 else stride + 1
        layers.append({'type': 'Deconvolution', 'kernel_size': rng.randint(1, 2 * up + 2), 'stride': up,
                       'pad': rng.randint(0, 2)})
        ref = rng.choice(['data', 'data', 'branch', 'other'])
        branch = {'kernel_size': rng.choice([1, 3, 5]), 'pad': rng.randint(0, 3)}
        cases.append({'layers': layers, 'reference': ref, 'branch': branch})
    return cases


DSL_CASES = {
    'auto_names_depth_first': """
data = L.Input(shape=dict(dim=[1, 3, 8, 8]))
x = L.ReLU(L.TanH(data))
y = L.Eltwise(x, data, operation=P.Eltwise.PROD)
net = to_proto(y, L.Sigmoid(x))
""",
    'netspec_names_ntop_in_place': """
n = NetSpec()
n.data, n.label = L.Python(module='m', layer='X', ntop=2, param_str="{'a': 1}")
n.conv = L.Convolution(n.data, kernel_size=[3], num_output=4, pad=1, weight_filler=dict(type='xavier'),
                       bias_filler=dict(type='constant', value=0.1),
                       param=[dict(lr_mult=1), dict(lr_mult=2, decay_mult=0)])
n.relu = L.ReLU(n.conv, in_place=True)
n.drop = L.Dropout(n.relu, dropout_ratio=0.3, in_place=True)
n.silence = L.Silence(n.label, ntop=0)
n.out = L.Pooling(n.drop, pool=P.Pooling.AVE, kernel_size=2, stride=2)
net = n.to_proto()
""",
    'fallback_onto_layer_parameter': """
n = NetSpec()
n.data, n.label = L.Input(name='input', ntop=2, shape=[dict(dim=[1, 3, 4, 4]), dict(dim=[1, 1, 4, 4])])
n.up = L.Deconvolution(n.data, convolution_param=dict(num_output=3, kernel_size=4, stride=2, bias_term=False),
                       param=[dict(lr_mult=0)])
n.loss = L.SoftmaxWithLoss(n.up, n.label, loss_weight=[2], include=dict(phase=0),
                           propagate_down=[True, False], loss_param=dict(ignore_label=255, normalize=False))
n.acc = L.Accuracy(n.up, n.label, top_k=1, exclude=[dict(phase=0), dict(stage=['x'])])
net = n.to_proto()
""",
    'repeated_scalars_and_enums': """
n = NetSpec()
n.a = L.Input(shape=dict(dim=[1, 2, 6, 6]))
n.b = L.Convolution(n.a, num_output=2, kernel_size=1)
n.s = L.Eltwise(n.a, n.b, coeff=[0.5, 0.5])
n.c = L.Crop(n.s, n.b, axis=2, offset=0)
n.cat = L.Concat(n.c, n.b, axis=1)
n.lrn = L.LRN(n.cat, local_size=5, alpha=1e-4, beta=0.75, norm_region=P.LRN.WITHIN_CHANNEL)
n.sc = L.Scale(n.lrn, filler=dict(type='constant', value=0.01), bias_term=True, param=[dict(lr_mult=0)])
n.sm = L.Softmax(n.sc, axis=1)
net = n.to_proto()
""",
    'renamed_top_last_name_wins': """
n = NetSpec()
n.a = L.Input(shape=dict(dim=[1, 1, 2, 2]))
n.b = L.ReLU(n.a)
n.c = n.b
net = n.to_proto()
""",
}


def dsl_record():
    from caffe import NetSpec, layers as L, params as P, to_proto
    out = {}
    for name, code in DSL_CASES.items():
        scope = {'L': L, 'P': P, 'NetSpec': NetSpec, 'to_proto': to_proto}
        exec(code, scope)
        out[name] = {'code': code, 'net': text_format.MessageToString(scope['net'])}
    return out


def coord_map_record():
    from caffe import coord_map, layers as L, params as P
    out = []
    for case in _chain_cases():
        data = L.Input(shape=dict(dim=[1, 3, 64, 64]))
        top = data
        for layer in case['layers']:
            if layer['type'] == 'ReLU':
                top = L.ReLU(top)
            elif layer['type'] == 'Pooling':
                top = L.Pooling(top, pool=P.Pooling.MAX, kernel_size=layer['kernel_size'], stride=layer['stride'],
                                pad=layer['pad'])
            elif layer['type'] == 'Convolution':
                top = L.Convolution(top, num_output=1, kernel_size=layer['kernel_size'], stride=layer['stride'],
                                    pad=layer['pad'])
            else:
                top = L.Deconvolution(top, convolution_param=dict(num_output=1, kernel_size=layer['kernel_size'],
                                                                  stride=layer['stride'], pad=layer['pad'],
                                                                  bias_term=False))
        if case['reference'] == 'data':
            ref = data
        elif case['reference'] == 'branch':
            ref = L.Convolution(data, num_output=1, kernel_size=case['branch']['kernel_size'],
                                pad=case['branch']['pad'])
        else:
            ref = L.Input(shape=dict(dim=[1, 3, 64, 64]))
        try:
            crop = coord_map.crop(top, ref)
            result = {'offset': [int(o) for o in crop.fn.params['crop_param']['offset']],
                      'axis': int(crop.fn.params['crop_param']['axis'])}
        except AssertionError as e:
            msg = str(e)
            kind = ('scale' if 'scale mismatch' in msg else 'negative' if 'negative' in msg
                    else 'noninteger' if 'noninteger' in msg else msg)
            result = {'refused': kind}
        except RuntimeError as e:
            result = {'refused': 'unrelated' if 'Could not compute map' in str(e) else str(e)}
        out.append(dict(case, **result))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    schema = dump_schema()
    with open(os.path.join(OUT, 'caffe_schema.json'), 'w') as f:
        json.dump(schema, f, indent=1, sort_keys=True)
    record = parse_generated()
    with open(os.path.join(OUT, 'parse_record.json'), 'w') as f:
        json.dump({'widths': WIDTHS, 'files': record}, f, indent=1, sort_keys=True)
    with open(os.path.join(OUT, 'dsl_cases.json'), 'w') as f:
        json.dump(dsl_record(), f, indent=1, sort_keys=True)
    maps = coord_map_record()
    with open(os.path.join(OUT, 'coord_maps.json'), 'w') as f:
        json.dump(maps, f, indent=0, sort_keys=True)
    from collections import Counter
    print('coord maps:', Counter(m.get('refused', 'offset') for m in maps))
    bad = [k for k, v in record.items() if not v['parsed'] or v.get('net_built') is False]
    print(f'{len(schema["messages"])} messages, {len(schema["enums"])} enums; {len(record)} generated files, '
          f'{len(bad)} failed: {bad}')


if __name__ == '__main__':
    main()
