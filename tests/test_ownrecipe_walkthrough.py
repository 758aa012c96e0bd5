"""README's "Your own data" walk-through, command by command: each line of its block is run through the tool's
main(argv) in an empty folder. The default run shrinks the work (the dataset's image sizes and val images, the
classifier's iterations, each stage's iterations) so that it takes seconds, and checks that the stand-in
classifier learnt its crops; the slow one (`-m slow`) runs the block as README prints it and checks that FCN-8s
beats the majority class on the val split."""
import json
import os
import pathlib
import re
import shlex

import pytest

from tools import dataset, own

README = pathlib.Path(__file__).resolve().parents[1] / 'README.md'
MARK = '<!-- own-data walk-through'
TOOLS = {'fcn-dataset': dataset.main, 'fcn-own': own.main}
#: the training lengths the default run shrinks: (tool command, option) -> the values put in their place
SHRINK = {('example', '--size'): ['32', '48'], ('example', '--val'): ['1'], ('classifier', '--iters'): ['40'],
          ('nets', '--epochs'): ['0.1'], ('nets', '--score-every'): ['2']}


pytestmark = pytest.mark.usefixtures('one_torch_thread')


def walkthrough():
    """The commands of README's walk-through block, as argv lists (the tool's name first)."""
    text = README.read_text()
    assert MARK in text, 'README has no own-data walk-through block'
    block = re.search(r'```\n(.*?)```', text[text.index(MARK):], re.S).group(1)
    return [shlex.split(line) for line in block.splitlines() if line.strip() and not line.startswith('#')]


def shrink(argv):
    out, i = [], 0
    while i < len(argv):
        key = (argv[1], argv[i])
        if key in SHRINK:
            n = 2 if argv[i] == '--size' else 1
            out += [argv[i]] + SHRINK[key]
            i += 1 + n
            continue
        out.append(argv[i])
        i += 1
    return out


def run_all(commands, capsys):
    outputs = []
    for argv in commands:
        assert argv[0] in TOOLS, f'README walk-through: {argv[0]} is not a tool of the walk-through'
        status = TOOLS[argv[0]](argv[1:])
        captured = capsys.readouterr()
        assert status == 0, (argv, captured.err[-2000:])
        outputs.append(captured.out)
    return outputs


def test_the_walkthrough_uses_only_the_documented_tools_and_ends_in_pictures():
    commands = walkthrough()
    assert {c[0] for c in commands} == set(TOOLS)
    assert [c[1] for c in commands if c[0] == 'fcn-own'] == ['classifier', 'nets', 'train', 'score', 'infer']


def test_every_walkthrough_command_runs(tmp_path, monkeypatch, capsys, solvers_log):
    monkeypatch.chdir(tmp_path)
    commands = [shrink(c) for c in walkthrough()]
    outputs = run_all(commands, capsys)
    clf = outputs[[c[1] for c in commands].index('classifier')]
    acc, chance = map(float, re.search(r'accuracy on them: ([\d.]+)% \(chance ([\d.]+)%\)', clf).groups())
    assert acc > chance
    train, score = outputs[-3], outputs[-2]
    assert [l.split()[0] for l in train[train.index('pixel acc.'):].splitlines()[1:4]] == \
        ['fcn32s', 'fcn16s', 'fcn8s']
    classes = (tmp_path / 'shapes' / 'classes.txt').read_text().split()
    per_class = score[score.index('per-class IU:'):].splitlines()[1:1 + len(classes)]
    assert [l.split()[0] for l in per_class] == classes
    assert (tmp_path / 'run' / 'fcn8s' / 'confusion-val.png').is_file()
    assert sorted(os.listdir(tmp_path / 'pictures')) == ['folders_024.png', 'folders_024_vis.png']


@pytest.mark.slow
def test_the_walkthrough_as_printed_runs_to_fcn8s_scores(tmp_path, monkeypatch, capsys, solvers_log):
    monkeypatch.chdir(tmp_path)
    run_all(walkthrough(), capsys)
    stages = json.loads((tmp_path / 'run' / 'scores.json').read_text())['stages']
    assert [s['stage'] for s in stages] == ['fcn32s', 'fcn16s', 'fcn8s']
    assert stages[-1]['iters'] == 24 * 24                                 # 24 passes over 24 images
    assert stages[-1]['scores']['mean_iu'] > majority_mean_iu(tmp_path / 'mine.json')


def majority_mean_iu(description):
    """The mean IU on the val split of a net that labels every pixel with the most frequent class there: that
    class's IU is its share of the pixels, every other class present has IU 0."""
    import numpy as np
    from datalayers.own import load_description, load_sample
    desc = load_description(str(description))
    counts = sum(np.bincount(label[label < desc.num_classes].ravel(), minlength=desc.num_classes)
                 for label in (load_sample(desc, 'val', sid)[1] for sid in desc.splits['val']))
    return counts.max() / counts.sum() / np.count_nonzero(counts)
