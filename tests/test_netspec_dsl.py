"""The NetSpec DSL behaves as Caffe's net_spec.py: routing, conversions, ntop, in_place, naming, enums."""
import pytest

import netspec
from netspec import NetSpec, caffe_pb2, layers as L, params as P
from netspec.dsl import param_name_dict


def _data(n, shape=(1, 3, 8, 8)):
    n.data = L.Input(shape=dict(dim=list(shape)))
    return n.data


def test_routing_table_is_derived_from_layer_parameter_descriptor():
    table = param_name_dict()
    assert table['Convolution'] == 'convolution'
    assert table['LRN'] == 'lrn'
    assert table['Python'] == 'python'
    assert table['Input'] == 'input'
    # every *_param field of LayerParameter whose message is <Type>Parameter is covered, none invented
    fields = {f.name for f in caffe_pb2.LayerParameter.DESCRIPTOR.fields if f.name.endswith('_param')}
    assert {v + '_param' for v in table.values()} <= fields
    assert len(table) >= 40


def test_plain_keywords_go_into_the_type_param():
    n = NetSpec()
    n.conv = L.Convolution(_data(n), kernel_size=3, num_output=64, pad=100)
    layer = n.to_proto().layer[1]
    assert layer.convolution_param.num_output == 64
    assert list(layer.convolution_param.kernel_size) == [3]     # scalar into a repeated field
    assert list(layer.convolution_param.pad) == [100]


def test_keywords_ending_in_param_are_set_on_layer_parameter():
    n = NetSpec()
    n.up = L.Deconvolution(_data(n), convolution_param=dict(num_output=21, kernel_size=64, stride=32,
                                                            bias_term=False),
                           param=[dict(lr_mult=0)])
    layer = n.to_proto().layer[1]
    assert layer.type == 'Deconvolution'
    assert layer.convolution_param.bias_term is False
    assert list(layer.convolution_param.stride) == [32]
    assert len(layer.param) == 1 and layer.param[0].lr_mult == 0


def test_list_of_dicts_becomes_repeated_messages():
    n = NetSpec()
    n.conv = L.Convolution(_data(n), num_output=4, kernel_size=1,
                           param=[dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)])
    param = n.to_proto().layer[1].param
    assert [(p.lr_mult, p.decay_mult) for p in param] == [(1, 1), (2, 0)]


def test_dict_becomes_sub_message():
    n = NetSpec()
    n.scale = L.Scale(_data(n), filler=dict(type='constant', value=0.01), param=[dict(lr_mult=0)])
    layer = n.to_proto().layer[1]
    assert layer.scale_param.filler.type == 'constant'
    assert abs(layer.scale_param.filler.value - 0.01) < 1e-9


def test_keyword_unknown_to_the_type_param_falls_back_to_layer_parameter():
    n = NetSpec()
    n.loss = L.SoftmaxWithLoss(_data(n), _data(n), loss_weight=2, loss_param=dict(ignore_label=255))
    n.relu = L.ReLU(n.data, name='my_relu', include=dict(phase=caffe_pb2.TEST))
    net = n.to_proto()
    loss = [l for l in net.layer if l.type == 'SoftmaxWithLoss'][0]
    assert list(loss.loss_weight) == [2] and loss.loss_param.ignore_label == 255
    relu = [l for l in net.layer if l.type == 'ReLU'][0]
    assert relu.name == 'my_relu' and relu.include[0].phase == caffe_pb2.TEST


def test_unknown_keyword_is_a_clear_error_naming_layer_and_field():
    n = NetSpec()
    n.conv = L.Convolution(_data(n), num_output=4, kernel_sise=3)
    with pytest.raises(ValueError) as e:
        n.to_proto()
    msg = str(e.value)
    print(msg)
    assert "'conv'" in msg and 'kernel_sise' in msg and 'convolution_param' in msg


def test_non_top_input_is_a_type_error():
    with pytest.raises(TypeError, match='Convolution input 0 is not a Top'):
        L.Convolution('data', num_output=1)


def test_ntop_returns_tuple_single_top_or_function():
    two = L.Python(module='m', layer='X', ntop=2)
    assert isinstance(two, tuple) and len(two) == 2
    one = L.Python(module='m', layer='X')
    assert isinstance(one, netspec.Top)
    none = L.Python(two[0], module='m', layer='Sink', ntop=0)
    assert isinstance(none, netspec.Function)
    n = NetSpec()
    n.data, n.label = two
    layer = n.to_proto().layer[0]
    assert list(layer.top) == ['data', 'label'] and layer.name == 'data'


def test_in_place_top_is_the_bottom():
    n = NetSpec()
    n.conv = L.Convolution(_data(n), num_output=4, kernel_size=3)
    n.relu = L.ReLU(n.conv, in_place=True)
    n.drop = L.Dropout(n.relu, dropout_ratio=0.5, in_place=True)
    n.next = L.Convolution(n.drop, num_output=4, kernel_size=1)
    relu, drop, nxt = n.to_proto().layer[2:]
    assert relu.name == 'relu' and list(relu.bottom) == ['conv'] and list(relu.top) == ['conv']
    assert drop.name == 'drop' and list(drop.top) == ['conv']
    assert list(nxt.bottom) == ['conv']


def test_unnamed_tops_get_type_and_counter_names_in_depth_first_order():
    data = L.Input(shape=dict(dim=[1, 3, 4, 4]))
    a = L.ReLU(data)
    b = L.ReLU(a)
    net = b.to_proto()
    assert [l.name for l in net.layer] == ['Input1', 'ReLU1', 'ReLU2']
    assert list(net.layer[2].bottom) == ['ReLU1']


def test_layer_order_follows_assignment_and_dependencies():
    n = NetSpec()
    data = L.Input(shape=dict(dim=[1, 3, 4, 4]))
    n.b = L.ReLU(L.TanH(data))          # unnamed dependencies come first, depth-first
    n.a = L.Sigmoid(n.b)
    assert [l.name for l in n.to_proto().layer] == ['Input1', 'TanH1', 'b', 'a']


def test_to_proto_is_a_net_parameter_printing_in_field_number_order():
    n = NetSpec()
    n.conv = L.Convolution(_data(n), stride=1, kernel_size=3, pad=1, num_output=64)
    text = netspec.to_text(n.to_proto())
    block = text[text.index('convolution_param'):]
    assert block.index('num_output') < block.index('pad') < block.index('kernel_size') < block.index('stride')


def test_enum_access_from_the_descriptors():
    assert P.Pooling.MAX == caffe_pb2.PoolingParameter.MAX == 0
    assert P.Pooling.AVE == 1
    assert P.Eltwise.SUM == 1
    assert P.Loss.VALID == caffe_pb2.LossParameter.VALID
    n = NetSpec()
    n.pool = L.Pooling(_data(n), pool=P.Pooling.AVE, kernel_size=2, stride=2)
    assert 'pool: AVE' in netspec.to_text(n.to_proto())


def test_enum_given_by_name_is_accepted():
    n = NetSpec()
    n.pool = L.Pooling(_data(n), pool='MAX', kernel_size=2)
    assert n.to_proto().layer[1].pooling_param.pool == P.Pooling.MAX


def test_unknown_params_name_and_enum_value_are_clear_errors():
    with pytest.raises(AttributeError, match='no message NopeParameter'):
        P.Nope.X
    with pytest.raises(AttributeError, match='PoolingParameter has no enum value or member'):
        P.Pooling.MEDIAN


def test_netspec_item_access_allows_names_with_slashes():
    n = NetSpec()
    n['conv1/7x7_s2'] = L.Convolution(_data(n), num_output=2, kernel_size=7)
    assert 'conv1/7x7_s2' in n and n.to_proto().layer[1].name == 'conv1/7x7_s2'
    with pytest.raises(AttributeError, match="no top named 'missing'"):
        n.missing


def test_same_programs_give_the_same_nets_as_caffes_net_spec():
    """tests/golden/schema/dsl_cases.json: programs run by Caffe's own net_spec.py (oracle record)."""
    import json
    from conftest import GOLDEN
    cases = json.loads((GOLDEN / 'schema' / 'dsl_cases.json').read_text())
    assert len(cases) >= 5
    for name, case in cases.items():
        scope = {'L': L, 'P': P, 'NetSpec': NetSpec, 'to_proto': netspec.to_proto}
        exec(case['code'], scope)
        assert scope['net'] == netspec.parse_text(case['net']), name
