"""The model generators rebuild the reference folders, and the extra nets, deploy nets and thin nets are sound."""
import ast
import math

import pytest

import netspec
from netspec import caffe_pb2, models
from netspec.shapes import ShapeError, infer_shapes

REFERENCE_FILES = 46   # 31 nets + 15 solvers


def _kind(name):
    return 'SolverParameter' if name == 'solver.prototxt' else 'NetParameter'


def _literal_param_str(msg):
    """A copy with every param_str replaced by the repr of its Python literal value."""
    out = type(msg)()
    out.CopyFrom(msg)
    if isinstance(out, caffe_pb2.NetParameter):
        for layer in out.layer:
            if layer.HasField('python_param') and layer.python_param.param_str:
                layer.python_param.param_str = repr(ast.literal_eval(layer.python_param.param_str))
    return out


def _text(name, msg):
    return models.solver_text(msg) if name == 'solver.prototxt' else netspec.to_text(msg)


@pytest.fixture(scope='module')
def generated():
    return {f: models.make_folder(f) for f in models.FOLDERS}


def _reference_pairs(reference, generated):
    pairs = []
    for folder in models.REFERENCE_FOLDERS:
        for path in sorted((reference / folder).glob('*.prototxt')):
            assert path.name in generated[folder], f'{folder} lacks {path.name}'
            pairs.append((path, generated[folder][path.name]))
    return pairs


def test_folders_are_the_reference_folders_plus_two(reference):
    on_disk = sorted(p.parent.name for p in reference.glob('*/solver.prototxt'))
    assert sorted(models.REFERENCE_FOLDERS) == on_disk
    assert models.EXTRA_FOLDERS == ('voc-fcn32s-fixed', 'voc-fcn-googlenet')


def test_generated_folders_hold_the_reference_files_plus_deploy(reference, generated):
    for folder in models.REFERENCE_FOLDERS:
        ref = {p.name for p in (reference / folder).glob('*.prototxt')}
        assert set(generated[folder]) == ref | {'deploy.prototxt'}, folder


def test_all_46_reference_files_equal_the_generated_messages(reference, generated):
    pairs = _reference_pairs(reference, generated)
    assert len(pairs) == REFERENCE_FILES
    for path, msg in pairs:
        ref = netspec.read_text(path, _kind(path.name))
        assert _literal_param_str(msg) == _literal_param_str(ref), path


def test_byte_identical_text_for_all_but_the_hand_written_deploy(reference, generated):
    differ = [str(path.relative_to(reference)) for path, msg in _reference_pairs(reference, generated)
              if _text(path.name, msg) != path.read_text()]
    print(f'byte-identical: {REFERENCE_FILES - len(differ)} of {REFERENCE_FILES}; differ: {differ}')
    assert differ == ['voc-fcn8s/deploy.prototxt']


def test_param_str_is_the_python_literal_of_the_data_layer_settings(generated):
    layer = generated['voc-fcn32s']['train.prototxt'].layer[0]
    assert ast.literal_eval(layer.python_param.param_str) == {
        'sbdd_dir': '../data/sbdd/dataset', 'seed': 1337, 'split': 'train',
        'mean': (104.00699, 116.66877, 122.67892)}


def test_every_deploy_net_has_input_layer_no_loss_no_dropout(generated):
    for folder, files in generated.items():
        net = files['deploy.prototxt']
        types = [l.type for l in net.layer]
        assert types[0] == 'Input' and net.layer[0].name == 'input', folder
        assert 'Python' not in types and 'Dropout' not in types, folder
        assert not any(t.endswith('Loss') for t in types), folder
        train = files['solver.prototxt'].train_net
        kept = [l.name for l in files[train].layer if l.type not in ('Dropout', 'SoftmaxWithLoss', 'Python')]
        assert [l.name for l in net.layer[1:]] == kept, folder


def test_deploy_input_shapes_follow_the_folder_inputs(generated):
    shape = lambda f: {t: list(s.dim) for t, s in zip(generated[f]['deploy.prototxt'].layer[0].top,
                                                      generated[f]['deploy.prototxt'].layer[0].input_param.shape)}
    assert shape('voc-fcn8s') == {'data': [1, 3, 500, 500]}
    assert shape('nyud-fcn32s-color-d') == {'color': [1, 3, 500, 500], 'depth': [1, 1, 500, 500]}
    assert shape('nyud-fcn32s-color-hha') == {'color': [1, 3, 500, 500], 'hha': [1, 3, 500, 500]}


def test_every_generated_net_fits_at_500_and_odd_sizes(generated):
    for folder, files in generated.items():
        net = files['deploy.prototxt']
        for side in (1, 37, 500):
            inp = {}
            for top, s in zip(net.layer[0].top, net.layer[0].input_param.shape):
                inp[top] = (1, s.dim[1], side, side)
            probe = caffe_pb2.NetParameter()
            probe.CopyFrom(net)
            del probe.layer[0]
            shapes = infer_shapes(probe, inp)
            for out in ('score', 'score_sem', 'score_geo'):
                if out in shapes:
                    assert shapes[out][2:] == (side, side), (folder, side, out)


def test_vgg_crops_fit_every_input_side_up_to_1024():
    net = models.fcn_vgg16(stride=8, width=1 / 64)
    del net.layer[0]
    for side in range(1, 1025):
        assert infer_shapes(net, {'data': (1, 3, side, side)})['score'] == (1, 21, side, side)


def test_a_crop_that_does_not_fit_is_a_shape_error():
    net = models.fcn_vgg16(stride=32, width=1 / 64)
    for layer in net.layer:
        if layer.type == 'Crop':
            layer.crop_param.offset[0] = 60
    with pytest.raises(ShapeError, match="layer 'score' \\(Crop\\).*too short for offset 60"):
        infer_shapes(net, {})


def test_thin_nets_keep_topology_and_crop_offsets(generated):
    for folder in models.FOLDERS:
        thin = models.make_folder(folder, width=1 / 16)
        for fname, msg in thin.items():
            if fname == 'solver.prototxt':
                assert msg == generated[folder][fname]
                continue
            full = generated[folder][fname]
            assert [(l.name, l.type, list(l.bottom), list(l.top)) for l in msg.layer] == \
                   [(l.name, l.type, list(l.bottom), list(l.top)) for l in full.layer], (folder, fname)
            crops = lambda n: [list(l.crop_param.offset) for l in n.layer if l.type == 'Crop']
            assert crops(msg) == crops(full), (folder, fname)


def test_width_scales_trunk_channels():
    net = models.make_folder('voc-fcn32s', width=1 / 16)['train.prototxt']
    out = {l.name: l.convolution_param.num_output for l in net.layer if l.type == 'Convolution'}
    assert out['conv1_1'] == 4 and out['conv5_3'] == 32 and out['fc6'] == 256 and out['fc7'] == 256
    assert out['score_fr'] == 21


def test_thin_alexnet_keeps_grouped_channels_even():
    net = models.make_folder('voc-fcn-alexnet', width=1 / 16)['train.prototxt']
    for l in net.layer:
        if l.type == 'Convolution' and l.name != 'score_fr':
            assert l.convolution_param.num_output % 2 == 0, l.name


def test_num_classes_sets_every_score_layer():
    files = models.make_folder('voc-fcn8s', num_classes=5)
    for fname in ('train.prototxt', 'deploy.prototxt'):
        scored = {l.name: l.convolution_param.num_output for l in files[fname].layer
                  if l.type in ('Convolution', 'Deconvolution') and l.name.startswith(('score_', 'upscore'))}
        assert set(scored.values()) == {5} and len(scored) == 6, scored
    sift = models.make_folder('siftflow-fcn32s', num_classes=7)['trainval.prototxt']
    heads = {l.name: l.convolution_param.num_output for l in sift.layer if l.name.startswith('score_fr')}
    assert heads == {'score_fr_sem': 7, 'score_fr_geo': 3}


def test_fcn32s_fixed_learns_only_the_score_layer(generated):
    net = generated['voc-fcn32s-fixed']['train.prototxt']
    for layer in net.layer:
        if layer.type in ('Convolution', 'Deconvolution'):
            rates = [p.lr_mult for p in layer.param]
            if layer.name == 'score_fr':
                assert rates == [1, 2]
            else:
                assert rates and set(rates) == {0}, layer.name
    plain = generated['voc-fcn32s']['train.prototxt']
    strip = lambda n: [(l.name, l.type, list(l.bottom), list(l.top)) for l in n.layer]
    assert strip(net) == strip(plain)


def test_fcn_googlenet_has_the_inception_trunk_and_fcn_head(generated):
    net = generated['voc-fcn-googlenet']['train.prototxt']
    names = [l.name for l in net.layer]
    for module in ('3a', '3b', '4a', '4b', '4c', '4d', '4e', '5a', '5b'):
        assert f'inception_{module}/output' in names
    assert 'pool5/7x7_s1' not in names and 'loss3/classifier' not in names    # average pool, classifier gone
    assert names[-4:] == ['score_fr', 'upscore', 'score', 'loss']
    out = {l.name: l.convolution_param.num_output for l in net.layer if l.type == 'Convolution'}
    assert out['inception_5b/1x1'] + out['inception_5b/3x3'] + out['inception_5b/5x5'] + \
        out['inception_5b/pool_proj'] == 1024
    assert out['conv1/7x7_s2'] == 64 and out['score_fr'] == 21
    shapes = infer_shapes(generated['voc-fcn-googlenet']['deploy.prototxt'], {})
    assert shapes['inception_5b/output'][1] == 1024 and shapes['score'] == (1, 21, 500, 500)


def test_extra_folders_have_solver_and_nets(generated):
    for folder in models.EXTRA_FOLDERS:
        assert set(generated[folder]) == {'train.prototxt', 'val.prototxt', 'deploy.prototxt', 'solver.prototxt'}
        assert generated[folder]['solver.prototxt'].train_net == 'train.prototxt'


def test_solver_text_round_trips(generated):
    for folder, files in generated.items():
        s = files['solver.prototxt']
        assert netspec.parse_text(models.solver_text(s), 'SolverParameter') == s, folder
    odd = caffe_pb2.SolverParameter(base_lr=0.001, type='Adam', clip_gradients=10)
    assert netspec.parse_text(models.solver_text(odd), 'SolverParameter') == odd


def test_unknown_folder_and_bad_width_are_clear_errors():
    with pytest.raises(KeyError, match="unknown model folder 'voc-fcn4s'"):
        models.make_folder('voc-fcn4s')
    with pytest.raises(ValueError, match='width must be positive'):
        models.make_folder('voc-fcn32s', width=0)


def test_builders_accept_input_sources_of_any_shape():
    net = models.fcn_vgg16(models.input_data((2, 3, 64, 80)), stride=16, num_classes=4, width=1 / 16)
    shapes = infer_shapes(net, {})
    assert shapes['score'] == (2, 4, 64, 80)
    train = models.fcn_vgg16(models.voc_data('train'), stride=32, width=1 / 16)
    assert [l.type for l in train.layer][-1] == 'SoftmaxWithLoss' and 'Dropout' in [l.type for l in train.layer]


def test_write_folder_and_make_nets_tool(tmp_path, reference):
    from tools import make_nets
    assert make_nets.main(['--out', str(tmp_path), 'voc-fcn32s', 'voc-fcn-alexnet', '--width', '0.0625',
                           '--num-classes', '5']) == 0
    for folder in ('voc-fcn32s', 'voc-fcn-alexnet'):
        names = sorted(p.name for p in (tmp_path / folder).iterdir())
        assert names == ['deploy.prototxt', 'solver.prototxt', 'train.prototxt', 'val.prototxt']
        net = netspec.read_text(tmp_path / folder / 'train.prototxt')
        assert net == models.make_folder(folder, width=0.0625, num_classes=5)['train.prototxt']
    models.write_folder('voc-fcn16s', tmp_path / 'full')
    for name in ('train.prototxt', 'val.prototxt', 'solver.prototxt'):
        assert (tmp_path / 'full' / name).read_text() == (reference / 'voc-fcn16s' / name).read_text()


def test_input_source_with_labels_makes_a_trainable_net():
    src = models.input_data(tops=('data', 'label'), shapes=[(1, 3, 64, 64), (1, 1, 64, 64)], labels=('label',))
    net = models.fcn_vgg16(src, stride=8, num_classes=3, width=1 / 16)
    assert net.layer[0].type == 'Input' and list(net.layer[0].top) == ['data', 'label']
    loss = net.layer[-1]
    assert loss.type == 'SoftmaxWithLoss' and list(loss.bottom) == ['score', 'label']
    assert infer_shapes(net, {})['score'] == (1, 3, 64, 64)
    with pytest.raises(ValueError, match='labels'):
        models.input_data(tops=('data',), labels=('label',))


def test_parameter_counts_match_the_reference_facts(generated):
    from netspec.shapes import count_params
    facts = {'voc-fcn32s': 136152917, 'voc-fcn16s': 134815994, 'voc-fcn8s': 134489759,
             'voc-fcn8s-atonce': 134490527, 'voc-fcn-alexnet': 58704590, 'nyud-fcn32s-color': 140978024,
             'nyud-fcn32s-hha': 140978024, 'nyud-fcn32s-color-d': 140978600, 'nyud-fcn32s-color-hha': 275402448}
    for folder, count in facts.items():
        assert count_params(generated[folder]['deploy.prototxt']) == count, folder


def test_googlenet_trunk_has_bvlc_googlenets_parameter_count(generated):
    from netspec.shapes import param_shapes
    shapes = param_shapes(generated['voc-fcn-googlenet']['deploy.prototxt'])
    trunk = sum(math.prod(s) for name, blobs in shapes.items() if name not in ('score_fr', 'upscore') for s in blobs)
    # bvlc_googlenet: 6,998,552 values, of which the 1000-way classifier holds 1024 * 1000 + 1000
    assert trunk == 6998552 - 1025000


def test_unsupported_stride_is_a_clear_error():
    with pytest.raises(ValueError, match='stride must be 32, 16, 8, 4 or 2, not 64'):
        models.fcn_vgg16(stride=64)
