"""The reference repository's own scripts, ported to Python 3 by 2to3, run on pycaffe as they run on the real Caffe
(tests/golden/make_pycaffe_scripts.py builds the same tree and ran them in the oracle; its docstring lists every
change made to the scripts and their inputs):

- each solve.py (SGDSolver, copy_from or transplant, interp, step, score.seg_tests; the *_layers.py feeding the
  train and test nets from synthetic data in the original layouts) prints the same scores and logs the same
  losses, within 5e-4 (RTOL says why), and ends as it ends in Caffe (the NYUD scripts with their NameError);
- infer.py writes the label map Caffe writes for the demo image;
- each net.py writes the reference's own prototxts byte for byte, except for the key order of the param_str dicts
  (Python 3 keeps insertion order, Python 2 printed hash order), whose lines are those the oracle's pycaffe writes
  under Python 3;
- `python -m pycaffe --cpu solve.py 0` runs one of them as a command.
"""
import ast
import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import subprocess
import sys

import pytest
import torch

import pycaffe
from pycaffe.runner import run_script
from conftest import GOLDEN, REFERENCE, ROOT

_spec = importlib.util.spec_from_file_location('make_pycaffe_scripts', GOLDEN / 'make_pycaffe_scripts.py')
ms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ms)

FIXTURE = json.loads((GOLDEN / 'pycaffe' / 'scripts.json').read_text())
# Float order, not a difference of semantics: six momentum steps on a summed loss of ~10^4 grow the rounding of
# differently ordered float32 sums. voc-fcn8s's iteration-5 loss is 2683.1 with ATen's AVX2 or AVX-512 kernels and
# 2682.5, Caffe's figure (and 8491.61 for Caffe's 8491.6 at iteration 4), with ATen's scalar kernels
# (ATEN_CPU_CAPABILITY=default): 2.2e-4 apart, from the order of the sums alone. 5e-4 covers that with room;
# iteration 0, before any update, agrees to the printed digits.
RTOL = 5e-4

pytestmark = pytest.mark.oracle


@pytest.fixture(scope='module')
def repo(tmp_path_factory):
    if not REFERENCE.is_dir():
        pytest.skip(f'reference folder {REFERENCE} is absent (set FCN_REFERENCE to its path)')
    return ms.build_tree(str(tmp_path_factory.mktemp('reference_tree')))


@contextlib.contextmanager
def _solver_log():
    """The solvers' Caffe-format log lines, as pycaffe's glog writes them to stderr."""
    records = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())
    log = logging.getLogger('solvers')
    level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        yield records
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def run_ours(repo, cwd, script, args=()):
    """Run a script as `python -m pycaffe --cpu SCRIPT ARGS` from `cwd` with the repository root on sys.path:
    (printed lines, log lines, error line)."""
    out = io.StringIO()
    error = ''
    old_cwd, old_path = os.getcwd(), list(sys.path)
    pycaffe.fall_back_to_cpu()             # the scripts' set_mode_gpu(): CUDA where there is one, else the CPU
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False    # Caffe's float32
    try:
        os.chdir(cwd)
        sys.path.insert(0, repo)
        with _solver_log() as records, contextlib.redirect_stdout(out):
            try:
                run_script(os.path.join(cwd, script), args, isolate=True)
            except Exception as e:                 # the script's own failure, compared with Caffe's
                error = f'{type(e).__name__}: {e}'
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        pycaffe.fall_back_to_cpu(False)
        pycaffe.set_mode_cpu()
        torch.set_num_threads(threads)
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    return ms.printed_lines(out.getvalue()), ms.log_lines('\n'.join(records)), error


def check_run(folder, printed, log, error):
    ref = FIXTURE['solve'][folder]
    ok, why = ms.same_lines(printed, ref['printed'], RTOL)
    assert ok, f'{folder}: printed lines differ from Caffe\'s: {why}'
    ok, why = ms.same_lines(log, ref['log'], RTOL)
    assert ok, f'{folder}: log differs from Caffe\'s: {why}'
    if ref['error']:
        assert error and ref['error'].startswith(error), f'{folder}: ended with {error!r}, Caffe with {ref["error"]!r}'
    else:
        assert not error, f'{folder}: {error}'
    assert len(log) >= 6, f'{folder}: the log holds {len(log)} lines'


@pytest.mark.parametrize('folder', ms.FOLDERS)
def test_solve_py_runs_as_in_caffe(repo, folder):
    printed, log, error = run_ours(repo, os.path.join(repo, folder), 'solve.py', ['0'])
    check_run(folder, printed, log, error)


def test_infer_py_writes_caffes_label_map(repo):
    printed, log, error = run_ours(repo, repo, 'infer.py')
    assert not error, error
    got = ms.label_map_summary(os.path.join(repo, 'demo', 'output.png'))
    ref = FIXTURE['infer']
    assert got['shape'] == ref['shape'] and got['counts'] == ref['counts'], 'label counts differ from Caffe\'s'
    assert got['sha256'] == ref['sha256'], 'the label map differs from Caffe\'s'


def _param_strs(text):
    return [ast.literal_eval(ast.literal_eval(f'"{m}"')) for m in re.findall(r'param_str: "(.*)"', text)]


@pytest.mark.parametrize('folder', ms.FOLDERS)
def test_net_py_writes_the_reference_prototxts(repo, tmp_path, folder):
    work = tmp_path / folder
    work.mkdir()
    (work / 'net.py').write_text(open(os.path.join(repo, folder, 'net.py')).read())
    _, _, error = run_ours(repo, str(work), 'net.py')
    assert not error, error
    assert ms.written_files(str(work)) == FIXTURE['net_py'][folder], 'param_str lines differ from Caffe\'s'
    for name in FIXTURE['net_py'][folder]:
        ours = (work / name).read_text()
        reference = (REFERENCE / folder / name).read_text()
        strip = re.compile(r'param_str: ".*"')
        assert strip.sub('', ours) == strip.sub('', reference), f'{folder}/{name} differs from the reference'
        assert _param_strs(ours) == _param_strs(reference), f'{folder}/{name}: param_str values differ'


def test_python_dash_m_pycaffe_runs_solve_py(repo):
    folder = 'voc-fcn32s'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), repo]), OMP_NUM_THREADS='1')
    p = subprocess.run([sys.executable, '-m', 'pycaffe', '--cpu', 'solve.py', '0'], cwd=os.path.join(repo, folder),
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert 'stays on the CPU' in p.stderr
    check_run(folder, ms.printed_lines(p.stdout), ms.log_lines(p.stderr), '')


def test_surgery_py_gives_caffes_weights_bit_for_bit(tmp_path, monkeypatch):
    """The reference's surgery.transplant (a classifier's InnerProduct fc6/fc7 coerced into convolutions by flat
    assignment) and interp, ported and run on pycaffe nets, against the same procedure run by the real pycaffe
    (tests/golden/make_weights.py: caffe_surgery_fcn32s_thin.caffemodel)."""
    import numpy as np
    import weights
    if not REFERENCE.is_dir():
        pytest.skip(f'reference folder {REFERENCE} is absent')
    (tmp_path / 'surgery.py').write_text(ms.port((REFERENCE / 'surgery.py').read_text(), 'surgery.py'))
    pycaffe.alias_caffe()
    monkeypatch.delitem(sys.modules, 'surgery', raising=False)
    try:
        spec = importlib.util.spec_from_file_location('surgery', tmp_path / 'surgery.py')
        surgery = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(surgery)
        gw = GOLDEN / 'weights'
        clf = pycaffe.Net(str(gw / 'vgg16_thin.prototxt'), str(gw / 'caffe_vgg16_thin.caffemodel'), pycaffe.TEST)
        fcn = pycaffe.Net(str(gw / 'fcn32s_thin.prototxt'), pycaffe.TEST)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            surgery.transplant(fcn, clf)
            surgery.interp(fcn, [k for k in fcn.params if 'up' in k])
        fcn.save(str(tmp_path / 'ours.caffemodel'))
    finally:
        pycaffe.runner.unalias_caffe()
    assert 'coercing fc6 0 from (' in printed.getvalue()
    ours = weights.read_weights(tmp_path / 'ours.caffemodel')
    caffe = weights.read_weights(gw / 'caffe_surgery_fcn32s_thin.caffemodel')
    with_blobs = [k for k, v in caffe.items() if v]
    assert [k for k, v in ours.items() if v] == with_blobs
    for k in with_blobs:
        for a, b in zip(ours[k], caffe[k]):
            assert a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32)), k
