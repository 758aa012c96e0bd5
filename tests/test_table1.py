"""The paper's Table 1 computed from the generated full-width nets (geometry only), and tools/table1.py."""
import io
import json
import os

import numpy as np
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


# -- the trained row: the classifiers, the surgery, the study, the table ------------------------------------------

def _layers(net):
    return {layer.name: layer for layer in net.layer}


def _shapes(net):
    from netspec.shapes import infer_shapes
    return infer_shapes(net, {})


def test_each_classifier_is_its_ilsvrc_net_with_fully_connected_fc6_fc7_and_fc8():
    for name in ('FCN-AlexNet', 'FCN-VGG16'):
        net = table1.classifier_net(name, batch=2, num_classes=3, width=1 / 16)
        layers = _layers(net)
        assert [layers[k].type for k in ('fc6', 'fc7', 'fc8')] == ['InnerProduct'] * 3
        assert layers['fc8'].inner_product_param.num_output == 3
        assert layers['drop6'].type == layers['drop7'].type == 'Dropout'
        first = layers['conv1' if name == 'FCN-AlexNet' else 'conv1_1'].convolution_param
        assert list(first.pad) == ([0] if name == 'FCN-AlexNet' else [1])
    shapes = _shapes(table1.classifier_net('FCN-AlexNet', batch=2, num_classes=3, width=1 / 16))
    assert shapes['data'][2:] == (227, 227) and shapes['pool5'][2:] == (6, 6)
    shapes = _shapes(table1.classifier_net('FCN-VGG16', batch=2, num_classes=3, width=1 / 16))
    assert shapes['data'][2:] == (224, 224) and shapes['pool5'][2:] == (7, 7)


def test_the_googlenet_classifier_has_its_average_pool_and_two_auxiliary_classifiers_at_weight_0_3():
    net = table1.classifier_net('FCN-GoogLeNet', batch=2, num_classes=3, width=1 / 16)
    layers = _layers(net)
    shapes = _shapes(net)
    assert shapes['inception_5b/output'][2:] == (7, 7) and shapes['pool5/7x7_s1'][2:] == (1, 1)
    assert layers['pool5/7x7_s1'].pooling_param.kernel_size == 7
    assert list(layers['loss3/classifier'].bottom) == ['pool5/7x7_s1']
    assert list(layers['conv1/7x7_s2'].convolution_param.pad) == [3]
    for prefix, tap in (('loss1', 'inception_4a'), ('loss2', 'inception_4d')):
        assert list(layers[prefix + '/ave_pool'].bottom) == [tap + '/output']
        assert list(layers[prefix + '/loss'].loss_weight) == [pytest.approx(0.3)]
        assert layers[prefix + '/classifier'].inner_product_param.num_output == 3
    assert list(layers['loss'].loss_weight) in ([], [1.0])


def test_classifier_weights_are_msra_but_the_classifier_layers_gaussian():
    net = table1.classifier_net('FCN-GoogLeNet', batch=2, num_classes=3, width=1 / 16)
    for layer in net.layer:
        if layer.type == 'Convolution':
            assert layer.convolution_param.weight_filler.type == 'msra', layer.name
        elif layer.type == 'InnerProduct':
            want = 'gaussian' if layer.name.endswith('/classifier') else 'msra'
            assert layer.inner_product_param.weight_filler.type == want, layer.name


def test_the_trained_fcns_have_the_summed_loss():
    from netspec.models import input_data
    from netspec.models.parts import python_data
    source = python_data('voc_layers', 'VOCSegDataLayer', {})
    for name in table1.NETS:
        net = table1.fcn_net(name, source, num_classes=4, width=1 / 16)
        loss = _layers(net)['loss']
        assert loss.type == 'SoftmaxWithLoss' and loss.loss_param.normalize is False, name
    with pytest.raises(ValueError, match='unknown Table 1 net'):
        table1.fcn_net('FCN-ResNet', input_data())
    with pytest.raises(ValueError, match='unknown Table 1 net'):
        table1.classifier_net('FCN-ResNet')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """fcn-ablate's table1 study at its tiny setting, two seeds."""
    from tools import ablate as tool
    mod = tool._fcndemo_ablate()
    out = tmp_path_factory.mktemp('table1')
    cfg = mod.AblationConfig.quick(out=str(out), progress=False, studies=('table1',), seeds=(0, 1))
    out = io.StringIO()
    results = mod.run(cfg, out=out)
    return mod, cfg, results, out.getvalue()


def test_the_study_trains_each_trunk_and_nothing_else(trained):
    mod, cfg, results, text = trained
    for seed in results['seeds']:
        runs = seed['runs']
        assert sorted(runs) == sorted(mod.table1_key(n) for n in table1.NETS)
        for name in table1.NETS:
            r = runs[mod.table1_key(name)]
            assert r['label'] == name and r['iters'] == cfg.iters
            assert r['base_lr'] == cfg.table1_lrs[table1.NETS.index(name)]
            assert len(r['loss_curve']) == cfg.iters and np.all(np.isfinite(r['loss_curve']))
            assert r['max_weight_change']['score_fr'] > 0     # from Caffe's zero init
            assert 0 <= r['classifier_accuracy'] <= 1
            assert r['classifier_crop'] == table1.CLASSIFIER_CROP[name]
    assert mod.TITLES['table1'] in text
    for name in table1.NETS:
        assert any(line.strip().startswith(name) for line in results['tables']['table1'])


def test_the_surgery_maps_the_layers_the_paper_maps(trained):
    """fc6 / fc7 convolutionalized (AlexNet, VGG16), the classifier layers discarded (GoogLeNet's auxiliary ones
    and loss3/classifier, after its average pool), every trunk layer copied, score_fr left to its zero init."""
    mod, cfg, results, _ = trained
    from netspec.models import input_data
    from runtime import Net
    from weights import read_weights
    runs = results['seeds'][0]['runs']
    for name in table1.NETS:
        r = runs[mod.table1_key(name)]
        surgery = r['surgery']
        assert surgery['coerced'] == ([] if name == 'FCN-GoogLeNet' else ['fc6', 'fc7'])
        assert sorted(surgery['dropped']) == sorted(table1.CLASSIFIER_LAYERS[name])
        fcn = Net(table1.fcn_net(name, input_data((1, 3, 64, 64)), num_classes=cfg.num_classes,
                                 width=cfg.table1_width), device='meta')
        learned = [k for k, v in fcn.params.items() if v and k not in ('score_fr', 'upscore')]
        assert surgery['copied'] == learned
        clf = read_weights(os.path.join(os.path.dirname(r['weights']), 'classifier', 'classifier.caffemodel'))
        init = read_weights(r['init'])
        for layer in learned:
            for a, b in zip(clf[layer], init[layer]):
                assert np.array_equal(np.asarray(a).ravel(), np.asarray(b).ravel()), (name, layer)
        assert not np.any(init['score_fr'][0])


def test_the_study_is_not_in_the_default_set_and_is_asked_for_by_name(trained):
    from tools import ablate as tool
    mod = trained[0]
    assert 'table1' in mod.STUDIES and 'table1' not in mod.DEFAULT_STUDIES
    args = tool.build_parser().parse_args(['--studies', 'table1'])
    assert args.studies == ('table1',)
    assert tool.main(['--native-kernels', '--studies', 'table1', '--table1-lrs', '1e-9,2e-9']) == 2   # 1 per net


def test_the_table_prints_the_trained_mean_iu_row_labelled_as_what_it_is(trained, capsys):
    from tools import table1 as tool
    mod, cfg, results, _ = trained
    assert tool.main(['--no-time', '--results', results['files']['results']]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(table1.TRAINED_LABEL))
    cells = row[len(table1.TRAINED_LABEL):].split()
    want = [np.mean([100 * s['runs'][mod.table1_key(n)]['metrics']['mean_iu'] for s in results['seeds']])
            for n in table1.NETS]
    assert [float(c) for c in cells[0::2]] == [round(w, 1) for w in want]
    assert cells[1::2] == ['39.8', '56.0', '42.5']
    assert 'synthetic' in out and '1/32 of the channels' in out and 'seed(s) 0, 1' in out
    assert 'mean IU (VOC2011 val)' not in out


def test_the_table_refuses_results_without_the_table1_study(tmp_path, capsys):
    from tools import table1 as tool
    path = tmp_path / 'results.json'
    path.write_text(json.dumps({'studies': ['table2'], 'seeds': []}))
    assert tool.main(['--no-time', '--results', str(path)]) == 3
    assert 'no table1 study' in capsys.readouterr().err
    path.write_text('{not json')
    assert tool.main(['--no-time', '--results', str(path)]) == 3
    assert str(path) in capsys.readouterr().err
