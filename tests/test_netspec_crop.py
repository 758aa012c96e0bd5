"""netspec.crop: offsets from the layer geometry (coordinate maps), and clear refusals."""
import pytest

import netspec
from netspec import NetSpec, layers as L, params as P
from netspec.models import fcn_alexnet, fcn_googlenet, fcn_vgg16


def _offsets(net):
    return {l.name: (l.crop_param.axis, list(l.crop_param.offset)) for l in net.layer if l.type == 'Crop'}


def test_fcn32s_offset_is_19():
    assert _offsets(fcn_vgg16(stride=32)) == {'score': (2, [19])}


def test_fcn16s_offsets_are_5_and_27():
    assert _offsets(fcn_vgg16(stride=16)) == {'score_pool4c': (2, [5]), 'score': (2, [27])}


def test_fcn8s_offsets_are_5_9_and_31():
    assert _offsets(fcn_vgg16(stride=8)) == {'score_pool4c': (2, [5]), 'score_pool3c': (2, [9]),
                                             'score': (2, [31])}


def test_fcn8s_atonce_offsets_pass_through_the_scale_layers():
    assert _offsets(fcn_vgg16(stride=8, at_once=True)) == {'score_pool4c': (2, [5]), 'score_pool3c': (2, [9]),
                                                           'score': (2, [31])}


def test_alexnet_offset_is_18():
    assert _offsets(fcn_alexnet()) == {'score': (2, [18])}


def test_googlenet_offset_through_concat_is_integral():
    # conv1 pad 100 and the 63/32 upsampling: offset = pad - 2
    assert _offsets(fcn_googlenet()) == {'score': (2, [98])}


def test_crop_layer_has_both_bottoms_and_computed_offset():
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 32, 32]))
    n.conv = L.Convolution(n.data, num_output=2, kernel_size=3, pad=5)     # x_data = y - 4
    n.score = netspec.crop(n.conv, n.data)
    layer = n.to_proto().layer[-1]
    assert layer.type == 'Crop' and list(layer.bottom) == ['conv', 'data']
    assert layer.crop_param.axis == 2 and list(layer.crop_param.offset) == [4]


def test_crop_through_deconvolution_and_crop_layers():
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 32, 32]))
    n.pool = L.Pooling(n.data, pool=P.Pooling.MAX, kernel_size=2, stride=2, pad=0)   # x = 2y + 0.5
    n.up = L.Deconvolution(n.pool, convolution_param=dict(num_output=3, kernel_size=4, stride=2, pad=0,
                                                          bias_term=False))  # y = (z - 1.5)/2 -> x = z - 1
    n.c1 = netspec.crop(n.up, n.data)
    assert list(n.to_proto().layer[-1].crop_param.offset) == [1]
    n.big = L.Convolution(n.data, num_output=3, kernel_size=1, pad=7)          # x = y - 7
    n.c2 = netspec.crop(n.big, n.data)                                           # offset 7
    n.c3 = netspec.crop(n.big, n.c2)                                             # c2 starts at big's 7
    assert _offsets(n.to_proto())['c3'] == (2, [7])


def test_crop_between_unrelated_blobs_names_both():
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 32, 32]))
    n.other = L.Input(shape=dict(dim=[1, 3, 32, 32]))
    n.conv = L.Convolution(n.data, num_output=2, kernel_size=3, pad=1)
    with pytest.raises(netspec.CropError) as e:
        netspec.crop(n.conv, n.other)
    msg = str(e.value)
    print(msg)
    assert "'conv'" in msg and "'other'" in msg and 'share no ancestor' in msg


def test_crop_needing_a_negative_offset_is_refused():
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 32, 32]))
    n.conv = L.Convolution(n.data, num_output=2, kernel_size=5, pad=0)       # x_data = y + 2: starts inside
    with pytest.raises(netspec.CropError) as e:
        netspec.crop(n.conv, n.data)
    msg = str(e.value)
    print(msg)
    assert "'conv'" in msg and "'data'" in msg and 'negative offset -2' in msg


def test_crop_needing_a_fractional_offset_is_refused():
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 32, 32]))
    n.pool = L.Pooling(n.data, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    n.up = L.Deconvolution(n.pool, convolution_param=dict(num_output=3, kernel_size=2, stride=2, bias_term=False))
    n.pad = L.Convolution(n.up, num_output=3, kernel_size=2, pad=1)
    with pytest.raises(netspec.CropError) as e:
        netspec.crop(n.pad, n.data)
    print(e.value)
    assert 'not integral' in str(e.value)


def test_crop_across_strides_is_a_scale_mismatch():
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 32, 32]))
    n.pool = L.Pooling(n.data, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    with pytest.raises(netspec.CropError) as e:
        netspec.crop(n.pool, n.data)
    print(e.value)
    assert 'scale mismatch' in str(e.value) and "'pool'" in str(e.value)


def test_coord_map_is_exact():
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 32, 32]))
    n.pool = L.Pooling(n.data, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    a, b, anc = netspec.coord_map_from_to(n.pool, n.data)   # x_pool = x_data / 2 - 1/4
    assert (a, b) == (0.5, -0.25) and anc is n.data


def test_misaligned_merge_on_the_way_is_refused():
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 32, 32]))
    n.a = L.Convolution(n.data, num_output=3, kernel_size=3, pad=1)     # aligned with data
    n.b = L.Convolution(n.data, num_output=3, kernel_size=3, pad=2)     # shifted by one
    n.sum = L.Eltwise(n.a, n.b)
    with pytest.raises(netspec.CropError) as e:
        netspec.crop(n.sum, n.data)
    print(e.value)
    assert "'data'" in str(e.value) and 'not aligned' in str(e.value)


def _build_case(case):
    data = L.Input(shape=dict(dim=[1, 3, 64, 64]))
    top = data
    for layer in case['layers']:
        kw = {k: layer[k] for k in ('kernel_size', 'stride', 'pad') if k in layer}
        if layer['type'] == 'ReLU':
            top = L.ReLU(top)
        elif layer['type'] == 'Pooling':
            top = L.Pooling(top, pool=P.Pooling.MAX, **kw)
        elif layer['type'] == 'Convolution':
            top = L.Convolution(top, num_output=1, **kw)
        else:
            top = L.Deconvolution(top, convolution_param=dict(num_output=1, bias_term=False, **kw))
    if case['reference'] == 'data':
        ref = data
    elif case['reference'] == 'branch':
        ref = L.Convolution(data, num_output=1, **case['branch'])
    else:
        ref = L.Input(shape=dict(dim=[1, 3, 64, 64]))
    return top, ref


_REFUSAL = {'scale': 'scale mismatch', 'negative': 'negative offset', 'noninteger': 'not integral',
            'unrelated': 'share no ancestor'}


def test_offsets_and_refusals_agree_with_caffe_coord_map_on_random_chains():
    """tests/golden/schema/coord_maps.json: Caffe's own coord_map.crop on 300 seeded chains (oracle record)."""
    import json
    from conftest import GOLDEN
    cases = json.loads((GOLDEN / 'schema' / 'coord_maps.json').read_text())
    assert len(cases) == 300
    kinds = set()
    for i, case in enumerate(cases):
        top, ref = _build_case(case)
        if 'refused' in case:
            kinds.add(case['refused'])
            with pytest.raises(netspec.CropError, match=_REFUSAL[case['refused']]):
                netspec.crop(top, ref)
        else:
            kinds.add('offset')
            layer = netspec.to_proto(netspec.crop(top, ref)).layer[-1]
            assert (layer.crop_param.axis, list(layer.crop_param.offset)) == (case['axis'], case['offset']), i
    assert kinds == {'offset', 'scale', 'negative', 'noninteger', 'unrelated'}
