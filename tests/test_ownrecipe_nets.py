"""fcnapps.owndata's run folders for a user's dataset: the reference folders' nets with the dataset's class count,
channels and data layer, and the recipe scaled to the dataset's size."""
import ast
import json

import numpy as np
import pytest

import fcnapps  # noqa: F401
from fcnapps import owndata
from netspec import read_net, read_solver
from netspec.models import DatasetFamily, Head, ReferenceLayer, folder
from runtime import Net

CLASSES = ('sky', 'road', 'car')


def toy_family(channels=3, val=2):
    return DatasetFamily('toy', 'toy', heads=(Head('label', CLASSES),),
                         nets=(('train.prototxt', 'train'), ('val.prototxt', 'val')), eval_images=val,
                         layers=(ReferenceLayer('own_layers', 'OwnSegDataLayer', 'OwnSeg'),),
                         mean=np.zeros(channels), inputs=(('data', channels),))


def write(tmp_path, arch='vgg16', channels=3, **kw):
    fam = toy_family(channels)
    run = owndata.make_run(fam, str(tmp_path / 'dataset.json'), 8, arch=arch, width=1 / 16, **kw)
    owndata.write_run(run, fam, str(tmp_path / 'run'))
    return run


@pytest.mark.parametrize('arch, stages', [('vgg16', ['fcn32s', 'fcn16s', 'fcn8s']), ('alexnet', ['fcn-alexnet']),
                                          ('googlenet', ['fcn-googlenet'])])
def test_every_score_layer_and_deconvolution_has_the_dataset_class_count(tmp_path, arch, stages):
    run = write(tmp_path, arch)
    assert [s['name'] for s in run['stages']] == stages
    for stage in stages:
        for net_file in ('train.prototxt', 'val.prototxt', 'deploy.prototxt'):
            net = read_net(str(tmp_path / 'run' / stage / net_file))
            heads = [l for l in net.layer if l.type == 'Deconvolution' or
                     l.type == 'Convolution' and l.name.startswith('score')]
            assert heads, (stage, net_file)
            assert {l.convolution_param.num_output for l in heads} == {len(CLASSES)}, (stage, net_file)


def test_data_layers_read_the_description_by_split(tmp_path):
    write(tmp_path)
    for net_file, split in (('train.prototxt', 'train'), ('val.prototxt', 'val')):
        layer = read_net(str(tmp_path / 'run' / 'fcn8s' / net_file)).layer[0]
        assert (layer.type, layer.python_param.module, layer.python_param.layer) == \
            ('Python', 'own_layers', 'OwnSegDataLayer')
        assert list(layer.top) == ['data', 'label']
        params = ast.literal_eval(layer.python_param.param_str)
        assert params['description'] == str(tmp_path / 'dataset.json') and params['split'] == split


def test_the_stage_nets_are_the_reference_folders_nets_but_for_data_and_classes(tmp_path):
    """Same layers in the same order as voc-fcn16s's train net (made with the same width), only the data layer
    and the class counts differ."""
    write(tmp_path)
    ours = read_net(str(tmp_path / 'run' / 'fcn16s' / 'train.prototxt'))
    ref = folder('voc-fcn16s').nets(width=1 / 16)['train.prototxt']
    assert [(l.name, l.type) for l in ours.layer] == [(l.name, l.type) for l in ref.layer]


@pytest.mark.parametrize('channels', [1, 4])
def test_the_first_conv_takes_the_dataset_channels(tmp_path, channels):
    write(tmp_path, channels=channels)
    deploy = read_net(str(tmp_path / 'run' / 'fcn32s' / 'deploy.prototxt'))
    assert list(deploy.layer[0].input_param.shape[0].dim) == [1, channels, 500, 500]
    deploy.layer[0].input_param.shape[0].dim[2:] = [32, 48]
    net = Net(deploy, phase='test')
    assert tuple(net.params['conv1_1'][0].shape)[1] == channels
    out = net.forward(data=np.zeros((1, channels, 32, 48), np.float32))
    assert tuple(out['score'].shape) == (1, len(CLASSES), 32, 48)


def test_the_solver_is_the_reference_recipe_scaled_to_the_dataset(tmp_path):
    run = write(tmp_path, lr_scale=100)
    rates = {'fcn32s': 1e-10, 'fcn16s': 1e-12, 'fcn8s': 1e-14}
    for s in run['stages']:
        p = read_solver(str(tmp_path / 'run' / s['name'] / 'solver.prototxt'))
        assert p.base_lr == pytest.approx(rates[s['name']] * 100)
        assert (p.momentum, p.iter_size, p.lr_policy, p.test_iter[0]) == (pytest.approx(0.99), 1, 'fixed', 2)
        assert p.max_iter == s['iters'] == 94        # 11.8 passes over 8 images
        assert p.snapshot == s['score_every'] == 4   # 25 scorings a stage
    assert json.loads((tmp_path / 'run' / 'recipe.json').read_text())['classes'] == list(CLASSES)


def test_alexnet_keeps_its_normalized_loss_rate_and_momentum(tmp_path):
    write(tmp_path, 'alexnet')
    p = read_solver(str(tmp_path / 'run' / 'fcn-alexnet' / 'solver.prototxt'))
    assert (p.base_lr, p.momentum, p.iter_size) == (pytest.approx(1e-4), pytest.approx(0.9), 20)


def test_the_scaled_loop_gives_back_the_reference_loop_on_sbd():
    assert owndata.scaled_loop(owndata.SBD_TRAIN_IMAGES) == (100000, 4000)
    assert owndata.scaled_loop(10, epochs=2) == (20, 1)
    assert owndata.scaled_loop(10, iters=7, score_every=3) == (7, 3)


def test_an_unknown_trunk_is_refused(tmp_path):
    with pytest.raises(KeyError, match='resnet'):
        owndata.make_run(toy_family(), str(tmp_path / 'd.json'), 8, arch='resnet')


def test_nets_help_gives_the_reasoning_for_the_rates(capsys):
    from tools import own
    assert own.main(['nets', '--help']) == 0
    text = capsys.readouterr().out
    assert 'sums over every pixel' in text and '--lr-scale' in text and '11.8' in text
