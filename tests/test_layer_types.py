"""The layer-type records (netspec.layertypes): one per Caffe type, matching the runtime's registry and caffe.proto's
LayerParameter, and the one place the packages learn a type's facts (no hand list of type names elsewhere)."""
import ast
import pathlib

import pytest

from netspec import caffe_pb2, layertypes, parse_text, sizes
from netspec.layertypes import LAYER_TYPES, layer_type
from netspec.shapes import DATA_TYPES, infer_shapes, param_shapes
from runtime import REGISTRY, Net
from runtime.state import v1_layer_type
from solvers.solver import loss_weights
from weights.caffemodel import PARAM_TYPES

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIBRARY = ('netspec', 'runtime', 'weights', 'solvers', 'pycaffe', 'scoring', 'datalayers')

#: Caffe types with a record whose runtime class is still to come (this set only shrinks)
PENDING = set()


def test_every_registered_type_has_a_record_and_every_record_a_class_but_the_pending():
    assert set(REGISTRY) <= set(LAYER_TYPES)
    assert set(LAYER_TYPES) - set(REGISTRY) == PENDING
    for name, cls in REGISTRY.items():
        assert cls.type_name == name and layer_type(name).name == name


def test_records_read_fields_of_layer_parameter_and_serve_every_parameter_message():
    fields = caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name
    read = set()
    for r in LAYER_TYPES.values():
        for f in r.params:
            assert f in fields and fields[f].message_type is not None, (r.name, f)
        read.update(r.params)
    messages = {f.name for f in caffe_pb2.LayerParameter.DESCRIPTOR.fields
                if f.name.endswith('_param') and f.message_type is not None}
    assert messages == read


def test_every_v1_layer_type_upgrades_to_a_recorded_type():
    for value in caffe_pb2.V1LayerParameter.LayerType.values():
        name = v1_layer_type(value)
        assert name is None or name in LAYER_TYPES, name


def test_unknown_type_names_the_known_ones():
    with pytest.raises(KeyError) as e:
        layer_type('Convolutoin')
    assert "'Convolutoin'" in str(e.value) and 'Convolution' in str(e.value)


def test_counts_are_checked_from_the_record_before_the_rule():
    net = parse_text('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
                     'layer { name: "l" type: "SoftmaxWithLoss" bottom: "x" top: "l" }')
    with pytest.raises(sizes.ShapeError, match='needs 2 bottom'):
        infer_shapes(net, {})


def test_weights_and_shapes_take_the_blob_owners_from_the_records():
    assert PARAM_TYPES == {n for n, r in LAYER_TYPES.items() if r.owns_blobs}
    assert {'Convolution', 'Deconvolution', 'InnerProduct', 'Scale', 'Bias', 'BatchNorm', 'PReLU', 'Embed',
            'RNN', 'LSTM', 'Parameter'} == PARAM_TYPES
    assert DATA_TYPES == {n for n, r in LAYER_TYPES.items() if r.tops is None}


def test_param_shapes_follow_the_records():
    net = parse_text('layer { name: "x" type: "Input" top: "x" '
                     'input_param { shape { dim: 2 dim: 3 dim: 5 dim: 4 } } }\n'
                     'layer { name: "s" type: "Scale" bottom: "x" top: "s" scale_param { axis: 1 num_axes: 2 '
                     'bias_term: true } }\n'
                     'layer { name: "b" type: "BatchNorm" bottom: "s" top: "b" }\n'
                     'layer { name: "p" type: "PReLU" bottom: "b" top: "p" }\n'
                     'layer { name: "q" type: "PReLU" bottom: "p" top: "q" prelu_param { channel_shared: true } }\n'
                     'layer { name: "e" type: "Embed" bottom: "x" top: "e" embed_param { num_output: 6 input_dim: 9 } }')
    assert param_shapes(net) == {'s': [(3, 5), (3, 5)], 'b': [(3,), (3,), (1,)], 'p': [(3,)], 'q': [()],
                                 'e': [(9, 6), (6,)]}


def test_loss_weights_come_from_the_net_the_record_deciding_the_default():
    net = Net(parse_text(
        'layer { name: "x" type: "Input" top: "x" top: "y" input_param { shape { dim: 2 dim: 3 } '
        'shape { dim: 2 } } }\n'
        'layer { name: "l" type: "SoftmaxWithLoss" bottom: "x" bottom: "y" top: "l" top: "p" }\n'
        'layer { name: "m" type: "SoftmaxWithLoss" bottom: "x" bottom: "y" top: "m" top: "q" loss_weight: 0.5 '
        'loss_weight: 0 }\n'
        'layer { name: "s" type: "Softmax" bottom: "x" top: "s" }'), device='meta')
    assert net.loss_weights == {'l': 1.0, 'm': 0.5}
    assert loss_weights(net) == {'l': 1.0, 'm': 0.5}
    g = net.caffe_graph
    facts = {L.name: L for L in g.layers}
    assert facts['l'].loss == [1.0, 0.0] and facts['s'].loss == [0.0]


def test_force_backward_skips_the_bottoms_the_record_names():
    assert layer_type('SoftmaxWithLoss').no_diff == (1,)
    assert layer_type('ContrastiveLoss').no_diff == (2,)
    assert layer_type('EuclideanLoss').no_diff == ()
    net = Net(parse_text(
        'force_backward: true\n'
        'layer { name: "x" type: "Input" top: "x" top: "y" input_param { shape { dim: 2 dim: 3 } '
        'shape { dim: 2 } } }\n'
        'layer { name: "l" type: "SoftmaxWithLoss" bottom: "x" bottom: "y" top: "l" }'), device='meta')
    g = net.caffe_graph
    i = [L.name for L in g.layers].index('l')
    assert g.bottom_need[i] == [True, False]


def test_back_propagating_through_a_type_without_backward_is_refused():
    net = Net(parse_text(
        'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
        'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip" inner_product_param { num_output: 4 '
        'weight_filler { type: "gaussian" std: 1 } } }\n'
        'layer { name: "am" type: "ArgMax" bottom: "ip" top: "am" argmax_param { out_max_val: true axis: 1 } '
        'loss_weight: 1 }'), phase='train')
    assert not layer_type('ArgMax').backward
    net.forward()
    with pytest.raises(Exception, match="'am' \\(type ArgMax\\) has no backward in Caffe"):
        net.backward()


def test_pass_through_is_caffes_coord_map_list():
    assert layertypes.pass_through() == {
        'AbsVal', 'BatchNorm', 'Bias', 'BNLL', 'Dropout', 'Eltwise', 'ELU', 'Log', 'LRN', 'Exp', 'MVN', 'Power',
        'ReLU', 'PReLU', 'Scale', 'Sigmoid', 'Split', 'TanH', 'Threshold'}


def _type_name_lists(path):
    """(line, names) of every literal set/list/tuple/dict in `path` holding two or more recorded type names."""
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Set, ast.List, ast.Tuple)):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        names = [e.value for e in items if isinstance(e, ast.Constant) and e.value in LAYER_TYPES]
        if len(names) >= 2:
            out.append((node.lineno, names))
    return out


#: lists of type names that are not facts of the types: {module: why}
CHOICES = {
    'netspec/rarefy.py': 'the layers filter rarefaction may leave after the rarefied one (the algorithm\'s choice)',
    'netspec/receptive.py': 'conv_depth\'s default `counted`: which layers a depth counts (the papers\' convention)',
    'runtime/state.py': 'Caffe\'s UpgradeV1LayerType spellings of V1 enum names',
    'netspec/table1.py': 'the classifiers\' fillers: MSRA on their convolutions and inner products, as the demo\'s',
    'pycaffe/draw.py': 'Caffe\'s draw.py: its colours and the types it labels with their parameters',
}


def test_no_library_module_keeps_its_own_list_of_type_names():
    found = {}
    for package in LIBRARY:
        for path in sorted((ROOT / package).rglob('*.py')):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith('netspec/layertypes/') or rel.startswith('netspec/models/'):
                continue    # the records themselves; the model generators write nets out of these types
            lists = _type_name_lists(path)
            if lists and rel not in CHOICES:
                found[rel] = lists
    assert found == {}


def test_types_caffe_refuses_in_place_are_refused_in_place():
    assert {n for n, r in LAYER_TYPES.items() if not r.in_place} == {'Flatten', 'Reshape', 'Split'}
    with pytest.raises(ValueError, match="'f'.*does not allow in-place computation"):
        Net(parse_text('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
                       'layer { name: "f" type: "Flatten" bottom: "x" top: "x" }'))
