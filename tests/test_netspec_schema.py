"""Our caffe.proto agrees with the real Caffe's, and the real Caffe reads (and builds) every net we generate.

Records made by tests/golden/make_schema.py in the oracle venv (brocolli-caffe 9.0.2, a Caffe 1.0 fork).
"""
import hashlib
import json

import pytest
from google.protobuf.descriptor import FieldDescriptor

import netspec
from netspec import caffe_pb2, models
from netspec.shapes import infer_shapes

from conftest import GOLDEN

SCHEMA = GOLDEN / 'schema' / 'caffe_schema.json'
RECORD = GOLDEN / 'schema' / 'parse_record.json'

# Where brocolli-caffe differs from BVLC caffe.proto (@9b89154), which ours follows:
# fields BVLC has and the fork lacks
BVLC_ONLY_FIELDS = {
    ('caffe.PoolingParameter', 'round_mode'),        # the fork has ceil_mode (bool, 13) instead
    ('caffe.SolverParameter', 'layer_wise_reduce'),  # BVLC 41
    ('caffe.SolverParameter', 'weights'),            # BVLC 42
    ('caffe.InfogainLossParameter', 'axis'),         # BVLC 2
    ('caffe.LayerParameter', 'swish_param'),         # BVLC 147 (after 1.0)
    ('caffe.LayerParameter', 'clip_param'),          # BVLC 148 (after 1.0)
}
# messages BVLC has and the fork lacks (layers added after 1.0)
BVLC_ONLY_MESSAGES = {'caffe.ClipParameter', 'caffe.SwishParameter'}
BVLC_ONLY_ENUMS = {'caffe.PoolingParameter.RoundMode'}
# fields whose default differs: the fork gives stride_h/stride_w [default = 1], BVLC gives none (0)
DEFAULT_DIFFERS = {('caffe.ConvolutionParameter', 'stride_h'), ('caffe.ConvolutionParameter', 'stride_w')}

_TYPES = {v: k[len('TYPE_'):].lower() for k, v in vars(FieldDescriptor).items() if k.startswith('TYPE_')}


def _label(f):
    return 'repeated' if f.is_repeated else ('required' if f.is_required else 'optional')


def _default(f):
    if f.is_repeated or f.type == FieldDescriptor.TYPE_MESSAGE:
        return None
    value = f.default_value
    if f.type == FieldDescriptor.TYPE_ENUM:
        return f.enum_type.values_by_number[value].name
    return value.decode('latin-1') if isinstance(value, bytes) else value


def _ours():
    messages, enums = {}, {}

    def visit(m):
        messages[m.full_name] = m
        for e in m.enum_types:
            enums[e.full_name] = e
        for sub in m.nested_types:
            visit(sub)
    for m in caffe_pb2.DESCRIPTOR.message_types_by_name.values():
        visit(m)
    for e in caffe_pb2.DESCRIPTOR.enum_types_by_name.values():
        enums[e.full_name] = e
    return messages, enums


@pytest.fixture(scope='module')
def caffe_schema():
    return json.loads(SCHEMA.read_text())


@pytest.fixture(scope='module')
def record():
    return json.loads(RECORD.read_text())


def test_every_message_of_ours_exists_in_real_caffe(caffe_schema):
    messages, _ = _ours()
    assert sorted(set(messages) - set(caffe_schema['messages'])) == sorted(BVLC_ONLY_MESSAGES)


def test_fields_agree_in_number_type_label_and_default(caffe_schema):
    messages, _ = _ours()
    problems, checked = [], 0
    for name, msg in messages.items():
        if name in BVLC_ONLY_MESSAGES:
            continue
        theirs = caffe_schema['messages'][name]
        for f in msg.fields:
            if (name, f.name) in BVLC_ONLY_FIELDS:
                assert f.name not in theirs, f'{name}.{f.name} is listed as BVLC-only but the oracle has it'
                continue
            if f.name not in theirs:
                problems.append(f'{name}.{f.name}: not in real Caffe')
                continue
            t = theirs[f.name]
            mine = {'number': f.number, 'type': _TYPES[f.type], 'label': _label(f)}
            if (name, f.name) not in DEFAULT_DIFFERS:
                mine['default'] = _default(f)
            for key, value in mine.items():
                other = t[key]
                same = value == other or (isinstance(value, float) and abs(value - other) <= 1e-7 * abs(other))
                if not same:
                    problems.append(f'{name}.{f.name}: {key} ours {value!r}, Caffe {other!r}')
            checked += 1
    assert problems == []
    assert checked > 400


def test_known_fork_differences_are_real(caffe_schema):
    pool = caffe_schema['messages']['caffe.PoolingParameter']
    assert 'round_mode' not in pool and pool['ceil_mode']['number'] == 13
    ours = caffe_pb2.PoolingParameter.DESCRIPTOR.fields_by_name['round_mode']
    assert ours.number == 13 and _default(ours) == 'CEIL'
    conv = caffe_schema['messages']['caffe.ConvolutionParameter']
    assert conv['stride_h']['default'] == 1
    assert caffe_pb2.ConvolutionParameter.DESCRIPTOR.fields_by_name['stride_h'].has_default_value is False


def test_enum_values_agree(caffe_schema):
    _, enums = _ours()
    problems = []
    for name, enum in enums.items():
        if name in BVLC_ONLY_ENUMS:
            continue
        theirs = caffe_schema['enums'].get(name)
        if theirs is None:
            problems.append(f'{name}: not in real Caffe')
            continue
        for v in enum.values:
            if theirs.get(v.name) != v.number:
                problems.append(f'{name}.{v.name} = {v.number}, Caffe {theirs.get(v.name)}')
    assert problems == []


def _generated_text(width):
    out = {}
    for folder in models.FOLDERS:
        for fname, msg in models.make_folder(folder, width=width).items():
            text = models.solver_text(msg) if fname == 'solver.prototxt' else netspec.to_text(msg)
            out[f'{folder}/{fname}'] = text
    return out


def test_real_caffe_parsed_every_file_we_generate(record):
    files = record['files']
    assert len(files) == 2 * 4 * len(models.FOLDERS)
    assert [k for k, v in files.items() if not v['parsed']] == []
    for label, width in record['widths'].items():
        current = _generated_text(width)
        stale = [k for k, text in current.items()
                 if files.get(f'{label}/{k}', {}).get('sha256') != hashlib.sha256(text.encode()).hexdigest()]
        assert stale == [], ('the generators changed since the oracle parsed them: rerun '
                             'tests/golden/make_schema.py in the oracle venv', stale)


def test_real_caffe_built_every_thin_deploy_net_with_our_shapes(record):
    built = {k: v for k, v in record['files'].items() if k.endswith('deploy.prototxt') and 'net_built' in v}
    assert len(built) == len(models.FOLDERS)
    for key, entry in built.items():
        assert entry['net_built'], (key, entry.get('error'))
        folder = key.split('/')[-2]
        for out, shape in entry['outputs'].items():
            assert shape[2:] == [500, 500], (key, out, shape)
        ours = {b: list(s) for b, s in
                infer_shapes(models.make_folder(folder, width=1 / 16)['deploy.prototxt'], {}).items()}
        # Caffe adds Split layers where a blob feeds several layers: blob_layer_i_split_j
        caffe = {b: s for b, s in entry['blobs'].items() if '_split_' not in b}
        assert ours == caffe, key
