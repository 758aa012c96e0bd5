"""Golden fixtures for the reference repository's own scripts (../shared/reference: each folder's net.py and
solve.py, surgery.py, score.py, infer.py, vis.py and the *_layers.py), run by the real Caffe's pycaffe:

    python tests/golden/make_pycaffe_scripts.py        # in the project's env; it runs the oracle's env itself

1. `build_tree(root)` writes a copy of the reference repository as its scripts expect to find it, with data they
   can run on in minutes (this project's env writes it; the oracle and the tests read the same files):
   - root/data: synthetic datasets in the original layouts (datalayers.synthetic, small images); root/fcn is the
     repository (its data -> ../data), so both `../data` and `../../data` (voc-fcn16s, PASCAL-Context) resolve;
   - every .py ported to Python 3 by 2to3 (lib2to3's default fixers) and nothing else, except, in solve.py, the
     loop lengths: `for _ in range(N)` -> range(2) and `solver.step(N)` -> step(3) (100k iterations do not fit
     a test), each edit made exactly once;
   - each folder's nets: its train/val (trainval/test) prototxts thinned (trunk convolutions at 1/16 of their
     channels; the train net's Dropout layers left out: their masks are random streams that
     differ between Caffe and torch) with their Python data layers as they are; its solver.prototxt with
     `display: 1` (every iteration's loss in the log) and base_lr raised (LR) so that a few iterations move the
     weights visibly;
   - the weight files the scripts load, seeded (make_runtime.net_weight_array) for the thin nets: the ILSVRC
     nets (ilsvrc-nets/vgg16-fcn.caffemodel, alexnet-fcn.caffemodel, and color-d's vgg16fcn.prototxt with
     ../vgg16fc.caffemodel), each stage's predecessor (voc-fcn16s/voc-fcn16s.caffemodel, ...) and color-hha's
     sources under their stale names (nyud-rgb-32s/, nyud-hha-32s/) without their "up" layers (the scripts'
     interp overwrites every one of those after loading), infer.py's voc-fcn8s deploy net and
     fcn8s-heavy-pascal.caffemodel;
   - the VOC slip: solve.py loads ../data/segvalid11.txt; the tree holds that list under that name (the val ids);
   - each model folder's snapshot/ (Caffe refuses to build a solver whose snapshot_prefix folder is missing).
2. The oracle runs, from each model folder with the repository root on PYTHONPATH (as the reference's users ran
   them), `solve.py 0`; with the repository root as the working folder `infer.py`; and each net.py in a folder of
   its own. Two shims, both outside the scripts: set_mode_gpu()/set_device() stay on the CPU (the oracle is
   CPU-only; `python -m pycaffe --cpu` does the same), and numpy's genfromtxt reads text as str (numpy >= 2's
   default, the project's numpy; the oracle's numpy 1.26 reads bytes, on which pascalcontext_layers' str calls fail).
3. scripts.json: per solve.py its printed lines (score.py's, the datetime removed; surgery's), the log's
   "Iteration N, loss = X" / "Train net output" / "lr" lines, and the error it ended with (the NYUD scripts pass
   an undefined `val`, in Caffe too); infer.py's label map (demo/output.png: sha256 of its pixels and the count of
   each colour); each net.py's written files and their param_str lines as Python 3 writes them. (The rest of
   those files is compared with the reference's own files, which Caffe's pycaffe wrote under Python 2: the
   oracle's protobuf 4.21 (upb) prints a message's fields out of field-number order where a repeated field follows
   a scalar one, e.g. `stride` before `group` in voc-fcn-alexnet, where Caffe's and this project's printers do not.)
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'pycaffe', 'scripts.json')
REFERENCE = os.environ.get('FCN_REFERENCE', os.path.join(HERE, '..', '..', '..', 'shared', 'reference'))
ORACLE_ENV = os.environ.get('CAFFE_ORACLE_ENV', '/opt/caffe-oracle/env.sh')

FOLDERS = ('voc-fcn32s', 'voc-fcn16s', 'voc-fcn8s', 'voc-fcn8s-atonce', 'voc-fcn-alexnet', 'siftflow-fcn32s',
           'siftflow-fcn16s', 'siftflow-fcn8s', 'nyud-fcn32s-color', 'nyud-fcn32s-hha', 'nyud-fcn32s-color-d',
           'nyud-fcn32s-color-hha', 'pascalcontext-fcn32s', 'pascalcontext-fcn16s', 'pascalcontext-fcn8s')
ROOT_SCRIPTS = ('surgery.py', 'score.py', 'vis.py', 'infer.py', 'voc_layers.py', 'siftflow_layers.py',
                'nyud_layers.py', 'pascalcontext_layers.py')
LOOP_EDITS = ((r'for _ in range\(\d+\):', 'for _ in range(2):'), (r'solver\.step\(\d+\)', 'solver.step(3)'))
LR = {'voc-fcn-alexnet': 1e-4}      # base_lr of the thin runs (others: 1e-7; the reference's 1e-10..1e-14 and
DEFAULT_LR = 1e-7                    # a few iterations would change nothing a test could see)
DATA_SIZE = (30, 44)
THIN = 16                            # trunk channels / 16 (fewer make torch's CPU convolution backward slower)


# ------------------------------------------------------------------------------------------------ porting

_TOOL = []


def port(text, name='<script>'):
    """The Python 2 source as 2to3 (lib2to3's default fixers) writes it for Python 3."""
    if not _TOOL:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            from lib2to3 import refactor
        _TOOL.append(refactor.RefactoringTool(refactor.get_fixers_from_package('lib2to3.fixes')))
    return str(_TOOL[0].refactor_string(text if text.endswith('\n') else text + '\n', name))


def shorten_loop(text, folder):
    """solve.py with its loop lengths cut (LOOP_EDITS), each edit made exactly once."""
    for pattern, new in LOOP_EDITS:
        text, n = re.subn(pattern, new, text)
        if n != 1:
            raise ValueError(f'{folder}/solve.py: {pattern!r} occurs {n} times, expected once')
    return text


# ------------------------------------------------------------------------------------------------ the tree

def _mk():
    import importlib.util
    spec = importlib.util.spec_from_file_location('make_pycaffe', os.path.join(HERE, 'make_pycaffe.py'))
    mp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mp)
    return mp


def _read(path):
    from netspec import caffe_pb2
    from google.protobuf import text_format
    with open(path) as f:
        return text_format.Parse(f.read(), caffe_pb2.NetParameter())


def _write_net(path, net_param):
    from google.protobuf import text_format
    with open(path, 'w') as f:
        f.write(text_format.MessageToString(net_param))


def _seeded_weights(net_param, skip_up=False):
    """{layer: [arrays]} of make_runtime.net_weight_array for the learnable blobs of `net_param`; with skip_up,
    without the upsampling layers (the scripts overwrite every "up" layer by surgery.interp after loading)."""
    from netspec.shapes import param_shapes
    mk = _mk().mk
    inputs = {t: (1, 1 if t in mk.ONE_CHANNEL_TOPS else 3, 64, 64)
              for lp in net_param.layer if lp.type == 'Python' for t in lp.top}
    types = {lp.name: lp.type for lp in net_param.layer}
    out = {}
    for name, shapes in param_shapes(net_param, inputs).items():
        if not (skip_up and 'up' in name):
            out[name] = [mk.net_weight_array(name, types[name], i, s) for i, s in enumerate(shapes)]
    return out


def _net_files(folder):
    names = sorted(os.listdir(os.path.join(REFERENCE, folder)))
    train = 'train.prototxt' if 'train.prototxt' in names else 'trainval.prototxt'
    test = 'val.prototxt' if 'val.prototxt' in names else 'test.prototxt'
    return train, test


def thin_folder_nets(folder, dst):
    """The folder's thin train and test nets written into dst; returns them (NetParameters)."""
    from netspec import caffe_pb2
    mp = _mk()
    div = THIN
    train, test = _net_files(folder)
    nets = []
    for name, keep_dropout in ((train, False), (test, True)):
        net = mp.thin_copy(_read(os.path.join(REFERENCE, folder, name)), caffe_pb2, div, None, keep_dropout)
        _write_net(os.path.join(dst, name), net)
        nets.append(net)
    return nets


def _trunk(net_param, last='fc7'):
    """An Input-fed deploy copy of a net up to layer `last` (data only)."""
    from netspec import caffe_pb2
    out = caffe_pb2.NetParameter(name=net_param.name)
    for lp in net_param.layer:
        if lp.type == 'Python':
            layer = out.layer.add(name='input', type='Input')
            layer.top.append(lp.top[0])
            layer.input_param.shape.add().dim.extend([1, 3, 64, 64])
            continue
        out.layer.add().CopyFrom(lp)
        if lp.name == last:
            out.layer.add().CopyFrom([l for l in net_param.layer if l.type == 'ReLU' and l.bottom[0] == last][0])
            break
    return out


def build_tree(root):
    """The reference repository under root/fcn with synthetic data under root/data (see the module docstring).
    Returns root/fcn."""
    from datalayers import synthetic
    from weights import write_caffemodel
    from netspec import caffe_pb2
    mp = _mk()
    data = os.path.join(root, 'data')
    repo = os.path.join(root, 'fcn')
    os.makedirs(repo)
    voc = synthetic.make_voc(data, n_train=3, n_val=2, size=DATA_SIZE, seed=1)
    synthetic.make_siftflow(data, n_trainval=3, n_test=2, size=DATA_SIZE, seed=2)
    synthetic.make_nyud(data, n_train=2, n_val=1, n_test=2, size=DATA_SIZE, seed=3)
    synthetic.make_pascalcontext(data, n_train=3, n_val=2, size=DATA_SIZE, seed=4)
    with open(os.path.join(data, 'segvalid11.txt'), 'w') as f:     # the name VOC's solve.py loads
        f.write(''.join(i + '\n' for i in voc['splits']['seg11valid']))
    os.symlink('../data', os.path.join(repo, 'data'))
    for name in ROOT_SCRIPTS:
        with open(os.path.join(REFERENCE, name)) as f:
            text = port(f.read(), name)
        with open(os.path.join(repo, name), 'w') as f:
            f.write(text)
    nets = {}
    for folder in FOLDERS:
        dst = os.path.join(repo, folder)
        os.makedirs(os.path.join(dst, 'snapshot'))        # Caffe refuses a solver whose snapshot folder is missing
        for name in ('solve.py', 'net.py'):
            with open(os.path.join(REFERENCE, folder, name)) as f:
                text = port(f.read(), f'{folder}/{name}')
            if name == 'solve.py':
                text = shorten_loop(text, folder)
            with open(os.path.join(dst, name), 'w') as f:
                f.write(text)
        with open(os.path.join(REFERENCE, folder, 'solver.prototxt')) as f:
            solver = f.read()
        solver = re.sub(r'(?m)^display: \d+', 'display: 1', solver)
        solver = re.sub(r'(?m)^base_lr: \S+', f'base_lr: {LR.get(folder, DEFAULT_LR):g}', solver)
        with open(os.path.join(dst, 'solver.prototxt'), 'w') as f:
            f.write(solver)
        nets[folder] = thin_folder_nets(folder, dst)

    def save(path, arrays):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_caffemodel(path, arrays)

    vgg = _trunk(nets['voc-fcn32s'][0])
    vgg_arrays = _seeded_weights(vgg)
    save(os.path.join(repo, 'ilsvrc-nets', 'vgg16-fcn.caffemodel'), vgg_arrays)
    alex = _trunk(nets['voc-fcn-alexnet'][0])
    save(os.path.join(repo, 'ilsvrc-nets', 'alexnet-fcn.caffemodel'), _seeded_weights(alex))
    _write_net(os.path.join(repo, 'ilsvrc-nets', 'vgg16fcn.prototxt'), vgg)           # nyud color-d's base net
    save(os.path.join(repo, 'vgg16fc.caffemodel'), vgg_arrays)
    for stage, file in (('voc-fcn32s', 'voc-fcn32s'), ('voc-fcn16s', 'voc-fcn16s'),
                        ('siftflow-fcn32s', 'siftflow-fcn32s'), ('siftflow-fcn16s', 'siftflow-fcn16s'),
                        ('pascalcontext-fcn32s', 'pascalcontext-fcn32s'),
                        ('pascalcontext-fcn16s', 'pascalcontext-fcn16s')):
        save(os.path.join(repo, stage, f'{file}.caffemodel'), _seeded_weights(nets[stage][0], skip_up=True))
    for src, stale, weights in (('nyud-fcn32s-color', 'nyud-rgb-32s', 'nyud-rgb-32s-28k'),
                                ('nyud-fcn32s-hha', 'nyud-hha-32s', 'nyud-hha-32s-60k')):
        dst = os.path.join(repo, stale)
        os.makedirs(dst)
        train, _ = thin_folder_nets(src, dst)
        save(os.path.join(dst, f'{weights}.caffemodel'), _seeded_weights(train, skip_up=True))
    # infer.py: the demo image, the thin deploy net and its weights
    os.makedirs(os.path.join(repo, 'demo'))
    shutil.copy(os.path.join(REFERENCE, 'demo', 'image.jpg'), os.path.join(repo, 'demo', 'image.jpg'))
    deploy = mp.thin_copy(_read(os.path.join(REFERENCE, 'voc-fcn8s', 'deploy.prototxt')), caffe_pb2, THIN)
    _write_net(os.path.join(repo, 'voc-fcn8s', 'deploy.prototxt'), deploy)
    save(os.path.join(repo, 'voc-fcn8s', 'fcn8s-heavy-pascal.caffemodel'), _seeded_weights(deploy))
    return repo


# ------------------------------------------------------------------------------------------------ reading a run

_DATETIME = re.compile(r'^>>> \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? ')
_LOG = re.compile(r'(Iteration \d+)(?: \([^)]*\))?, (loss|lr) = (\S+)|(Train net output #\d+: .*)')


def printed_lines(stdout):
    """The script's printed lines, datetime.now() taken out of score.py's."""
    return [_DATETIME.sub('>>> ', line) for line in stdout.splitlines() if line.strip()]


def log_lines(log):
    """The solver log's loss / lr / train-output lines, glog prefixes and Caffe's speed figures taken out."""
    out = []
    for line in log.splitlines():
        m = _LOG.search(line)
        if m:
            out.append(m.group(4) if m.group(4) else f'{m.group(1)}, {m.group(2)} = {m.group(3)}')
    return out


_NUMBER = re.compile(r'^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^nan$|^inf$')


def _tokens(line):
    return re.findall(r"[-+]?\d+\.?\d*(?:[eE][-+]?\d+)?|[A-Za-z_]+|\S", line)


def same_lines(ours, caffe, rtol):
    """Whether two lists of lines agree: words exactly, numbers within rtol (relative, or rtol absolute near 0).
    Returns (True, '') or (False, a message naming the first difference)."""
    if len(ours) != len(caffe):
        return False, f'{len(ours)} lines, Caffe {len(caffe)}: first ours {ours[:3]}, Caffe {caffe[:3]}'
    for a, b in zip(ours, caffe):
        ta, tb = _tokens(a), _tokens(b)
        if len(ta) != len(tb):
            return False, f'{a!r} != Caffe {b!r}'
        for x, y in zip(ta, tb):
            if _NUMBER.match(x) and _NUMBER.match(y):
                fx, fy = float(x), float(y)
                if not (abs(fx - fy) <= rtol * max(abs(fy), 1.0) or (np.isnan(fx) and np.isnan(fy))):
                    return False, f'{a!r} != Caffe {b!r} ({x} vs {y})'
            elif x != y:
                return False, f'{a!r} != Caffe {b!r}'
    return True, ''


def label_map_summary(png):
    """sha256 of the pixels of a written label map and the count of each colour."""
    from PIL import Image
    arr = np.array(Image.open(png).convert('RGB'))
    colours, counts = np.unique(arr.reshape(-1, 3), axis=0, return_counts=True)
    return {'sha256': hashlib.sha256(arr.tobytes()).hexdigest(), 'shape': list(arr.shape),
            'counts': {','.join(map(str, c)): int(n) for c, n in zip(colours, counts)}}


def written_files(folder):
    """{prototxt written in folder: the param_str lines in it, as written}."""
    out = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith('.prototxt'):
            with open(os.path.join(folder, name)) as f:
                out[name] = re.findall(r'param_str: ".*"', f.read())
    return out


# ------------------------------------------------------------------------------------------------ the oracle

ORACLE_RUNNER = r'''
import os, runpy, sys
import numpy as np
import caffe
_gft = np.genfromtxt
def genfromtxt(*a, **k):
    k.setdefault('encoding', None)          # numpy >= 2's default (str, not bytes)
    return _gft(*a, **k)
np.genfromtxt = genfromtxt
caffe.set_mode_gpu = caffe.set_mode_cpu     # the oracle is CPU-only
caffe.set_device = lambda i: None
script, repo, args = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.argv = [script] + args
sys.path[:0] = [os.path.dirname(os.path.abspath(script)), repo]
runpy.run_path(script, run_name='__main__')
'''


def oracle_run(repo, cwd, script, args=()):
    """Run a script with the real Caffe: (stdout, stderr, error line or '')."""
    with tempfile.NamedTemporaryFile('w', suffix='.py', delete=False) as f:
        f.write(ORACLE_RUNNER)
        runner = f.name
    try:
        cmd = f'source {ORACLE_ENV} && export GLOG_minloglevel=0 && python {runner} ' + ' '.join(
            [script, repo] + list(args))
        p = subprocess.run(['bash', '-c', cmd], cwd=cwd, capture_output=True, text=True, timeout=1800)
    finally:
        os.unlink(runner)
    error = ''
    if p.returncode:
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        error = lines[-1] if lines else f'exit status {p.returncode}'
    return p.stdout, p.stderr, error


def make():
    sys.path.insert(0, os.path.abspath(os.path.join(HERE, '..', '..')))
    result = {'solve': {}, 'net_py': {}}
    with tempfile.TemporaryDirectory() as root:
        repo = build_tree(root)
        for folder in FOLDERS:
            out, err, error = oracle_run(repo, os.path.join(repo, folder), 'solve.py', ['0'])
            result['solve'][folder] = {'printed': printed_lines(out), 'log': log_lines(err), 'error': error}
            print(f'{folder}: {len(log_lines(err))} log lines, error {error!r}', flush=True)
        out, err, error = oracle_run(repo, repo, 'infer.py')
        if error:
            raise RuntimeError(f'infer.py failed in the oracle: {error}\n{err[-3000:]}')
        result['infer'] = label_map_summary(os.path.join(repo, 'demo', 'output.png'))
        for folder in FOLDERS:
            work = os.path.join(root, 'netpy', folder)
            os.makedirs(work)
            shutil.copy(os.path.join(repo, folder, 'net.py'), work)
            out, err, error = oracle_run(repo, work, 'net.py')
            if error:
                raise RuntimeError(f'{folder}/net.py failed in the oracle: {error}')
            result['net_py'][folder] = written_files(work)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(result, f, indent=1, sort_keys=True)
    print(f'wrote {OUT}')


if __name__ == '__main__':
    make()
