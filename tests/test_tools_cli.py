"""Every console script of setup.cfg, run as the installed script runs it (`sys.exit(main())` in a fresh process,
this checkout first on the path): exit status 0 on tiny generated data, and on bad input the status tools/_cli.py
documents with one line `PROG: error: MESSAGE` naming what is wrong. Then the helper's own statuses.

The scripts run once each way, side by side (most of each run is importing torch), in one module fixture."""
import argparse
import concurrent.futures
import configparser
import math
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from datalayers.synthetic import make_voc
from netspec import models
from runtime import Net
from tools import _cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTH = 1 / 32


def console_scripts():
    """{script name: 'module:function'} from setup.cfg."""
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, 'setup.cfg'))
    lines = cfg['options.entry_points']['console_scripts'].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split('=', 1)) for line in lines)


SCRIPTS = console_scripts()


def run_script(name, args, cwd):
    """Run console script `name` as its installed wrapper does, with this checkout's packages."""
    module, func = SCRIPTS[name].split(':')
    code = f'import sys; sys.argv[0] = {name!r}; from {module} import {func}; sys.exit({func}())'
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-c', code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A 3-class synthetic VOC, 1/32-width voc-fcn32s / voc-fcn16s folders, FCN-32s weights (and ones for 5
    classes), an image, and the broken inputs: a truncated caffemodel, a malformed prototxt, a plain file."""
    d = tmp_path_factory.mktemp('cli')
    make_voc(str(d / 'data'), n_train=2, n_val=2, size=(40, 48), num_classes=3, seed=0)
    for folder in ('voc-fcn32s', 'voc-fcn16s'):
        models.write_folder(folder, str(d / folder), width=WIDTH, num_classes=3)
    Net(str(d / 'voc-fcn32s' / 'deploy.prototxt')).save(str(d / 'fcn32s.caffemodel'))
    Net(models.make_folder('voc-fcn32s', width=WIDTH, num_classes=5)['deploy.prototxt']).save(
        str(d / 'fcn32s-5classes.caffemodel'))
    Image.new('RGB', (30, 20), (90, 140, 200)).save(d / 'image.jpg')
    data = (d / 'fcn32s.caffemodel').read_bytes()
    (d / 'cut.caffemodel').write_bytes(data[:len(data) // 2])
    (d / 'bad.prototxt').write_text('layer { name: "x" type: ')
    (d / 'plain-file').write_text('not a folder')
    (d / 'script.py').write_text('import sys\nimport caffe\nprint(caffe.Net.__name__, sys.argv[1:])\n')
    (d / 'exit7.py').write_text('import sys\nsys.exit(7)\n')
    (d / 'tiny.prototxt').write_text(
        'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\n'
        'layer { name: "c" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 2 '
        'kernel_size: 3 } }\n')
    (d / 'list.txt').write_text('image.jpg 1\n')
    from datalayers.imageset import convert_imageset
    convert_imageset(str(d) + '/', str(d / 'list.txt'), str(d / 'db'))
    (d / 'train.log').write_text(''.join(
        f'I1206 09:00:0{i}.000000 1 solver.cpp:1] {m}\n' for i, m in enumerate(
            ['Solving x', 'Iteration 0 (0 iter/s, 0.1s/1 iters), loss = 2', '    Train net output #0: loss = 2',
             'Iteration 0, lr = 0.1', 'Iteration 1 (9 iter/s, 0.1s/1 iters), loss = 1',
             '    Train net output #0: loss = 1', 'Iteration 1, lr = 0.1'])))
    return d


def _args(args, d, out):
    return [a.format(d=d, out=out) for a in args]


FCN32S_W = '{d}/fcn32s.caffemodel'
SUCCEEDS = {
    'fcn-make-nets': (['--out', '{out}', '--width', '0.03125', 'voc-fcn8s'], 'voc-fcn8s: train.prototxt'),
    'fcn-convert': ([FCN32S_W, '{out}/fcn32s.pth'], 'fcn32s.pth: '),
    'fcn-surgery': (['--from-stage', '{d}/voc-fcn32s/deploy.prototxt', FCN32S_W,
                     '--fcn', '{d}/voc-fcn16s/deploy.prototxt', '--out', '{out}/fcn16s-init.caffemodel'], 'wrote '),
    'fcn-solve': (['{d}/voc-fcn32s', '--weights', FCN32S_W, '--data', '{d}/data', '--iters', '1', '--score-every', '1',
                   '--out', '{out}'], 'iteration 1 [label]: overall accuracy'),
    'fcn-score': (['--model', '{d}/voc-fcn32s', '--weights', FCN32S_W, '--data', '{d}/data', '--json', '{out}/r.json',
                   '--quiet'], 'report written to'),
    'fcn-infer': (['--model', '{d}/voc-fcn32s', '--weights', FCN32S_W, '--out', '{out}', '{d}/image.jpg'],
                  'image.jpg (30x20) score:'),
    'fcn-demo': (['--quick', '--no-progress', '--clf-iters', '2', '--iters', '2,1,1', '--n-train', '2', '--n-val', '2',
                  '--out', '{out}'], 'Table 2 on the demo data'),
    'fcn-table1': (['--no-time'], 'conv. layers'),
    'fcn-cuda-check': (['--device', 'cpu', '--tiny', '--steps', 'devices', '--out', '{out}'], '"ok": true'),
    'fcn-pycaffe': (['{d}/script.py', 'a1'], "Net ['a1']"),
    'fcn-ablate': (['--quick', '--no-progress', '--studies', 'stitch', '--iters', '1', '--score-every', '1',
                    '--out', '{out}'], 'shift-and-stitch vs skip fusion at output stride 16'),
    'fcn-plot-log': (['{d}/train.log', '{out}/curves.png'], '2 train rows, 0 test rows'),
    'fcn-dataset': (['example', 'gray', '{out}/own', '--size', '16', '20', '--train', '2', '--val', '1'],
                    'mean of the 2 train images'),
    'fcn-own': (['classifier', 'vgg16', '{out}/clf', '--width', '0.03125'], 'classifier.caffemodel (fillers'),
    'caffe': (['time', '-model', '{d}/tiny.prototxt', '-iterations', '1'], 'Average Forward pass: '),
    'convert_imageset': (['{d}/', '{d}/list.txt', '{out}/db'], 'Processed 1 files.'),
    'compute_image_mean': (['{d}/db', '{out}/mean.binaryproto'], 'mean_value channel [2]: '),
    'draw_net': (['{d}/voc-fcn32s/deploy.prototxt', '{out}/net.dot'], 'Drawing net to '),
    'upgrade_net_proto_text': (['{d}/voc-fcn32s/deploy.prototxt', '{out}/n.prototxt'],
                               'Wrote upgraded NetParameter text proto to '),
    'upgrade_net_proto_binary': ([FCN32S_W, '{out}/n.caffemodel'], 'Wrote upgraded NetParameter binary proto to '),
    'upgrade_solver_proto_text': (['{d}/voc-fcn32s/solver.prototxt', '{out}/s.prototxt'],
                                  'Wrote upgraded SolverParameter text proto to '),
}
REFUSES = {
    'fcn-make-nets': (['--out', '{d}/plain-file', 'voc-fcn32s'], _cli.BAD_INPUT, ['plain-file', 'Not a directory']),
    'fcn-convert': (['{d}/cut.caffemodel', '{out}/x.pth'], _cli.BAD_INPUT, ['cut.caffemodel: truncated caffemodel']),
    'fcn-surgery': (['--from-stage', '{d}/voc-fcn32s/deploy.prototxt', FCN32S_W, '--fcn', '{d}/bad.prototxt',
                     '--out', '{out}/x.caffemodel'], _cli.BAD_INPUT, ['bad.prototxt:', 'cannot parse NetParameter']),
    'fcn-solve': (['{d}/voc-fcn32s', '--weights', '{d}/fcn32s-5classes.caffemodel', '--data', '{d}/data', '--iters',
                   '1', '--out', '{out}'], _cli.BAD_INPUT, ['fcn32s-5classes.caffemodel', "'score_fr'"]),
    'fcn-score': (['--model', '{d}/voc-fcn32s', '--data', '{out}', '--quiet'], _cli.BAD_INPUT,
                  ['PASCAL VOC folder not found']),
    'fcn-infer': (['--model', '{d}/voc-fcn32s', '--out', '{out}', '{d}/no-such-image.jpg'], _cli.BAD_INPUT,
                  ['no-such-image.jpg']),
    'fcn-demo': (['--iters', '10,10', '--out', '{out}'], _cli.USAGE, ['one value per stage']),
    'fcn-table1': (['--no-time', '--repeat', '0'], _cli.USAGE, ['--repeat must be at least 1']),
    'fcn-cuda-check': (['--steps', 'devices,nope', '--out', '{out}'], _cli.USAGE, ['unknown steps', 'nope']),
    'fcn-pycaffe': (['{d}/no-such-script.py'], _cli.BAD_INPUT, ["can't open script", 'no-such-script.py']),
    'fcn-ablate': (['--quick', '--sampling', '1,0.3', '--out', '{out}'], _cli.USAGE, ['each p must be 1/k', '0.3']),
    'fcn-plot-log': (['{d}/plain-file', '{out}/x.png'], _cli.BAD_INPUT, ['no "Solving ..." line']),
    'fcn-dataset': (['check', '{d}/plain-file'], _cli.BAD_INPUT, ['plain-file: not valid JSON']),
    'fcn-own': (['score', '{out}'], _cli.BAD_INPUT, ['recipe.json: no run record', 'fcn-own nets DATASET']),
    'caffe': (['train', '-solver', '{d}/bad.prototxt'], _cli.BAD_INPUT, ['bad.prototxt:']),
    'convert_imageset': (['{d}/', '{d}/no-list.txt', '{out}/db'], _cli.BAD_INPUT, ['no-list.txt']),
    'compute_image_mean': (['{d}/plain-file'], _cli.BAD_INPUT, ['plain-file: no LMDB folder there']),
    'draw_net': (['{d}/bad.prototxt', '{out}/x.dot'], _cli.BAD_INPUT, ['bad.prototxt:']),
    'upgrade_net_proto_text': (['{d}/bad.prototxt', '{out}/x'], _cli.BAD_INPUT, ['bad.prototxt:']),
    'upgrade_net_proto_binary': (['{d}/cut.caffemodel', '{out}/x'], _cli.BAD_INPUT, ['cut.caffemodel']),
    'upgrade_solver_proto_text': (['{d}/bad.prototxt', '{out}/x'], _cli.BAD_INPUT, ['bad.prototxt:']),
}


@pytest.fixture(scope='module')
def runs(files):
    """{(case, script name): CompletedProcess} for case 'ok' (SUCCEEDS) and 'bad' (REFUSES), each in its own
    output folder, run a few at a time."""
    jobs = {}
    for case, table in (('ok', SUCCEEDS), ('bad', REFUSES)):
        for name, (args, *_) in table.items():
            out = files / f'{case}-{name}'
            out.mkdir()
            jobs[case, name] = (name, _args(args, files, out), out)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        futures = {key: pool.submit(run_script, *job) for key, job in jobs.items()}
        return {key: f.result() for key, f in futures.items()}


def test_every_console_script_has_a_success_and_a_bad_input_case():
    assert set(SUCCEEDS) == set(SCRIPTS) == set(REFUSES)


@pytest.mark.parametrize('name', sorted(SUCCEEDS))
def test_console_script_exits_0_on_success(name, runs):
    _, says = SUCCEEDS[name]
    r = runs['ok', name]
    assert r.returncode == _cli.OK, r.stderr[-2000:]
    assert says in r.stdout + r.stderr and 'Traceback' not in r.stderr   # Caffe's tools log to stderr


@pytest.mark.parametrize('name', sorted(REFUSES))
def test_console_script_refuses_bad_input_with_its_status_and_one_line(name, runs):
    _, status, says = REFUSES[name]
    r = runs['bad', name]
    last = r.stderr.rstrip('\n').rsplit('\n', 1)[-1]
    assert r.returncode == status, r.stderr[-2000:]
    assert last.startswith(f'{name}: error: ') and all(s in last for s in says), last
    assert 'Traceback' not in r.stderr


# -- the helper's own statuses, in-process --------------------------------------------------------------------

def _parser():
    p = argparse.ArgumentParser(prog='fcn-x')
    p.add_argument('--n', type=int)
    return p


def _raise(error):
    def body(args):
        raise error
    return body


def test_ctrl_c_exits_130_with_one_line(capsys):
    assert _cli.run(_parser(), _raise(KeyboardInterrupt()), []) == _cli.INTERRUPTED == 130
    assert capsys.readouterr().err == 'fcn-x: error: interrupted\n'


def test_a_usage_error_exits_2_as_argparse_does(capsys):
    assert _cli.run(_parser(), _raise(AssertionError('not reached')), ['--n', 'two']) == _cli.USAGE == 2
    assert "fcn-x: error: argument --n: invalid int value: 'two'" in capsys.readouterr().err
    assert _cli.run(_parser(), _raise(_cli.UsageError('--n must be positive')), []) == 2
    err = capsys.readouterr().err
    assert err.startswith('usage: fcn-x') and err.endswith('fcn-x: error: --n must be positive\n')


def test_help_returns_0_instead_of_exiting(capsys):
    assert _cli.run(_parser(), _raise(AssertionError('not reached')), ['--help']) == 0
    assert '--n' in capsys.readouterr().out


def test_a_bad_input_message_is_one_line_and_a_key_error_is_not_quoted(capsys):
    assert _cli.run(_parser(), _raise(KeyError('x: no recipe')), []) == _cli.BAD_INPUT == 3
    assert capsys.readouterr().err == 'fcn-x: error: x: no recipe\n'
    assert _cli.run(_parser(), _raise(FileNotFoundError('data: folder not found\nexpected layout:\n  a/b')), []) == 3
    assert capsys.readouterr().err == 'fcn-x: error: data: folder not found expected layout: a/b\n'


def test_an_unexpected_error_is_a_traceback_not_a_bad_input_status():
    with pytest.raises(RuntimeError, match='a bug'):
        _cli.run(_parser(), _raise(RuntimeError('a bug')), [])


def test_solve_exits_4_when_the_loss_is_not_finite(monkeypatch, capsys, solvers_log):
    from solvers import LossNotFinite
    from tools import solve

    def diverge(*args, **kwargs):
        raise LossNotFinite(7, math.nan, 'snapshot/train_iter_4.solverstate')
    monkeypatch.setattr(solve, 'train', diverge)
    assert solve.main(['voc-fcn32s']) == _cli.DIVERGED == 4
    assert capsys.readouterr().err.endswith('error: Iteration 7, loss = nan: the loss is not finite, training '
                                            'stopped; the last good snapshot is snapshot/train_iter_4.solverstate\n')


def test_pycaffe_exits_with_the_scripts_own_status(files, tmp_path):
    r = run_script('fcn-pycaffe', [str(files / 'exit7.py')], tmp_path)
    assert r.returncode == 7 and r.stderr == '', r.stderr[-2000:]


def test_cuda_check_exits_5_when_a_step_fails(monkeypatch, tmp_path, capsys):
    from devicecheck import STEPS
    from tools import cuda_check
    monkeypatch.setitem(STEPS, 'devices', lambda device, tiny, out: {'ok': False, 'error': 'forward differs'})
    assert cuda_check.main(['--device', 'cpu', '--steps', 'devices', '--out', str(tmp_path)]) == _cli.CHECK_FAILED == 5
    assert capsys.readouterr().err.endswith(f'error: failed: devices (see {tmp_path}/summary.json)\n')


def test_cuda_check_refuses_a_missing_cuda_device_before_any_step(monkeypatch, tmp_path, capsys):
    from tools import cuda_check
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    assert cuda_check.main(['--device', 'cuda', '--steps', 'devices', '--out', str(tmp_path / 'o')]) == _cli.USAGE
    assert capsys.readouterr().err.endswith(f"error: device 'cuda': torch {torch.__version__} sees no CUDA device\n")
    assert not (tmp_path / 'o').exists()
