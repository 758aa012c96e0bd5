"""The embedded demo (tools/demo.py --quick): classifier -> surgery -> FCN-32s -> 16s -> 8s on synthetic data.

One shortened run (fixed seed) is shared by the tests below; each checks one promise of the demo.
"""
import ast
import json
import os
import subprocess
import sys
import re

import pytest

from tools import demo


def _fcndemo():
    return demo._fcndemo()


@pytest.mark.parametrize('stride', [32, 16, 8])
def test_demo_fcn_crops_fit_and_return_the_input_size_at_every_size(stride):
    """fc6 as a 4x4 convolution keeps every crop offset (from netspec.crop) valid: score is H x W for any H, W."""
    from netspec.shapes import infer_shapes
    nets = _fcndemo().nets
    net = nets.fcn(nets.voc_source({'voc_dir': 'x', 'split': 'seg11valid', 'mean': (0, 0, 0)}, 'seg11valid'),
                   stride=stride, num_classes=4)
    for h in range(32, 260, 3):
        for w in (h, h + 1, h + 17):
            shapes = infer_shapes(net, {'data': (1, 3, h, w), 'label': (1, 1, h, w)})
            assert shapes['score'] == (1, 4, h, w), (h, w)
    offsets = nets.crop_offsets(net)
    assert offsets['score'] == [{32: 67, 16: 75, 8: 79}[stride]]


def test_demo_classifier_has_innerproduct_fc6_fc7_fc8_and_the_fcn_has_them_as_convolutions():
    nets = _fcndemo().nets
    from netspec.models import input_data
    clf = {l.name: l.type for l in nets.classifier().layer}
    fcn = {l.name: l for l in nets.fcn(input_data((1, 3, 128, 128)), stride=8).layer}
    assert [clf[k] for k in ('fc6', 'fc7', 'fc8')] == ['InnerProduct'] * 3
    assert [fcn[k].type for k in ('fc6', 'fc7')] == ['Convolution'] * 2
    assert list(fcn['fc6'].convolution_param.kernel_size) == [4] and list(fcn['conv1'].convolution_param.pad) == [100]
    assert 'fc8' not in fcn
    # the recipe: zero-initialized score layers (no filler), fixed upsampling
    for name in ('score_fr', 'score_pool4', 'score_pool3'):
        assert not fcn[name].convolution_param.HasField('weight_filler'), name
    for name in ('upscore2', 'upscore_pool4', 'upscore8'):
        assert fcn[name].param[0].lr_mult == 0, name


def test_demo_stages_follow_the_caffe_recipe(quick_run):
    """Fixed rate dropping per stage, momentum 0.99, summed loss (normalize: false), each stage from the last."""
    from netspec import read_net, read_solver
    out, text, results = quick_run
    rates = []
    for stride in (32, 16, 8):
        folder = os.path.join(out, f'voc-fcn{stride}s')
        sp = read_solver(os.path.join(folder, 'solver.prototxt'))
        assert (sp.lr_policy, sp.momentum) == ('fixed', pytest.approx(0.99))
        rates.append(sp.base_lr)
        loss, = [l for l in read_net(os.path.join(folder, 'train.prototxt')).layer if l.type == 'SoftmaxWithLoss']
        assert loss.loss_param.HasField('normalize') and not loss.loss_param.normalize
        with open(os.path.join(folder, 'train.log')) as f:
            assert 'Initialized' in f.read()
    assert rates[0] > rates[1] > rates[2]


@pytest.fixture(scope='module')
def quick_run(tmp_path_factory):
    """The quick demo as a user runs it (its own process: the kernels are pinned before torch loads)."""
    out = tmp_path_factory.mktemp('demo')
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    res = subprocess.run([sys.executable, '-m', 'tools.demo', '--out', str(out), '--quick', '--no-progress',
                          '--seed', '0'], env=env, capture_output=True, text=True, timeout=900)
    text = res.stdout
    assert res.returncode == 0, text + res.stderr[-3000:]
    with open(os.path.join(out, 'results.json')) as f:
        results = json.load(f)
    return out, text, results


def printed_table(text):
    """{'FCN-32s': [pixel acc., mean acc., mean IU, f.w. IU]} from the printed Table 2."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r'\s*(FCN-\d+s)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*$', line)
        if m:
            rows[m.group(1)] = [float(v) for v in m.groups()[1:]]
    return rows


def test_demo_writes_results_curves_predictions_and_the_stage_nets(quick_run):
    out, text, results = quick_run
    for name in ('results.json', 'curves.png', 'predictions.png', 'fcn32s-init.caffemodel',
                 'classifier/classifier.caffemodel', 'data/pascal/VOC2011/ImageSets/Segmentation/seg11valid.txt'):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    for stride in (32, 16, 8):
        folder = os.path.join(out, f'voc-fcn{stride}s')
        for name in ('train.prototxt', 'val.prototxt', 'solver.prototxt', 'final.caffemodel', 'train.log'):
            assert os.path.getsize(os.path.join(folder, name)) > 0, (stride, name)
    assert str(os.path.join(out, 'results.json')) in text


def test_demo_json_holds_the_printed_table(quick_run):
    _, text, results = quick_run
    printed = printed_table(text)
    assert sorted(printed) == ['FCN-16s', 'FCN-32s', 'FCN-8s']
    keys = ('overall_acc', 'mean_acc', 'mean_iu', 'fwavacc')
    for net, values in printed.items():
        stored = [round(100 * results['table'][net][k], 1) for k in keys]
        assert values == pytest.approx(stored, abs=0.051), net


def test_demo_table_comes_from_the_stages_confusion_matrices(quick_run):
    import numpy as np
    from scoring import scores
    _, _, results = quick_run
    for stage in results['stages']:
        s = scores(np.array(stage['hist']))
        for k in ('overall_acc', 'mean_acc', 'mean_iu', 'fwavacc'):
            assert results['table'][f"FCN-{stage['stride']}s"][k] == pytest.approx(float(s[k]))


def test_demo_fcn8s_beats_fcn32s_in_mean_iu(quick_run):
    _, _, results = quick_run
    t = results['table']
    assert t['FCN-8s']['mean_iu'] > t['FCN-32s']['mean_iu']


def test_demo_refuses_a_stage_count_or_size_it_cannot_run_with_a_message(tmp_path, capfd):
    assert demo.main(['--out', str(tmp_path), '--iters', '10,10']) == 2
    assert 'one value per stage' in capfd.readouterr().err
    assert demo.main(['--out', str(tmp_path), '--size', '20,40']) == 2
    assert '32 <= MIN <= MAX' in capfd.readouterr().err
    assert not os.path.exists(tmp_path / 'results.json')


def test_demo_runs_into_a_relative_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert demo.main(['--quick', '--no-progress', '--out', 'rel-out', '--clf-iters', '2', '--iters', '2,1,1',
                      '--n-train', '2', '--n-val', '2']) == 0
    with open(tmp_path / 'rel-out' / 'results.json') as f:
        results = json.load(f)
    assert sorted(results['table']) == ['FCN-16s', 'FCN-32s', 'FCN-8s']
    assert os.path.isabs(results['files']['results'])


def test_demo_stage_folders_hold_a_deploy_net_and_dataset_paths_relative_to_them(quick_run):
    """deploy.prototxt (README's runtime and pycaffe examples start from one) takes the stage's final weights
    whole and labels an image of any size; the data layers point at '../data/...', so the folders move together."""
    import numpy as np
    from netspec import read_net
    from runtime import Net
    out, _, _ = quick_run
    for stride in (32, 16, 8):
        folder = os.path.join(out, f'voc-fcn{stride}s')
        net = Net(os.path.join(folder, 'deploy.prototxt'), weights=os.path.join(folder, 'final.caffemodel'))
        assert net.last_copy.mismatch() is None and net.inputs == ['data']
        assert tuple(net.forward(data=np.zeros((1, 3, 50, 70), np.float32))['score'].shape) == (1, 4, 50, 70)
        for name in ('train.prototxt', 'val.prototxt'):
            layer, = [l for l in read_net(os.path.join(folder, name)).layer if l.type == 'Python']
            dirs = [v for k, v in ast.literal_eval(layer.python_param.param_str).items() if k.endswith("_dir")]
            assert dirs and all(d.startswith('../data/') for d in dirs), (stride, name, dirs)


def test_demo_predictions_have_column_headers_and_a_class_legend(quick_run):
    """predictions.png: a header strip with dark text over each column, the rows, then swatches of every class
    colour (VOC palette: background, the three shape classes) and void."""
    import numpy as np
    from PIL import Image
    from datalayers.palette import make_palette
    out, _, results = quick_run
    img = np.asarray(Image.open(os.path.join(out, 'predictions.png')).convert('RGB'))
    columns = results['files']['predictions_columns']
    assert columns == ['image', 'ground truth', 'FCN-32s', 'FCN-16s', 'FCN-8s']
    header = img[:16].min(axis=2) < 100                       # text pixels
    bounds = np.linspace(0, img.shape[1], len(columns) + 1).astype(int)
    assert all(header[:, a:b].any() for a, b in zip(bounds[:-1], bounds[1:]))
    legend = img[-40:].reshape(-1, 3)
    colours = {tuple(c) for c in legend}
    palette = make_palette(256)
    assert all(tuple(palette[c]) in colours for c in (1, 2, 3, 255))


def test_demo_help_prints_its_usage_once(capfd):
    assert demo.main(['--help']) == 0
    assert capfd.readouterr().out.count('usage:') == 1
