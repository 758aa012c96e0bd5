"""fcn-own (tools/own.py, fcnapps.owndata) end to end on each supported form of a user's dataset: nets, surgery from
a classifier, staged training 32s -> 16s -> 8s in one command (resumable), scores by class name with a confusion
PNG, pictures with a legend; and the errors a user meets, one line each."""
import contextlib
import io
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from datalayers.own import load_description
from datalayers.synthetic import make_own
from tools import own

WIDTH = '0.0625'
FORMS = ('folders', 'lists', 'npy', 'gray')


pytestmark = pytest.mark.usefixtures('one_torch_thread')


def dataset(root, form, **kw):
    kw = {'n_train': 2, 'n_val': 1, 'size': (32, 48), **kw}
    return make_own(str(root / form), form, **kw)


@pytest.fixture(scope='module')
def clf(tmp_path_factory):
    """A thin VGG16 classifier at its fillers, written by `fcn-own classifier`."""
    out = tmp_path_factory.mktemp('clf')
    assert own.main(['classifier', 'vgg16', str(out), '--width', WIDTH]) == 0
    return str(out / 'deploy.prototxt'), str(out / 'classifier.caffemodel')


def train_run(tmp_path, desc, clf, iters=2, extra=()):
    run = str(tmp_path / 'run')
    assert own.main(['nets', desc, run, '--width', WIDTH, '--iters', str(iters), '--score-every', '1',
                     *extra]) == 0
    assert own.main(['train', run, '--classifier', clf[0], '--weights', clf[1], '--quiet']) == 0
    return run


@pytest.fixture(scope='module')
def trained(tmp_path_factory, clf):
    """form -> (description, run folder, what `fcn-own nets` and `fcn-own train` printed): each form trained
    once (2 iterations a stage, a snapshot and a scoring at each), on first use."""
    from solvers.logs import log
    cache = {}

    def get(form):
        if form not in cache:
            root = tmp_path_factory.mktemp(form)
            handlers, out = list(log.handlers), io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    desc = dataset(root, form)
                    cache[form] = (desc, train_run(root, desc, clf), out.getvalue())
            finally:
                for h in list(log.handlers):
                    if h not in handlers:
                        log.removeHandler(h)
        return cache[form]
    return get


@pytest.mark.parametrize('form', FORMS)
def test_each_form_trains_fcn8s_through_the_commands_and_scores_by_class_name(form, trained, capsys, solvers_log):
    desc, run, out = trained(form)
    assert 'fcn32s: surgery from the classifier' in out and 'fcn16s: from ' in out and 'fcn8s: from ' in out
    table = out[out.index('pixel acc.'):]
    assert [l.split()[0] for l in table.splitlines()[1:4]] == ['fcn32s', 'fcn16s', 'fcn8s']
    scores = json.loads(open(os.path.join(run, 'scores.json')).read())
    assert [s['stage'] for s in scores['stages']] == ['fcn32s', 'fcn16s', 'fcn8s']
    assert all(os.path.isfile(s['weights']) and s['iters'] == 2 for s in scores['stages'])
    assert 'Optimization Done.' in open(os.path.join(run, 'fcn8s', 'train.log')).read()
    names = load_description(desc).classes
    assert own.main(['score', run, '--quiet']) == 0
    out = capsys.readouterr().out
    per_class = out[out.index('per-class IU:'):].splitlines()[1:1 + len(names)]
    assert [l.split()[0] for l in per_class] == list(names)
    report = json.loads(open(os.path.join(run, 'fcn8s', 'score-val.json')).read())
    assert report['heads'][0]['classes'] == list(names)
    assert Image.open(os.path.join(run, 'fcn8s', 'confusion-val.png')).format == 'PNG'


def test_channels_other_than_three_reach_the_first_conv(trained):
    _, _, out = trained('npy')
    assert 'conv1_1: the classifier takes 3 channels, the dataset 4' in out
    _, _, out = trained('gray')
    assert 'conv1_1: the classifier takes 3 channels, the dataset 1' in out


def test_pictures_take_the_dataset_palette_and_a_legend_of_class_names(tmp_path, trained, solvers_log):
    desc, run, _ = trained('folders')
    d = load_description(desc)
    image = d.paths('val', d.splits['val'][0])[0]
    assert own.main(['infer', run, image, '--out', str(tmp_path / 'pics'), '--quiet']) == 0
    stem = os.path.splitext(os.path.basename(image))[0]
    png = Image.open(tmp_path / 'pics' / f'{stem}.png')
    assert png.mode == 'P'
    assert np.array_equal(np.asarray(png.getpalette()[:3 * d.num_classes]).reshape(-1, 3), d.palette[:d.num_classes])
    vis = np.asarray(Image.open(tmp_path / 'pics' / f'{stem}_vis.png'))
    h, w = np.asarray(Image.open(image)).shape[:2]
    assert vis.shape[1] == 3 * w and vis.shape[0] > h      # image | overlay | labels, the legend below
    legend = vis[h:]
    for k in range(d.num_classes):                         # a swatch of every class colour
        assert (legend == d.palette[k]).all(axis=-1).any(), d.classes[k]


def test_a_second_train_skips_the_finished_stages(trained, capsys, solvers_log):
    _, run, _ = trained('gray')
    before = {s: sorted(os.listdir(os.path.join(run, s, 'snapshot'))) for s in ('fcn32s', 'fcn16s', 'fcn8s')}
    capsys.readouterr()
    assert own.main(['train', run, '--quiet']) == 0
    out = capsys.readouterr().out
    assert [l.split(':')[0] for l in out.splitlines() if 'skipped' in l] == ['fcn32s', 'fcn16s', 'fcn8s']
    assert {s: sorted(os.listdir(os.path.join(run, s, 'snapshot'))) for s in before} == before
    assert 'mean IU' in out


def test_an_interrupted_stage_resumes_from_its_last_snapshot_to_the_same_weights(tmp_path, trained, capsys,
                                                                               solvers_log):
    """A stage cut after its first snapshot (iteration 1 of 2) and run again ends with the weights of the
    uninterrupted run; the stages after it start from its new final weights."""
    from weights.io import read_weights
    _, whole, _ = trained('folders')
    run = str(tmp_path / 'run')
    shutil.copytree(whole, run)
    # as if killed in fcn16s after its iteration-1 snapshot: no final record, no later files, fcn8s not begun
    os.remove(os.path.join(run, 'fcn16s', 'final.json'))
    for ext in ('caffemodel', 'solverstate', 'rngstate'):
        os.remove(os.path.join(run, 'fcn16s', 'snapshot', f'train_iter_2.{ext}'))
    shutil.rmtree(os.path.join(run, 'fcn8s', 'snapshot'))
    os.remove(os.path.join(run, 'fcn8s', 'final.json'))
    capsys.readouterr()
    assert own.main(['train', run, '--quiet']) == 0
    out = capsys.readouterr().out
    assert 'fcn32s: finished' in out
    assert 'fcn16s: resuming from ' + os.path.join(run, 'fcn16s', 'snapshot', 'train_iter_1.solverstate') in out
    assert 'fcn8s: from ' + os.path.join(run, 'fcn16s', 'snapshot', 'train_iter_2.caffemodel') in out
    for stage in ('fcn16s', 'fcn8s'):
        before = read_weights(os.path.join(whole, stage, 'snapshot', 'train_iter_2.caffemodel'))
        after = read_weights(os.path.join(run, stage, 'snapshot', 'train_iter_2.caffemodel'))
        for layer in before:
            for a, b in zip(before[layer], after[layer]):
                np.testing.assert_array_equal(a, b, err_msg=f'{stage} {layer}')


def one_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('fcn-own: error: '), err
    return err[0]


def test_weights_of_another_class_count_are_one_error_naming_the_file_and_layer(tmp_path, trained, capsys):
    _, five, _ = trained('folders')
    three = str(tmp_path / 'three')
    assert own.main(['nets', dataset(tmp_path, 'lists', num_classes=3), three, '--width', WIDTH]) == 0
    weights = json.loads(open(os.path.join(five, 'scores.json')).read())['stages'][-1]['weights']
    capsys.readouterr()
    assert own.main(['score', three, '--stage', 'fcn8s', '--weights', weights, '--quiet']) == 3
    line = one_error(capsys)
    assert weights in line and 'score_fr' in line
    assert own.main(['infer', three, '--stage', 'fcn8s', '--weights', weights, __file__, '--out',
                     str(tmp_path / 'x'), '--quiet']) == 3
    line = one_error(capsys)
    assert weights in line and 'score_fr' in line


def test_a_classifier_that_does_not_fit_the_trunk_is_one_error_naming_the_layer(tmp_path, capsys, solvers_log):
    out = tmp_path / 'alexnet'
    assert own.main(['classifier', 'alexnet', str(out), '--width', WIDTH]) == 0
    run = str(tmp_path / 'run')
    assert own.main(['nets', dataset(tmp_path, 'folders'), run, '--width', WIDTH, '--iters', '1']) == 0
    capsys.readouterr()
    assert own.main(['train', run, '--classifier', str(out / 'deploy.prototxt'), '--weights',
                     str(out / 'classifier.caffemodel'), '--quiet']) == 3
    line = one_error(capsys)
    assert "no layer 'conv1_1'" in line and str(out / 'classifier.caffemodel') in line


def test_scoring_before_training_names_the_command_to_run(tmp_path, capsys):
    run = str(tmp_path / 'run')
    assert own.main(['nets', dataset(tmp_path, 'gray'), run, '--width', WIDTH]) == 0
    capsys.readouterr()
    assert own.main(['score', run]) == 3
    assert f'fcn-own train {run}' in one_error(capsys)
    assert own.main(['train', str(tmp_path / 'nothing')]) == 3
    assert 'recipe.json: no run record' in one_error(capsys)


def test_fcn_score_and_fcn_infer_read_a_stage_folder_as_its_description_says(tmp_path, trained, capsys, solvers_log):
    """The reference-folder tools on a stage folder: the class names, the image format (gray: one channel, the
    dataset's mean) and the palette come from the description its val net reads."""
    from tools import infer, score
    desc, run, _ = trained('gray')
    weights = json.loads(open(os.path.join(run, 'scores.json')).read())['stages'][-1]['weights']
    capsys.readouterr()
    assert score.main(['--model', os.path.join(run, 'fcn8s'), '--weights', weights, '--quiet', '--json',
                       str(tmp_path / 'r.json')]) == 0
    out = capsys.readouterr().out
    d = load_description(desc)
    assert [l.split()[0] for l in out[out.index('per-class IU:'):].splitlines()[1:1 + d.num_classes]] == \
        list(d.classes)
    image = d.paths('val', d.splits['val'][0])[0]
    assert infer.main(['--model', os.path.join(run, 'fcn8s'), '--weights', weights, image, '--out',
                       str(tmp_path / 'pics')]) == 0
    assert os.path.isfile(tmp_path / 'pics' / (os.path.splitext(os.path.basename(image))[0] + '_vis.png'))


def test_a_stage_killed_after_its_last_snapshot_is_scored_and_recorded_on_the_next_run(tmp_path, trained, capsys,
                                                                                     solvers_log):
    _, whole, _ = trained('gray')
    run = str(tmp_path / 'run')
    shutil.copytree(whole, run)
    os.remove(os.path.join(run, 'fcn8s', 'final.json'))
    capsys.readouterr()
    assert own.main(['train', run, '--quiet']) == 0
    out = capsys.readouterr().out
    assert 'fcn8s: resuming from ' + os.path.join(run, 'fcn8s', 'snapshot', 'train_iter_2.solverstate') in out
    done = json.loads(open(os.path.join(run, 'fcn8s', 'final.json')).read())
    before = json.loads(open(os.path.join(whole, 'fcn8s', 'final.json')).read())
    assert done['scores'] == before['scores'] and done['iters'] == 2


def test_a_bad_label_met_in_training_is_one_error_naming_the_file(tmp_path, clf, capsys, solvers_log):
    desc = dataset(tmp_path, 'gray')
    d = load_description(desc)
    labels = [d.paths('train', s)[1] for s in d.splits['train']]
    for label in labels:
        a = np.asarray(Image.open(label)).copy()
        a[0, 0] = d.num_classes + 3                         # a value that is neither a class id nor ignore
        Image.fromarray(a).save(label)
    run = str(tmp_path / 'run')
    assert own.main(['nets', desc, run, '--width', WIDTH, '--iters', '2']) == 0
    capsys.readouterr()
    assert own.main(['train', run, '--classifier', clf[0], '--weights', clf[1], '--quiet']) == 3
    line = one_error(capsys)
    assert any(label in line for label in labels) and str(d.num_classes + 3) in line
