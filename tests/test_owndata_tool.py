"""fcn-dataset (tools/dataset.py) through main(argv): describe writes a description and computes the mean, check
reads every sample and names what is wrong, example writes each form; the exit statuses of tools/_cli.py."""
import json
import os

import numpy as np
import pytest

from datalayers import synthetic
from datalayers.own import compute_mean, load_description
from tools import dataset
from tools._cli import BAD_INPUT, OK, USAGE


@pytest.fixture
def folders(tmp_path):
    return synthetic.make_own(str(tmp_path / 'f'), 'folders', n_train=4, n_val=2, size=(16, 20), seed=4)


@pytest.mark.parametrize('form', synthetic.OWN_FORMS)
def test_example_writes_a_dataset_that_checks_clean(tmp_path, capsys, form):
    out = tmp_path / form
    assert dataset.main(['example', form, str(out), '--size', '16', '20', '--train', '3', '--val', '2']) == OK
    printed = capsys.readouterr().out
    assert 'mean of the 3 train images' in printed and str(out / 'dataset.json') in printed
    assert dataset.main(['check', str(out / 'dataset.json')]) == OK
    out_text = capsys.readouterr().out
    assert 'train: 3 samples' in out_text and 'val: 2 samples' in out_text and out_text.rstrip().endswith('ok')


def test_describe_writes_the_paths_relative_to_the_file_and_computes_the_mean(tmp_path, capsys, folders):
    src = os.path.dirname(folders)
    out = tmp_path / 'desc' / 'mine.json'
    argv = ['describe', str(out), '--images', f'{src}/images', '--labels', f'{src}/labels',
            '--split', f'train={src}/train.txt', '--split', f'val={src}/val.txt', '--classes', f'{src}/classes.txt']
    assert dataset.main(argv) == OK
    assert 'mean of the 4 train images (BGR)' in capsys.readouterr().out
    data = json.load(open(out))
    assert data['images'] == '../f/images' and data['splits'] == {'train': '../f/train.txt', 'val': '../f/val.txt'}
    mine, made = load_description(out), load_description(folders)
    assert mine.pairs == made.pairs and mine.classes == made.classes
    np.testing.assert_allclose(mine.mean, compute_mean(made), atol=1e-4)


def test_describe_updates_a_file_keeping_its_mean_unless_the_images_change(tmp_path, capsys, folders):
    src = os.path.dirname(folders)
    before = json.load(open(folders))
    assert dataset.main(['describe', folders, '--name', 'renamed', '--ignore-label', '200']) == OK
    after = json.load(open(folders))
    assert after['mean'] == before['mean'] and after['name'] == 'renamed' and after['ignore_label'] == 200
    assert dataset.main(['describe', folders, '--mean', '1', '2', '3']) == OK
    assert json.load(open(folders))['mean'] == [1, 2, 3]
    assert dataset.main(['describe', folders, '--split', f'train={src}/val.txt']) == OK   # images changed
    assert 'mean of the 2 train images' in capsys.readouterr().out
    assert json.load(open(folders))['mean'] != [1, 2, 3]


def test_describe_takes_classes_as_a_number_or_names(tmp_path, folders):
    assert dataset.main(['describe', folders, '--classes', 'a,b,c,d,e']) == OK
    assert load_description(folders).classes == ('a', 'b', 'c', 'd', 'e')
    assert dataset.main(['describe', folders, '--classes', '6']) == OK
    assert load_description(folders).classes == tuple('012345')


def test_describe_writes_yaml(tmp_path, folders):
    src = os.path.dirname(folders)
    out = tmp_path / 'd.yaml'
    assert dataset.main(['describe', str(out), '--root', src, '--images', f'{src}/images', '--labels',
                         f'{src}/labels', '--split', f'val={src}/val.txt', '--classes', '5']) == OK
    assert 'mean:' in out.read_text() and load_description(out).splits['val'] == load_description(folders).splits['val']


def test_check_names_every_problem_and_exits_bad_input(tmp_path, capsys, folders):
    from PIL import Image
    d = load_description(folders)
    label = d.paths('train', d.splits['train'][0])[1]
    Image.fromarray(np.full((16, 16), 9, np.uint8), 'L').save(label)
    assert dataset.main(['check', folders]) == BAD_INPUT
    out, err = capsys.readouterr()
    problems = [line for line in out.splitlines() if 'problem:' in line]
    assert len(problems) == 1 and label in problems[0]
    assert err.count('\n') == 1 and err.startswith('fcn-dataset: error: ') and '1 problem' in err and label in err


def test_check_warns_of_a_missing_mean_and_describe_computes_it(tmp_path, capsys, folders):
    data = json.load(open(folders))
    del data['mean']
    json.dump(data, open(folders, 'w'))
    assert dataset.main(['check', folders]) == OK
    assert 'warning:' in capsys.readouterr().err
    assert dataset.main(['describe', folders]) == OK    # the command the warning and the layer name
    assert 'mean of the 4 train images' in capsys.readouterr().out
    assert json.load(open(folders))['mean'] == pytest.approx(list(compute_mean(load_description(folders))),
                                                             abs=1e-4)


def test_bad_input_is_one_line_and_status_3(tmp_path, capsys):
    assert dataset.main(['check', str(tmp_path / 'nosuch.json')]) == BAD_INPUT
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'nosuch.json' in err
    assert dataset.main(['describe', str(tmp_path / 'x.json'), '--classes', '3']) == BAD_INPUT
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and '"images" is missing' in err and 'x.json' in err
    assert not (tmp_path / 'x.json').exists()


@pytest.mark.parametrize('argv', [['frobnicate'], ['describe', 'x.json', '--split', 'val'],
                                  ['example', 'voc', 'out'], ['example', 'gray', 'out', '--label-format', 'mat'],
                                  ['describe', 'x.json', '--classes', 'justone']])
def test_usage_errors_are_status_2(tmp_path, capsys, argv):
    assert dataset.main(argv) == USAGE
    assert 'usage: fcn-dataset' in capsys.readouterr().err


def test_describe_takes_command_line_paths_from_the_current_directory(tmp_path, monkeypatch, folders):
    monkeypatch.chdir(os.path.dirname(folders))
    assert dataset.main(['describe', '../other/d.json', '--root', '.', '--images', 'images', '--labels', 'labels',
                         '--split', 'val=val.txt', '--classes', 'classes.txt']) == OK
    data = json.load(open(tmp_path / 'other' / 'd.json'))
    assert (data['root'], data['images'], data['splits']) == ('../f', 'images', {'val': 'val.txt'})
    assert load_description(tmp_path / 'other' / 'd.json').pairs == load_description(folders).pairs


def test_describe_takes_list_files_of_pairs(tmp_path, capsys):
    made = synthetic.make_own(str(tmp_path / 'l'), 'lists', n_train=3, n_val=2, size=(16, 16), seed=1)
    data = os.path.join(os.path.dirname(made), 'data')
    out = tmp_path / 'mine.json'
    assert dataset.main(['describe', str(out), '--root', data, '--list', f'train={data}/lists/train.lst', '--list',
                         f'val={data}/lists/val.lst', '--classes', '5', '--map-to-ignore', '254']) == OK
    written = json.load(open(out))
    assert written['lists'] == {'train': 'lists/train.lst', 'val': 'lists/val.lst'} and written['root'] == 'l/data'
    assert load_description(out).pairs == load_description(made).pairs
    assert dataset.main(['check', str(out)]) == OK


def test_check_warns_when_train_and_val_share_samples(tmp_path, capsys, folders):
    data = json.load(open(folders))
    data['splits']['train'] = 'val.txt'
    json.dump(data, open(folders, 'w'))
    assert dataset.main(['check', folders]) == OK
    err = capsys.readouterr().err
    assert err.startswith('warning: ') and '2 samples are in both train and val' in err
