"""`caffe train|test|time|device_query` (tools/caffe_cli.py) against the real Caffe's command line.

The fixture folder tests/golden/cli holds a thin classifier fed by a Python data layer that walks an .npz in file
order, its solver and initial weights, and the logs the real `caffe train` / `caffe test` wrote for them
(tests/golden/make_cli.py). The log is read here by a small parser that follows Caffe's tools/extra/parse_log.py
and extract_seconds.py line for line (their regular expressions, their start line, their row rules).
"""
import datetime
import math
import os
import re
import shutil
import sys

import numpy as np
import pytest
import torch

from tools import _cli
from tools.caffe_cli import main

pytestmark = pytest.mark.usefixtures('one_thread', 'solvers_log')

GOLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden', 'cli')
FILES = ('net.prototxt', 'solver.prototxt', 'seq_data_layer.py', 'cli_data.npz', 'init.caffemodel')
SPEED = re.compile(r' \([\d.e+-]+ iter/s, [\d.e+-]+s/\d+ iters\)')


# -- a parser that follows parse_log.py / extract_seconds.py -------------------------------------------------------

def caffe_parse_log(lines, year=2026):
    """parse_log.parse_log on a list of lines: (train rows, test rows)."""
    regex_iteration = re.compile(r'Iteration (\d+)')
    regex_train_output = re.compile(r'Train net output #(\d+): (\S+) = ([\.\deE+-]+)')
    regex_test_output = re.compile(r'Test net output #(\d+): (\S+) = ([\.\deE+-]+)')
    regex_learning_rate = re.compile(r'lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)')

    def when(line):  # extract_seconds.extract_datetime_from_line
        line = line.strip().split()
        ts = line[1]
        pos = ts.rfind('.')
        h, m, s = (int(x) for x in ts[:pos].split(':'))
        return datetime.datetime(year, int(line[0][1:3]), int(line[0][3:]), h, m, s, int(ts[pos + 1:]))

    it = iter(lines)
    start = None
    for line in it:  # extract_seconds.get_start_time
        if line.strip().find('Solving') != -1:
            start = when(line)
            break
    assert start is not None, 'Start time not found'
    iteration, lr, train, test, rows = -1, float('nan'), [], [], [None, None]

    def net_output(regex, row, out, line, seconds):
        m = regex.search(line)
        if m:
            if not row or row['NumIters'] != iteration:
                if row:
                    out.append(row)
                row = {'NumIters': iteration, 'Seconds': seconds, 'LearningRate': lr}
            row[m.group(2)] = float(m.group(3))
        if row and len(out) >= 1 and len(row) == len(out[0]):
            out.append(row)
            row = None
        return row

    for line in it:
        m = regex_iteration.search(line)
        if m:
            iteration = float(m.group(1))
        if iteration == -1:
            continue
        try:
            seconds = (when(line) - start).total_seconds()
        except (ValueError, IndexError):
            continue
        m = regex_learning_rate.search(line)
        if m:
            lr = float(m.group(1))
        rows[0] = net_output(regex_train_output, rows[0], train, line, seconds)
        rows[1] = net_output(regex_test_output, rows[1], test, line, seconds)
    for out in (train, test):
        if len(out) > 1:
            out[0]['LearningRate'] = out[1]['LearningRate']
    return train, test


def messages(lines):
    """The messages of glog lines (after `file:line] `)."""
    return [l.split('] ', 1)[1] for l in lines if '] ' in l]


def golden_lines(name):
    """A log of the oracle, its glog prefix (`I20261206 09:06:36.525444`, with the year) written as the glog of
    Caffe 1.0's time wrote it and parse_log.py reads it (`I1206 09:06:36.525444`)."""
    with open(os.path.join(GOLD, name)) as f:
        return [re.sub(r'^([IWEF])\d{4}(\d{4} )', r'\1\2', l) for l in f.read().splitlines()]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """A copy of the fixture folder as the working directory, the data layer's module importable (as
    PYTHONPATH makes it for the real `caffe`)."""
    for f in FILES:
        shutil.copy(os.path.join(GOLD, f), tmp_path)
    (tmp_path / 'snap').mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop('seq_data_layer', None)      # the next test imports its own copy


def caffe(capsys, *argv):
    status = main(list(argv))
    err = capsys.readouterr().err
    return status, err.splitlines()


# -- train -----------------------------------------------------------------------------------------------------------

def test_train_logs_the_real_caffes_values(cli, capsys):
    status, lines = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel')
    assert status == 0
    ours_train, ours_test = caffe_parse_log(lines)
    gold_train, gold_test = caffe_parse_log(golden_lines('train.log'))
    assert [r['NumIters'] for r in ours_train] == [r['NumIters'] for r in gold_train] == [0, 1, 2, 3, 4]
    assert [r['NumIters'] for r in ours_test] == [r['NumIters'] for r in gold_test] == [0, 2, 4]
    for ours, gold in zip(ours_train + ours_test, gold_train + gold_test):
        assert set(ours) == set(gold)
        for k in gold:
            if k != 'Seconds':
                assert ours[k] == pytest.approx(gold[k], rel=1e-4, abs=1e-6), (ours['NumIters'], k)


def shape(msgs, start='Solving ', stop=None):
    """Messages from the first that starts with `start` (through the first equal to `stop`), numbers to 4 digits,
    Caffe 1.0's speed part of `Iteration N (...), loss` left out (the oracle's fork prints none), snapshot paths by
    their file names."""
    first = next(i for i, m in enumerate(msgs) if m.startswith(start))
    out = []
    for m in msgs[first:]:
        m = SPEED.sub('', m)
        m = re.sub(r'file \S*/(cli_iter_\d+\.\w+)', r'file \1', m)
        out.append(re.sub(r'-?\d+\.\d+(e[-+]\d+)?', lambda x: f'{float(x.group()):.4g}', m))
        if m == stop:
            break
    return out


def test_train_logs_the_real_caffes_lines(cli, capsys):
    """Every line Caffe's Solve prints, from `Solving` to `Optimization Done.`, in the same order, with the same
    numbers (to 4 digits)."""
    _, lines = caffe(capsys, 'train', '-solver=solver.prototxt', '--weights', 'init.caffemodel')
    gold = shape(messages(golden_lines('train.log')), stop='Optimization Done.')
    assert gold[-1] == 'Optimization Done.' and len(gold) == 34
    assert shape(messages(lines), stop='Optimization Done.') == gold


def test_train_resumed_with_snapshot_logs_the_real_caffe_binarys_lines(cli, capsys):
    """The oracle's `caffe train -snapshot` (resuming a snapshot taken at iteration 0 after the initialization):
    the same lines from `Resuming from` on, caffe.cpp's own included."""
    for ext in ('caffemodel', 'solverstate'):
        shutil.copy(os.path.join(GOLD, f'cli_iter_0.{ext}'), cli / 'snap')
    status, lines = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-snapshot', 'snap/cli_iter_0.solverstate')
    assert status == 0
    ours = [m for m in messages(lines) if 'rngstate' not in m]     # the sidecar this project adds is not there
    gold = shape(messages(golden_lines('train_binary.log')), start='Resuming from')
    assert gold[:4] == ['Resuming from snap/cli_iter_0.solverstate', 'SGDSolver: restoring history',
                        'Starting Optimization', 'Solving cli_net']
    assert gold[-2:] == ['Optimization Done.', 'Optimization Done.']
    assert shape(ours, start='Resuming from') == gold


def test_train_snapshots_every_snapshot_iterations_and_at_the_end(cli, capsys):
    status, lines = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel')
    assert status == 0
    names = sorted(p.name for p in (cli / 'snap').iterdir() if not p.name.endswith('.rngstate'))
    assert names == [f'cli_iter_{i}.{e}' for i in (2, 4, 5) for e in ('caffemodel', 'solverstate')]
    msgs = messages(lines)
    assert msgs[-2:] == ['Optimization Done.', 'Optimization Done.']   # Solve's and caffe.cpp's, as Caffe prints


def test_train_ends_with_the_real_caffes_weights(cli, capsys):
    from weights import read_weights
    assert caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel')[0] == 0
    ours = read_weights(str(cli / 'snap' / 'cli_iter_5.caffemodel'))
    gold = read_weights(os.path.join(GOLD, 'cli_iter_5.caffemodel'))
    assert list(ours) == list(gold)
    for name in gold:
        for a, b in zip(ours[name], gold[name]):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=name)


def test_train_resumed_from_a_snapshot_continues_exactly(cli, capsys):
    from weights import read_weights
    assert caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel')[0] == 0
    whole = read_weights(str(cli / 'snap' / 'cli_iter_5.caffemodel'))
    _, whole_lines = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel')
    status, lines = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-snapshot', 'snap/cli_iter_2.solverstate')
    assert status == 0
    assert 'Resuming from snap/cli_iter_2.solverstate' in messages(lines)
    resumed = read_weights(str(cli / 'snap' / 'cli_iter_5.caffemodel'))
    for name in whole:
        for a, b in zip(whole[name], resumed[name]):
            np.testing.assert_array_equal(a, b, err_msg=name)
    tail = lambda ls: [r for r in caffe_parse_log(ls)[0] if r['NumIters'] >= 2]
    assert [{k: v for k, v in r.items() if k not in ('Seconds', 'LearningRate')} for r in tail(lines)] == \
        [{k: v for k, v in r.items() if k not in ('Seconds', 'LearningRate')} for r in tail(whole_lines)]


def test_train_log_is_read_by_caffes_parse_log_rules(cli, capsys, tmp_path):
    from solvers.logparse import parse_log
    _, lines = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel')
    train, test = caffe_parse_log(lines)
    assert len(train) == 5 and len(test) == 3
    assert [r['LearningRate'] for r in train] == [0.01, 0.01, 0.01, 0.005, 0.005]  # parse_log's lag of one line
    assert all(set(r) == {'NumIters', 'Seconds', 'LearningRate', 'loss'} for r in train)
    assert all(set(r) == {'NumIters', 'Seconds', 'LearningRate', 'loss', 'accuracy'} for r in test)
    assert all(0 <= a['Seconds'] <= b['Seconds'] for a, b in zip(train, train[1:]))
    path = tmp_path / 'train.log'
    path.write_text('\n'.join(lines) + '\n')
    ours = parse_log(str(path))
    assert ours == (train, test)


def test_train_refuses_weights_with_a_snapshot_and_needs_a_solver(cli, capsys):
    status, lines = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel',
                          '-snapshot', 'x.solverstate')
    assert status == _cli.USAGE
    assert lines[-1] == ('caffe: error: Give a snapshot to resume training or weights to finetune but not both.')
    status, lines = caffe(capsys, 'train')
    assert status == _cli.USAGE and lines[-1] == 'caffe: error: Need a solver definition to train.'
    status, lines = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-sigint_effect', 'quit')
    assert status == _cli.USAGE and 'Invalid signal effect "quit"' in lines[-1]


def test_train_reports_a_missing_solver_file_in_one_line(cli, capsys):
    status, lines = caffe(capsys, 'train', '-solver', 'nowhere.prototxt')
    assert status == _cli.BAD_INPUT
    assert len(lines) == 1 and lines[0].startswith('caffe: error: ') and 'nowhere.prototxt' in lines[0]


def test_train_refuses_an_unwritable_snapshot_prefix(cli, capsys):
    (cli / 'solver.prototxt').write_text((cli / 'solver.prototxt').read_text().replace('snap/cli', 'none/cli'))
    status, lines = caffe(capsys, 'train', '-solver', 'solver.prototxt')
    assert status == _cli.BAD_INPUT
    assert lines[-1] == (f"caffe: error: Cannot write to snapshot prefix '{cli}/none/cli'. Make sure that the "
                         'directory exists and is writeable.')


def test_train_level_and_stage_reach_the_train_net(cli, capsys):
    net = (cli / 'net.prototxt').read_text()
    (cli / 'net.prototxt').write_text(net.replace(
        'layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }',
        'layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" include { stage: "relu" min_level: 2 } }'))
    _, plain = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel')
    _, staged = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel',
                      '-stage', 'relu,other', '-level', '2')
    gold = [r['loss'] for r in caffe_parse_log(golden_lines('train.log'))[0]]
    assert [r['loss'] for r in caffe_parse_log(staged)[0]] == pytest.approx(gold, rel=1e-4)
    assert [r['loss'] for r in caffe_parse_log(plain)[0]] != pytest.approx(gold, rel=1e-4)


# -- test ------------------------------------------------------------------------------------------------------------

def test_test_prints_the_real_caffes_batches_and_means(cli, capsys):
    shutil.copy(os.path.join(GOLD, 'cli_iter_5.caffemodel'), cli)
    status, lines = caffe(capsys, 'test', '-model', 'net.prototxt', '-weights', 'cli_iter_5.caffemodel',
                          '-iterations', '3')
    assert status == 0
    number = re.compile(r'-?\d+(\.\d+)?(e[-+]\d+)?')

    def split(msgs):
        start = next(i for i, m in enumerate(msgs) if m.startswith('Running for'))
        return [(number.sub('#', m), [float(x.group()) for x in number.finditer(m)]) for m in msgs[start:]]
    ours, gold = split(messages(lines)), split(messages(golden_lines('test.log')))
    assert [t for t, _ in ours] == [t for t, _ in gold]
    assert [t for t, _ in gold][-3:] == ['Loss: #', 'accuracy = #', 'loss = # (* # = # loss)']
    for (_, a), (_, b) in zip(ours, gold):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6)


def test_test_needs_a_model_and_weights(cli, capsys):
    assert caffe(capsys, 'test', '-weights', 'init.caffemodel')[1][-1] == \
        'caffe: error: Need a model definition to score.'
    status, lines = caffe(capsys, 'test', '-model', 'net.prototxt')
    assert status == _cli.USAGE and lines[-1] == 'caffe: error: Need model weights to score.'


# -- time, device_query, usage ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('phase', ['TRAIN', 'TEST'])
def test_time_prints_the_real_caffes_lines(cli, capsys, phase):
    """The oracle's `caffe time` lines, times aside, but for the Split layers Caffe inserts where a blob feeds two
    layers: the runtime has no such layer to time (its autograd sums the branches' diffs)."""
    status, lines = caffe(capsys, 'time', '-model', 'net.prototxt', '-iterations', '2', '-phase', phase)
    assert status == 0

    def shape(msgs):
        first = msgs.index('Performing Forward')
        return [re.sub(r'-?\d+(\.\d+)?(e[-+]\d+)?', '#', m) for m in msgs[first:] if '_split\t' not in m]
    gold = messages(golden_lines(f'time_{phase.lower()}.log'))
    assert shape(messages(lines)) == shape(gold)
    assert any('_split\t' in m for m in gold) == (phase == 'TEST')


def test_time_prints_every_layer_and_the_totals(cli, capsys):
    status, lines = caffe(capsys, 'time', '-model', 'net.prototxt', '-iterations', '2')
    assert status == 0
    msgs = messages(lines)
    assert msgs[msgs.index('*** Benchmark begins ***') + 1] == 'Testing for 2 iterations.'
    assert [m for m in msgs if m.startswith('Iteration: ')][0].startswith('Iteration: 1 forward-backward time: ')
    for layer in ('data', 'conv1', 'relu1', 'pool1', 'ip1', 'loss'):
        assert re.search(rf'^ *{layer}\tforward: [\d.e+-]+ ms\.$', '\n'.join(msgs), re.M), layer
        assert re.search(rf'^ *{layer}\tbackward: [\d.e+-]+ ms\.$', '\n'.join(msgs), re.M), layer
    assert not any('accuracy' in m for m in msgs)   # TRAIN phase by default
    for total in ('Average Forward pass', 'Average Backward pass', 'Average Forward-Backward', 'Total Time'):
        assert any(re.fullmatch(rf'{total}: [\d.e+-]+ ms\.', m) for m in msgs), total
    assert msgs[-1] == '*** Benchmark ends ***'
    _, lines = caffe(capsys, 'time', '-model', 'net.prototxt', '-iterations', '1', '-phase', 'TEST')
    assert any(m.strip().startswith('accuracy\tforward') for m in messages(lines))


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the answer of a machine without CUDA')
def test_device_query_without_cuda_is_bad_input(capsys):
    status, lines = caffe(capsys, 'device_query', '-gpu', '0')
    assert status == _cli.BAD_INPUT and lines == ['caffe: error: -gpu 0: no CUDA device 0 (0 visible)']
    assert caffe(capsys, 'device_query')[0] == _cli.USAGE


def test_an_unknown_command_is_a_usage_error(capsys):
    status, lines = caffe(capsys, 'fly')
    assert status == _cli.USAGE and "invalid choice: 'fly'" in lines[-1]


def test_logparse_reads_the_real_caffes_log_as_parse_log_does():
    """solvers.logparse (behind fcn-plot-log) gives parse_log.py's rows for the oracle's log, whose newer glog
    prefix carries the year."""
    from solvers.logparse import parse_log
    train, test = parse_log(os.path.join(GOLD, 'train.log'))
    assert (train, test) == caffe_parse_log(golden_lines('train.log'))
    assert [r['loss'] for r in train][:2] == [1.82281, 3.43956] and len(test) == 3


def test_plot_log_draws_a_png_of_a_caffe_train_log(cli, capsys, tmp_path):
    from tools.plot_log import main as plot
    _, lines = caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel')
    log = tmp_path / 'caffe.INFO'
    log.write_text('\n'.join(lines) + '\n')
    assert plot([str(log), str(tmp_path / 'curves.png'), '--csv', str(tmp_path / 'csv')]) == 0
    assert (tmp_path / 'curves.png').read_bytes().startswith(b'\x89PNG')
    assert capsys.readouterr().out == f'{tmp_path / "curves.png"}: 5 train rows, 3 test rows\n'
    assert (tmp_path / 'csv' / 'caffe.INFO.train').read_text().splitlines()[0] == 'NumIters,Seconds,LearningRate,loss'
    assert (tmp_path / 'csv' / 'caffe.INFO.test').read_text().splitlines()[0] == \
        'NumIters,Seconds,LearningRate,accuracy,loss'
    from solvers.logparse import learning_rates
    assert [r['LearningRate'] for r in learning_rates(str(log))] == [0.01, 0.01, 0.005, 0.005, 0.0025]  # step 2
    log.write_text('I1206 09:00:00.000000 1 x.py:1] no training here\n')
    assert plot([str(log), str(tmp_path / 'x.png')]) == _cli.BAD_INPUT


def test_train_under_torchrun_runs_one_solver_per_process(cli, capsys):
    """`torchrun --nproc_per_node 2 -m tools.caffe_cli train ...` on the CPU (gloo): Caffe's multi-GPU meaning, the
    gradients of the processes averaged. Each process's data layer reads the same batches here, so the average is
    each one's gradient and the run ends with the single process's weights, bit for bit; only the root logs."""
    import subprocess
    from weights import read_weights
    assert caffe(capsys, 'train', '-solver', 'solver.prototxt', '-weights', 'init.caffemodel')[0] == 0
    single = read_weights(str(cli / 'snap' / 'cli_iter_5.caffemodel'))
    shutil.rmtree(cli / 'snap')
    (cli / 'snap').mkdir()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, str(cli)]), OMP_NUM_THREADS='1')
    done = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                           '-m', 'tools.caffe_cli', 'train', '-solver', 'solver.prototxt', '-weights',
                           'init.caffemodel'], cwd=cli, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    both = read_weights(str(cli / 'snap' / 'cli_iter_5.caffemodel'))
    for name in single:
        for a, b in zip(single[name], both[name]):
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert sum('Solving cli_net' in l for l in done.stderr.splitlines()) == 1


def test_train_on_several_gpus_relaunches_one_process_per_gpu(cli, capsys, monkeypatch):
    """`-gpu 0,1` (and `all`) outside torchrun: the same command once per GPU under torch.distributed.run, its exit
    status the command's (the CUDA devices are simulated: the launch itself is what is checked)."""
    import subprocess
    import sys as _sys
    from tools import caffe_cli
    calls = []
    monkeypatch.setattr(caffe_cli.torch.cuda, 'device_count', lambda: 3)
    monkeypatch.setattr(subprocess, 'call', lambda cmd: calls.append(cmd) or 5)
    monkeypatch.delenv('WORLD_SIZE', raising=False)
    argv = ['train', '-solver', 'solver.prototxt', '-gpu', '0,2']
    assert caffe_cli.main(argv) == 5
    assert calls == [[_sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '-m',
                      'tools.caffe_cli'] + argv]
    calls.clear()
    monkeypatch.setattr(subprocess, 'call', lambda cmd: calls.append(cmd) or 0)
    assert caffe_cli.main(['train', '-solver', 'solver.prototxt', '-gpu', 'all']) == 0
    assert calls[0][4] == '--nproc_per_node=3'
    assert caffe_cli.main(['train', '-solver', 'solver.prototxt', '-gpu', '0,3']) == _cli.BAD_INPUT
    assert capsys.readouterr().err.splitlines()[-1] == 'caffe: error: -gpu 0,3: no CUDA device 3 (3 visible)'
