"""The paper's Table 1 computed from the generated full-width nets (geometry only), and tools/table1.py."""
import pytest

from netspec import table1

ROWS = {r.name: r for r in table1.rows()}


def _classic_rf(layers):
    """The textbook recurrence over a chain of (kernel, stride): rf += (k - 1) * jump; jump *= s."""
    rf, jump = 1, 1
    for k, s in layers:
        rf += (k - 1) * jump
        jump *= s
    return rf


# The published architectures along their longest path up to the classifier's features, written out by hand.
ALEXNET = [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2), (6, 1), (1, 1)]   # .. pool5, fc6, fc7
VGG16 = ([(3, 1)] * 2 + [(2, 2)]) * 2 + ([(3, 1)] * 3 + [(2, 2)]) * 3 + [(7, 1), (1, 1)]
# conv1 7/2, pool1 3/2, conv2 1x1 and 3x3, pool2 3/2, inception 3a-3b (5x5 branch), pool3, 4a-4e, pool4, 5a-5b
GOOGLENET = ([(7, 2), (3, 2), (1, 1), (3, 1), (3, 2)] + [(5, 1)] * 2 + [(3, 2)] + [(5, 1)] * 5 + [(3, 2)]
             + [(5, 1)] * 2)
GOOGLENET_AVG_POOL = [(7, 1)]


def test_conv_layers_are_the_papers_8_16_22():
    assert [ROWS[n].conv_layers for n in table1.NETS] == [8, 16, 22]
    assert [ROWS[n].conv_layers for n in table1.NETS] == [table1.PAPER[n]['conv_layers'] for n in table1.NETS]


def test_googlenet_has_58_convolutions_of_which_22_on_the_longest_path():
    assert (ROWS['FCN-GoogLeNet'].conv_total, ROWS['FCN-VGG16'].conv_total, ROWS['FCN-AlexNet'].conv_total) == \
        (58, 16, 8)


def test_parameters_round_to_the_papers_57m_134m_6m():
    assert [ROWS[n].params for n in table1.NETS] == [56954261, 134346581, 5995077]
    assert [round(ROWS[n].params / 1e6) for n in table1.NETS] == [57, 134, 6]


def test_parameters_are_what_the_runtime_allocates_less_the_upsampling():
    from runtime import Net
    for name in table1.NETS:
        net = Net(table1.deploy_net(name), device='meta')
        kinds = {lp.name: lp.type for lp in net.net_param.layer}
        learned = sum(p.numel() for layer, ps in net.params.items() if kinds[layer] != 'Deconvolution' for p in ps)
        upsampling = sum(p.numel() for layer, ps in net.params.items() if kinds[layer] == 'Deconvolution'
                         for p in ps)
        assert (ROWS[name].params, ROWS[name].params_upsampling) == (learned, upsampling), name


def test_rf_equals_the_chain_recurrence_and_the_papers_355_404():
    assert ROWS['FCN-AlexNet'].rf == _classic_rf(ALEXNET) == table1.PAPER['FCN-AlexNet']['rf'] == 355
    assert ROWS['FCN-VGG16'].rf == _classic_rf(VGG16) == table1.PAPER['FCN-VGG16']['rf'] == 404


def test_googlenet_rf_is_715_and_907_with_the_average_pool_the_fcn_discards():
    assert ROWS['FCN-GoogLeNet'].rf == _classic_rf(GOOGLENET) == 715
    assert ROWS['FCN-GoogLeNet'].classifier_rf == _classic_rf(GOOGLENET + GOOGLENET_AVG_POOL) == 907
    assert table1.PAPER['FCN-GoogLeNet']['rf'] == 907


def test_alexnet_and_vgg16_classifier_features_see_what_score_fr_sees():
    for name in ('FCN-AlexNet', 'FCN-VGG16'):
        assert ROWS[name].classifier_rf == ROWS[name].rf


def test_an_upsampled_score_pixel_sees_two_score_fr_units():
    for name in table1.NETS:
        assert ROWS[name].rf_output == ROWS[name].rf + 32, name


def test_max_stride_is_32():
    assert [ROWS[n].max_stride for n in table1.NETS] == [32, 32, 32]


def test_table_puts_each_computed_value_beside_the_papers_and_explains_the_difference():
    lines, notes = table1.format_table(ROWS.values(), times={'FCN-VGG16': 3.456})
    text = '\n'.join(lines)
    assert 'FCN-AlexNet' in lines[0] and 'FCN-GoogLeNet' in lines[0]
    row = {line[:24].strip(): line[24:].split() for line in lines[2:]}
    assert row['conv. layers'] == ['8', '8', '16', '16', '22', '22']
    assert row['parameters'] == ['56.95M', '57M', '134.35M', '134M', '6.00M', '6M']
    assert row['rf size'] == ['355', '355', '404', '404', '715', '907']
    assert row['forward time'] == ['-', '50', 'ms', '3456', 'ms', '210', 'ms', '-', '59', 'ms']
    assert 'mean IU' in text
    assert any('FCN-GoogLeNet rf: 715' in n and '907' in n for n in notes)


def test_unknown_net_is_refused():
    with pytest.raises(ValueError, match="unknown Table 1 net 'FCN-ResNet'"):
        table1.deploy_net('FCN-ResNet')


def test_forward_times_times_each_forward_after_a_warmup(one_thread):
    from runtime.timing import forward_times
    times = forward_times(table1.deploy_net('FCN-AlexNet', size=48, width=1 / 16), repeat=2)
    assert len(times) == 2 and all(t > 0 for t in times)
    with pytest.raises(ValueError, match='repeat'):
        forward_times(table1.deploy_net('FCN-AlexNet', size=48, width=1 / 16), repeat=0)


def test_tool_prints_the_geometry_rows_without_timing(capsys):
    from tools import table1 as tool
    assert tool.main(['--no-time']) == 0
    out = capsys.readouterr().out
    assert 'rf size' in out and '907' in out
    assert not any(line.startswith('forward time') for line in out.splitlines())
