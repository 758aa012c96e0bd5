"""Faults a user meets, each through the tool or library call that meets it: the exit status of tools/_cli.py, one
line naming the file, the layer and what was expected, and what is left on disk (nothing lost, nothing half-made).

The tools run in this process (their `main(argv)`) on a 3-class synthetic VOC and 1/32-width model folders; the
faults that need a process of their own (a signal, kill -9, a file-size limit) run the tool in a fresh one."""
import errno
import importlib
import math
import os
import pathlib
import resource
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from datalayers.synthetic import make_voc
from netspec import models
from runtime import Net
from tools import _cli

pytestmark = pytest.mark.usefixtures('one_thread')

ROOT = pathlib.Path(__file__).resolve().parents[1]
WIDTH = 1 / 32
GOLD = ROOT / 'tests' / 'golden' / 'solvers'


def _kit():
    spec = importlib.util.spec_from_file_location('solvers_testkit', GOLD / 'testkit.py')
    kit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kit)
    return kit


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A 3-class synthetic VOC (2 train, 2 val), 1/32-width voc-fcn32s and voc-fcn8s folders with their deploy
    weights, and an image."""
    d = tmp_path_factory.mktemp('faults')
    make_voc(str(d / 'data'), n_train=2, n_val=2, size=(40, 48), num_classes=3, seed=0)
    for folder in ('voc-fcn32s', 'voc-fcn8s'):
        models.write_folder(folder, str(d / folder), width=WIDTH, num_classes=3)
    Net(str(d / 'voc-fcn32s' / 'deploy.prototxt')).save(str(d / 'fcn32s.caffemodel'))
    Net(str(d / 'voc-fcn8s' / 'deploy.prototxt')).save(str(d / 'fcn8s.caffemodel'))
    Image.new('RGB', (30, 20), (90, 140, 200)).save(d / 'image.jpg')
    return d


def tool(name, args, capsys):
    """(exit status, stdout, stderr) of tools/NAME.py's main(args), in this process."""
    module = importlib.import_module(f'tools.{name}')
    rc = module.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def last_line(err):
    return err.rstrip('\n').rsplit('\n', 1)[-1]


def messages(err):
    """stderr's lines but the progress bars'."""
    return [l for l in err.splitlines() if l and not l.startswith('\r') and 'img/s' not in l]


def fresh_env():
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''),
                OMP_NUM_THREADS='1')


def umask():
    """The process's umask, read without changing it."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('Umask:'):
                return int(line.split()[1], 8)
    pytest.skip('no /proc/self/status Umask line on this system')


def model_folder(tmp_path, name, deploy_text):
    """A model folder holding only deploy.prototxt."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / 'deploy.prototxt').write_text(deploy_text)
    return folder


def solve_args(files, out, *more):
    return [files / 'voc-fcn32s', '--weights', files / 'fcn32s.caffemodel', '--data', files / 'data', '--iters', '1',
            '--score-every', '1', '--out', out, *more]


# -- C: faults -------------------------------------------------------------------------------------------------------

def test_a_blob_shape_overflowing_int64_names_the_file_and_the_layer(tmp_path, capsys):
    text = 'layer { name: "input" type: "Input" top: "data" input_param { shape { ' \
           'dim: 1000000 dim: 3000000 dim: 1000000 dim: 1000000 } } }\n'
    folder = model_folder(tmp_path, 'huge', text)
    with pytest.raises(ValueError, match=r"deploy.prototxt: layer 'input' \(type Input\) top 'data': .*int64"):
        Net(str(folder / 'deploy.prototxt'))
    rc, _, err = tool('infer', ['--model', folder, '--out', tmp_path / 'out', tmp_path / 'x.jpg'], capsys)
    assert rc == _cli.BAD_INPUT and 'Traceback' not in err
    assert f"{folder / 'deploy.prototxt'}: layer 'input' (type Input) top 'data'" in last_line(err)
    assert 'more than an int64 byte count can hold' in last_line(err)
    assert not (tmp_path / 'out').exists()


def test_an_input_larger_than_memory_is_refused_before_allocating_naming_the_layer_and_the_bytes(tmp_path, capsys):
    text = 'layer { name: "input" type: "Input" top: "data" input_param { shape { ' \
           'dim: 1 dim: 3 dim: 100000 dim: 100000 } } }\n' \
           'layer { name: "score" type: "Convolution" bottom: "data" top: "score" ' \
           'convolution_param { num_output: 3 kernel_size: 1 } }\n'
    folder = model_folder(tmp_path, 'enormous', text)
    rc, _, err = tool('infer', ['--model', folder, '--out', tmp_path / 'out', tmp_path / 'x.jpg'], capsys)
    assert rc == _cli.BAD_INPUT and 'Traceback' not in err
    line = last_line(err)
    assert f"{folder / 'deploy.prototxt'}: layer 'input' (type Input) top 'data'" in line
    assert 'the shape 1x3x100000x100000 needs 120000000000 bytes (111.8 GiB), more than the' in line
    assert not (tmp_path / 'out').exists()


def test_a_parameter_blob_larger_than_memory_names_the_layer_and_the_bytes():
    text = 'layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 300 } } }\n' \
           'layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" ' \
           'inner_product_param { num_output: 4000000000 } }\n'
    with pytest.raises(ValueError, match=r"layer 'fc' \(type InnerProduct\) parameter blob 0: the shape "
                                         r"4000000000x300 needs 4800000000000 bytes \(4.4 TiB\)"):
        Net(text)


@pytest.mark.filterwarnings('ignore:invalid value encountered')
def test_nan_loss_names_the_last_snapshot_whose_weights_and_history_are_finite(tmp_path):
    """At iteration 3 the rate becomes infinite (step policy, gamma inf): the update makes the weights non-finite,
    iteration 4's snapshot holds them, and iteration 4's loss is NaN. The good one is iteration 3's."""
    from solvers import LossNotFinite
    kit = _kit()
    s = kit.make_solver(kit.write_solver(tmp_path, snapshot=1, lr_policy='step', gamma=math.inf, stepsize=3))
    with pytest.raises(LossNotFinite) as e:
        s.step(10)
    good, bad = (str(tmp_path / 'snap' / f'train_iter_{i}.solverstate') for i in (3, 4))
    assert s.iter == 4 and os.path.exists(bad)   # written, as Caffe writes it
    assert e.value.last_snapshot == good == s.last_good_snapshot and e.value.later == [bad]
    assert str(e.value) == (f'Iteration 4, loss = nan: the loss is not finite, training stopped; the last good '
                            f'snapshot is {good} ({bad} holds non-finite values)')
    from weights import read_weights
    assert all(np.isfinite(a).all() for v in read_weights(good.replace('.solverstate', '.caffemodel')).values()
               for a in v)


def test_a_snapshot_whose_history_is_not_finite_is_not_a_good_one(tmp_path, caplog):
    kit = _kit()
    s = kit.make_solver(kit.write_solver(tmp_path))
    s.step(1)
    good = s.snapshot()
    s.step(1)
    s.history[3][0] = math.inf
    with caplog.at_level('WARNING', logger='solvers'):
        bad = s.snapshot()
    assert s.last_snapshot == bad and s.last_good_snapshot == good
    assert f'{bad} holds non-finite values (history blob 3 (conv2 blob 1))' in caplog.text


CTRL_C_WHILE_SCORING = 'Begin seg tests'


def test_ctrl_c_while_fcn_solve_scores_snapshots_and_exits_0(tmp_path):
    """Caffe's Test runs under Solve's signal handler: a SIGINT stops the testing, Solve snapshots and the run ends
    normally. Here the signal arrives while fcn-solve scores iteration 1 over 80 images."""
    make_voc(str(tmp_path / 'data'), n_train=2, n_val=80, size=(64, 72), num_classes=3, seed=1)
    models.write_folder('voc-fcn32s', str(tmp_path / 'voc-fcn32s'), width=WIDTH, num_classes=3)
    out = tmp_path / 'run'
    cmd = [sys.executable, '-u', '-m', 'tools.solve', str(tmp_path / 'voc-fcn32s'), '--data', str(tmp_path / 'data'),
           '--iters', '1', '--score-every', '1', '--out', str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=fresh_env(), cwd=ROOT)
    seen = []
    try:
        for line in p.stdout:
            seen.append(line)
            if CTRL_C_WHILE_SCORING in line:
                p.send_signal(signal.SIGINT)
                break
        rest, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    text = ''.join(seen) + rest
    assert p.returncode == _cli.OK, err[-2000:]
    assert 'mean IU' not in text          # the scoring was cut short, not finished
    snap = out / 'snapshot'
    assert sorted(f.name for f in snap.iterdir()) == ['train_iter_1.caffemodel', 'train_iter_1.rngstate',
                                                      'train_iter_1.solverstate']
    assert f'Stopped at iteration 1; last snapshot: {snap / "train_iter_1.solverstate"}' in text


def test_a_full_disk_names_the_file_and_keeps_the_old_one(files, tmp_path, capsys, monkeypatch):
    report = tmp_path / 'r.json'
    report.write_text('the previous report')

    def disk_full(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', disk_full)
    rc, _, err = tool('score', ['--model', files / 'voc-fcn32s', '--weights', files / 'fcn32s.caffemodel', '--data',
                                files / 'data', '--json', report, '--quiet'], capsys)
    assert rc == _cli.BAD_INPUT and 'Traceback' not in err
    assert last_line(err).endswith(f'error: {report}: cannot write score report: No space left on device')
    assert report.read_text() == 'the previous report'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['r.json']     # no temporary file left


def test_a_write_cut_by_a_file_size_limit_names_the_file(files, tmp_path):
    """A real failed write (RLIMIT_FSIZE: the kernel refuses bytes past 20 kB, as a full disk refuses them)."""
    out = tmp_path / 'fcn32s.pth'

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
    code = 'import sys; from tools.convert import main; sys.exit(main())'
    r = subprocess.run([sys.executable, '-c', code, str(files / 'fcn32s.caffemodel'), str(out)], env=fresh_env(),
                       capture_output=True, text=True, timeout=120, preexec_fn=limit, cwd=tmp_path)
    assert r.returncode == _cli.BAD_INPUT, r.stderr[-2000:]
    assert r.stderr.rstrip('\n').endswith(f'error: {out}: cannot write checkpoint: File too large')
    assert 'Traceback' not in r.stderr and list(tmp_path.iterdir()) == []


def test_a_second_fcn_solve_on_the_same_snapshot_folder_is_refused(files, tmp_path, capsys, solvers_log):
    from solvers.snapshots import SnapshotLock
    out = tmp_path / 'run'
    with SnapshotLock(out / 'snapshot' / 'train') as held:
        rc, _, err = tool('solve', solve_args(files, out), capsys)
        assert rc == _cli.BAD_INPUT and 'Traceback' not in err
        assert last_line(err).endswith(
            f'error: {out / "snapshot"}: another run (process {os.getpid()}) is writing train_iter_* snapshots '
            f'there; wait for it to end or give another output folder (lock file {held.path})')
        assert os.listdir(out / 'snapshot') == ['.train.lock']
    assert not (out / 'snapshot').exists()     # the lock made the folder, and took it away unused
    rc, _, err = tool('solve', solve_args(files, out), capsys)
    assert rc == _cli.OK, err[-2000:]
    assert not (out / 'snapshot' / '.train.lock').exists()


def test_a_lock_held_by_a_killed_run_is_free_again(tmp_path):
    from solvers.snapshots import SnapshotLock
    prefix = tmp_path / 'snapshot' / 'train'
    code = textwrap.dedent(f'''
        import os, signal
        from solvers.snapshots import SnapshotLock
        SnapshotLock({str(prefix)!r}).acquire()
        os.kill(os.getpid(), signal.SIGKILL)
    ''')
    r = subprocess.run([sys.executable, '-c', code], env=fresh_env(), timeout=120)
    assert r.returncode == -signal.SIGKILL and (tmp_path / 'snapshot' / '.train.lock').exists()
    with SnapshotLock(prefix) as lock:
        assert lock.fd is not None
    assert not (tmp_path / 'snapshot' / '.train.lock').exists()


def test_temporary_files_of_a_snapshot_write_killed_by_sigkill_are_removed_at_the_next_start(files, tmp_path, capsys,
                                                                                            solvers_log):
    out = tmp_path / 'run'
    model = out / 'snapshot' / 'train_iter_4.caffemodel'
    code = textwrap.dedent(f'''
        import os, signal
        from weights.atomic import atomic_file
        with atomic_file({str(model)!r}, 'weights') as f:
            f.write(b'x' * 100000)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    ''')
    r = subprocess.run([sys.executable, '-c', code], env=fresh_env(), timeout=120)
    left = list((out / 'snapshot').glob('.train_iter_4.caffemodel.*.tmp'))
    assert r.returncode == -signal.SIGKILL and len(left) == 1 and not model.exists()
    (out / 'snapshot' / '.other_iter_4.caffemodel.abc.tmp').write_bytes(b'another prefix')
    rc, _, err = tool('solve', solve_args(files, out), capsys)
    assert rc == _cli.OK, err[-2000:]
    assert (f'Removed 1 temporary file(s) (100000 bytes) that an interrupted snapshot write left in '
            f'{out / "snapshot"}: {left[0].name}') in err
    left_now = sorted(p.name for p in (out / 'snapshot').iterdir() if not p.name.startswith('train_iter_'))
    assert left_now == ['.other_iter_4.caffemodel.abc.tmp']   # and the run's own last snapshot (snapshot_after_train)


PYTHON_LAYER_NET = ('layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 '
                    'dim: 8 } } }\n'
                    'layer { name: "shift" type: "Python" bottom: "data" top: "score" '
                    'python_param { module: "%s" layer: "Shift" } }\n')


def test_a_missing_python_layer_module_names_the_layer_and_the_module(files, tmp_path, capsys):
    folder = model_folder(tmp_path, 'pylayer', PYTHON_LAYER_NET % 'no_such_layers_module')
    rc, _, err = tool('infer', ['--model', folder, '--out', tmp_path / 'out', files / 'image.jpg'], capsys)
    assert rc == _cli.BAD_INPUT and 'Traceback' not in err
    assert last_line(err).endswith(
        f"error: {folder / 'deploy.prototxt'}: layer 'shift' (type Python): cannot find the Python layer module "
        f"'no_such_layers_module' on sys.path or in the packages datalayers")
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('body, error', [
    ('import no_such_dependency_xyz\n', "ModuleNotFoundError: No module named 'no_such_dependency_xyz'"),
    ('x = 1\nx = 1 / 0\n', 'ZeroDivisionError: division by zero'),
])
def test_a_python_layer_module_that_fails_to_import_names_the_layer_the_module_and_the_error(
        files, tmp_path, capsys, monkeypatch, body, error):
    name = f'faulty_layers_{len(body)}'
    (tmp_path / f'{name}.py').write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = model_folder(tmp_path, 'pylayer', PYTHON_LAYER_NET % name)
    rc, _, err = tool('infer', ['--model', folder, '--out', tmp_path / 'out', files / 'image.jpg'], capsys)
    assert rc == _cli.BAD_INPUT and 'Traceback' not in err
    line = f"error: {folder / 'deploy.prototxt'}: layer 'shift' (type Python): the Python layer module {name!r} " \
           f"failed to import: {error} ({tmp_path / (name + '.py')}, line {body.count(chr(10))})"
    assert last_line(err).endswith(line)
    assert not (tmp_path / 'out').exists()


def test_a_missing_net_file_without_a_prototxt_extension_says_no_such_file(files, tmp_path, capsys):
    rc, _, err = tool('convert', [files / 'fcn32s.caffemodel', tmp_path / 'x.pth', '--net', tmp_path / 'my_net'],
                      capsys)
    assert rc == _cli.BAD_INPUT
    assert last_line(err).endswith(f'error: {tmp_path / "my_net"}: no such file (and not NetParameter prototxt text)')
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope='module')
def snapshot(files, tmp_path_factory):
    """A snapshot of the 1/32-width FCN-32s after one iteration (the recipe, snapshot every iteration)."""
    import io
    from fcnapps.recipe import train
    out = tmp_path_factory.mktemp('snapshot')
    solver, _ = train(str(files / 'voc-fcn32s'), weights=str(files / 'fcn32s.caffemodel'), data=str(files / 'data'),
                      iters=1, score_every=100, out=str(out), stdout=io.StringIO(), snapshot=1)
    solver.close()
    return pathlib.Path(solver.last_snapshot)


def _savez(path, **arrays):
    with open(path, 'wb') as f:   # np.savez on a path would add '.npz'
        np.savez(f, **arrays)


TAMPERED = {
    'an object array': (lambda p, good: _savez(p, doc=np.array([{'format': 'x'}], dtype=object)),
                        'Object arrays cannot be loaded'),
    'truncated': (lambda p, good: p.write_bytes(good[:200]), 'BadZipFile'),
    'keys missing': (lambda p, good: _savez(p, doc=np.array('{"format": "fcn-solvers-rngstate-1"}')),
                     "KeyError: 'torch"),
}


@pytest.mark.parametrize('how', sorted(TAMPERED))
def test_a_tampered_rngstate_names_the_file_and_changes_no_random_state(files, snapshot, tmp_path, capsys,
                                                                        solvers_log, how):
    tamper, says = TAMPERED[how]
    for f in snapshot.parent.glob('train_iter_1.*'):
        shutil.copy(f, tmp_path / f.name)
    rng = tmp_path / 'train_iter_1.rngstate'
    tamper(rng, rng.read_bytes())
    before = torch.get_rng_state()
    rc, _, err = tool('solve', solve_args(files, tmp_path / 'run', '--resume', tmp_path / 'train_iter_1.solverstate'),
                      capsys)
    assert rc == _cli.BAD_INPUT and 'Traceback' not in err
    assert f'error: {rng}: not a valid random-state sidecar' in last_line(err) and says in last_line(err)
    from solvers import snapshots
    with pytest.raises(ValueError, match=str(rng)):
        snapshots.read_rngstate(str(rng))
    assert torch.equal(torch.get_rng_state(), before)


def png_claiming(width, height):
    """A PNG whose header claims width x height RGB pixels (its data is one byte)."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(b'\x00')) + chunk(b'IEND', b''))


def test_an_image_whose_header_claims_ten_gigapixels_names_the_file(files, tmp_path, capsys):
    bomb = tmp_path / 'bomb.png'
    bomb.write_bytes(png_claiming(100000, 100000))
    rc, _, err = tool('infer', ['--model', files / 'voc-fcn32s', '--weights', files / 'fcn32s.caffemodel', '--out',
                                tmp_path / 'out', bomb], capsys)
    assert rc == _cli.BAD_INPUT and 'Traceback' not in err
    assert f'error: cannot read image {bomb}: Image size (10000000000 pixels) exceeds limit' in last_line(err)
    assert list((tmp_path / 'out').iterdir()) == []


# -- D: a user's other stumbles ---------------------------------------------------------------------------------------

FIT = ("does not fit the net in full: the net's layers not in the file, left at their fillers: upscore; the file's "
       "layers not in the net, ignored: upscore2, score_pool4, upscore_pool4, score_pool3, upscore8")


def test_weights_of_another_net_name_the_layers_left_at_their_fillers_and_those_ignored(files, tmp_path, capsys):
    net = Net(str(files / 'voc-fcn32s' / 'deploy.prototxt'))
    copied = net.copy_from(str(files / 'fcn8s.caffemodel'))
    assert 'score_fr' in copied and copied.kept == ['upscore'] and net.last_copy is copied
    assert copied.mismatch() == f"{files / 'fcn8s.caffemodel'} {FIT}"
    rc, out, err = tool('infer', ['--model', files / 'voc-fcn32s', '--weights', files / 'fcn8s.caffemodel', '--out',
                                  tmp_path / 'out', files / 'image.jpg'], capsys)
    assert rc == _cli.OK and messages(err) == [f"warning: {files / 'fcn8s.caffemodel'} {FIT}"]
    rc, out, err = tool('score', ['--model', files / 'voc-fcn32s', '--weights', files / 'fcn8s.caffemodel', '--data',
                                  files / 'data', '--json', tmp_path / 'r.json', '--quiet'], capsys)
    assert rc == _cli.OK and messages(err) == [f"warning: {files / 'fcn8s.caffemodel'} {FIT}"]
    import json
    assert json.loads((tmp_path / 'r.json').read_text())['weights_mismatch'].endswith(FIT)


def test_weights_of_the_same_net_give_no_warning(files, tmp_path, capsys):
    rc, _, err = tool('infer', ['--model', files / 'voc-fcn32s', '--weights', files / 'fcn32s.caffemodel', '--out',
                                tmp_path, files / 'image.jpg'], capsys)
    assert rc == _cli.OK and messages(err) == []


def test_fcn_infer_without_weights_warns(files, tmp_path, capsys):
    rc, _, err = tool('infer', ['--model', files / 'voc-fcn32s', '--out', tmp_path, files / 'image.jpg'], capsys)
    assert rc == _cli.OK and messages(err) == ['warning: no --weights given; labelling with a zero-initialised net']


DEVICE_TOOLS = {
    'solve': lambda f, t: [f / 'voc-fcn32s', '--data', f / 'data', '--iters', '1', '--out', t],
    'score': lambda f, t: ['--model', f / 'voc-fcn32s', '--data', f / 'data', '--json', t / 'r.json'],
    'infer': lambda f, t: ['--model', f / 'voc-fcn32s', '--out', t, f / 'image.jpg'],
    'table1': lambda f, t: ['--no-time'],
}


@pytest.mark.parametrize('name', sorted(DEVICE_TOOLS))
@pytest.mark.parametrize('device, says', [
    ('cuda', f"argument --device: 'cuda': torch {torch.__version__} sees no CUDA device (a CPU-only build of torch, "
             f"or no GPU); give cpu"),
    ('gpu', "argument --device: 'gpu' is not a device torch names (give cpu, cuda or cuda:K)"),
])
def test_a_device_this_machine_lacks_is_a_usage_error_in_one_line(files, tmp_path, capsys, monkeypatch, solvers_log,
                                                                  name, device, says):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)   # a CPU-only torch, on any machine
    rc, out, err = tool(name, [*DEVICE_TOOLS[name](files, tmp_path / 'o'), '--device', device], capsys)
    assert rc == _cli.USAGE and out == '' and 'Traceback' not in err
    assert err.startswith('usage: ') and last_line(err).endswith(f'error: {says}')
    assert not (tmp_path / 'o').exists()


def test_a_written_model_folder_scores_after_moving_it_with_relative_paths(tmp_path, capsys, monkeypatch):
    """The demo's folders hold '../data/...' as the reference's do: `--model demo-output/voc-fcn8s --data
    demo-output/data` from the folder above works, and so do the folders moved elsewhere."""
    from fcndemo.pipeline import Config, make_dataset, write_stage
    cfg = Config.quick(out=str(tmp_path / 'demo-output'), n_train=2, n_val=2, size=(40, 48))
    info = make_dataset(cfg)
    write_stage(cfg, info, 8, os.path.join(cfg.out, 'voc-fcn8s'), 1e-10)
    from netspec import read_net
    params = [l.python_param.param_str for l in read_net(os.path.join(cfg.out, 'voc-fcn8s', 'val.prototxt')).layer
              if l.type == 'Python']
    assert params and "'voc_dir': '../data/pascal/VOC2011'" in params[0]
    shutil.move(cfg.out, tmp_path / 'moved')
    monkeypatch.chdir(tmp_path)
    for args in (['--model', 'moved/voc-fcn8s', '--data', 'moved/data'], ['--model', 'moved/voc-fcn8s']):
        rc, out, err = tool('score', [*args, '--json', 'r.json', '--quiet'], capsys)
        assert rc == _cli.OK, err
        assert 'voc-fcn8s on seg11valid (2 images)' in out


def test_label_pngs_pictures_and_reports_get_the_umasks_mode(files, tmp_path, capsys):
    mode = 0o666 & ~umask()
    rc, _, err = tool('score', ['--model', files / 'voc-fcn32s', '--weights', files / 'fcn32s.caffemodel', '--data',
                                files / 'data', '--save', tmp_path / 'pred', '--json', tmp_path / 'r.json', '--quiet'],
                      capsys)
    assert rc == _cli.OK, err
    rc, _, err = tool('infer', ['--model', files / 'voc-fcn32s', '--weights', files / 'fcn32s.caffemodel', '--out',
                                tmp_path / 'infer', files / 'image.jpg'], capsys)
    assert rc == _cli.OK, err
    written = [tmp_path / 'r.json', *(tmp_path / 'pred').iterdir(), *(tmp_path / 'infer').iterdir()]
    assert len(written) == 1 + 2 + 2
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written} == {p.name: oct(mode) for p in written}


def test_a_missing_image_says_what_was_expected(files, tmp_path, capsys):
    rc, _, err = tool('infer', ['--model', files / 'voc-fcn32s', '--out', tmp_path, tmp_path / 'nope.jpg'], capsys)
    assert rc == _cli.BAD_INPUT
    assert last_line(err).endswith(f'error: missing image: {tmp_path / "nope.jpg"} expected layout: an image file '
                                   f'that PIL reads (JPEG, PNG, ...): each IMAGE given')


def test_fcn_table1_says_what_it_times_while_it_times(capsys, monkeypatch):
    from tools import table1
    monkeypatch.setattr(table1, 'forward_times', lambda net, device, repeat: [0.25] * repeat)
    rc, out, err = tool('table1', ['--repeat', '2', '--size', '64'], capsys)
    assert rc == _cli.OK and 'forward time' in out
    lines = err.splitlines()
    assert [l.split(' ...')[0] for l in lines] == [
        f'[{k}/3] timing {name}: 3 forwards at 64x64 on cpu' for k, name in
        enumerate(('FCN-AlexNet', 'FCN-VGG16', 'FCN-GoogLeNet'), 1)]
    assert all(l.endswith(' s') for l in lines)


def _tool_modules():
    import configparser
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'setup.cfg')
    lines = cfg['options.entry_points']['console_scripts'].strip().splitlines()
    return {name.strip(): target.strip().split(':')[0] for name, target in (l.split('=', 1) for l in lines)}


@pytest.mark.parametrize('script, module', sorted(_tool_modules().items()))
def test_no_tool_takes_an_abbreviated_option(script, module, capsys):
    """Each tool's parser, as its main runs it (tools: through _cli.run), takes an option only by its full name."""
    parser = importlib.import_module(module).build_parser()
    option = max([s for a in parser._actions for s in a.option_strings if s.startswith('--') and s != '--help']
                 or ['--help'], key=len)    # Caffe's upgrade tools take positional arguments only
    abbreviation = option[:-1]
    assert not any(s.startswith(abbreviation) and s != option for a in parser._actions for s in a.option_strings)
    if module.startswith('tools.'):
        assert _cli.run(parser, lambda args: None, ['--help']) == _cli.OK
    capsys.readouterr()
    for action in parser._actions:   # the abbreviation alone, without the tool's required arguments
        action.required = False
    _, extras = parser.parse_known_args([abbreviation])
    assert extras == [abbreviation]


def test_an_abbreviated_option_is_a_usage_error(files, tmp_path, capsys):
    rc, _, err = tool('score', ['--model', files / 'voc-fcn32s', '--weight', files / 'fcn32s.caffemodel'], capsys)
    assert rc == _cli.USAGE and last_line(err).endswith(f"error: unrecognized arguments: --weight "
                                                        f"{files / 'fcn32s.caffemodel'}")


def test_the_papers_figures_stand_only_beside_results_over_the_papers_classes(files, tmp_path, capsys):
    rc, out, _ = tool('score', ['--model', files / 'voc-fcn32s', '--data', files / 'data', '--json',
                                tmp_path / 'r3.json', '--quiet'], capsys)
    assert rc == _cli.OK and 'paper:' not in out and '63.6' not in out
    assert ("(the paper's figures for voc-fcn32s on seg11valid are not shown: they are for the 21 classes of PASCAL "
            "VOC 2011 segmentation, trained on SBD; this net's label head scores 3 classes)") in out
    make_voc(str(tmp_path / 'data21'), n_train=1, n_val=1, size=(40, 40), num_classes=21, seed=0)
    models.write_folder('voc-fcn32s', str(tmp_path / 'voc-fcn32s'), width=WIDTH)
    rc, out, _ = tool('score', ['--model', tmp_path / 'voc-fcn32s', '--data', tmp_path / 'data21', '--json',
                                tmp_path / 'r21.json', '--quiet'], capsys)
    assert rc == _cli.OK and 'paper: FCN-32s, released heavy model' in out and 'not shown' not in out


def test_fcn_solve_logs_each_source_layer_it_ignores_as_caffe_does(files, tmp_path, capsys, solvers_log):
    rc, _, err = tool('solve', [files / 'voc-fcn32s', '--weights', files / 'fcn8s.caffemodel', '--data', files / 'data',
                                '--iters', '1', '--score-every', '1', '--out', tmp_path], capsys)
    assert rc == _cli.OK, err[-2000:]
    ignored = [l.rsplit('] ', 1)[1] for l in err.splitlines() if 'Ignoring source layer' in l]
    assert ignored == [f'Ignoring source layer {n}' for n in
                       ('upscore2', 'score_pool4', 'upscore_pool4', 'score_pool3', 'upscore8')]


def test_an_absolute_dataset_path_is_re_rooted_below_its_data_folder_not_doubled(files, tmp_path, capsys):
    """Model folders written before their paths were relative hold absolute ones: --data takes what follows their
    last data/ part; an absolute path without one cannot be re-rooted and says so."""
    import datalayers
    assert datalayers.rebase_path('/old/place/demo-output/data/pascal/VOC2011', '/new/data') == \
        os.path.join('/new/data', 'pascal', 'VOC2011')
    with pytest.raises(ValueError, match='/srv/voc: an absolute dataset path with no data/ folder in it cannot be '
                                         're-rooted at /new/data'):
        datalayers.rebase_path('/srv/voc', '/new/data')
    folder = tmp_path / 'voc-fcn32s'
    shutil.copytree(files / 'voc-fcn32s', folder)
    val = (folder / 'val.prototxt').read_text()
    (folder / 'val.prototxt').write_text(val.replace('../data/pascal/VOC2011', '/gone/demo-output/data/pascal/VOC2011'))
    assert '/gone/demo-output/data/pascal/VOC2011' in (folder / 'val.prototxt').read_text()
    rc, out, err = tool('score', ['--model', folder, '--data', files / 'data', '--json', tmp_path / 'r.json',
                                  '--quiet'], capsys)
    assert rc == _cli.OK, err
    assert 'voc-fcn32s on seg11valid (2 images)' in out
