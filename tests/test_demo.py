"""The embedded demo (tools/demo.py --quick): classifier -> surgery -> FCN-32s -> 16s -> 8s on synthetic data.

One shortened run (fixed seed) is shared by the tests below; each checks one promise of the demo.
"""
import json
import os
import re

import pytest

from tools import demo


@pytest.fixture(scope='module')
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    import io
    import contextlib
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = demo.main(['--out', str(out), '--quick', '--no-progress', '--seed', '0'])
    text = buf.getvalue()
    assert rc == 0, text
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
