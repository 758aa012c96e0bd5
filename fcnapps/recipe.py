"""The reference training recipes (each folder's solve.py), as a library function: `train(folder, ...)`.

solve.py's pattern: build the solver from the folder's solver.prototxt, initialize (copy_from the base or
previous-stage weights), write bilinear kernels into every layer whose name contains "up" (surgery.interp), then
loop: step(K) and score the eval split with scoring's seg_tests (SIFT Flow: both heads). Lengths, intervals and
initializations are the model folders' records (netspec.models.Folder): 100k iterations
for VOC, SIFT Flow and NYUD (300k at-once), 400k PASCAL-Context.

The reference scripts' slips are fixed rather than copied: the eval ids come from the test net's own data layer
(its split file), not from the misnamed ../data/segvalid11.txt (VOC) or the undefined `val` (NYUD), and SIFT Flow's
semantic head is also reported without the classes absent from its test set (cow, desert, moon), as the paper does.
"""
import contextlib
import os
import sys
import types

from netspec import models, read_net, read_solver
from netspec.param_str import dir_keys, map_param_strs, rebase_path
from scoring import METRICS, heads, scores, seg_tests_heads
from scoring.classes import dataset_family, excluded_classes
from solvers import distributed, get_solver, load_param, snapshots
from solvers.logs import log
from weights.surgery import interp

__all__ = ['RECIPES', 'recipe', 'prepare_folder', 'with_data_root', 'solver_param', 'eval_ids', 'score',
           'initialize', 'train', 'run_loop', 'snapshot_lock']

#: the model folders' records by name (netspec.models.Folder: iters, score_every, init, family, ...), which hold
#: the reference solve.py loops; the name recipes look up
RECIPES = types.MappingProxyType({name: models.folder(name) for name in models.FOLDERS})


def recipe(folder):
    """(name, Folder record) of a model folder given by name or path; KeyError for a folder of another name."""
    name = models.folder_name(folder)
    record = models.find_folder(name)
    if record is None:
        raise KeyError(f'{folder}: no reference recipe for a folder named {name!r}; known: '
                       f'{", ".join(sorted(models.FOLDERS))}')
    return name, record


def prepare_folder(folder, width=1.0, num_classes=None):
    """The folder's solver.prototxt path; its nets and solver are written as fcn-make-nets writes them
    (netspec.models.write_folder) when it has no solver.prototxt (files it has are kept)."""
    folder = os.fspath(folder)
    path = os.path.join(folder, 'solver.prototxt')
    if os.path.exists(path):
        if width != 1.0 or num_classes is not None:
            log.warning('%s exists: its nets are used as they are (width/num_classes apply to new folders only)',
                        path)
        return path
    name, _ = recipe(folder)
    models.write_folder(name, folder, keep=True, width=width, num_classes=num_classes)
    log.info('Wrote the %s nets and solver into %s (width %g)', name, folder, width)
    return path


def _data_dir(value, folder, data_root):
    """A data layer's *_dir: under `data_root` (replacing the reference's ../data prefix; see rebase_path), else
    resolved against the model folder (the reference runs solve.py inside it)."""
    if data_root:
        return rebase_path(value, os.path.abspath(data_root))
    return os.path.normpath(os.path.join(os.path.abspath(folder), value))


def with_data_root(net_param, folder, data_root=None):
    """A copy of the net whose Python data layers' *_dir paths are absolute (see _data_dir)."""
    def rebase(params):
        keys = dir_keys(params)
        for k in keys:
            params[k] = _data_dir(params[k], folder, data_root)
        return params if keys else None
    return map_param_strs(net_param, rebase)


def solver_param(folder, data_root=None, out=None, **overrides):
    """The folder's SolverParameter with inline nets (data paths made absolute) and snapshot_prefix under `out`."""
    folder = os.path.abspath(os.fspath(folder))
    path = os.path.join(folder, 'solver.prototxt')
    raw = read_solver(path)     # the one parse of the file in a run; get_solver checks the message it is given
    p, _ = load_param(raw, base_dir=folder, where=path)
    if p.HasField('train_net') or p.HasField('net'):
        src = p.train_net if p.HasField('train_net') else p.net
        p.train_net_param.CopyFrom(with_data_root(read_net(src), folder, data_root))
    tests = [with_data_root(read_net(t), folder, data_root) for t in p.test_net]
    tests = [with_data_root(t, folder, data_root) for t in p.test_net_param] + tests
    for f in ('train_net', 'net', 'test_net', 'test_net_param'):
        p.ClearField(f)
    for t in tests:
        p.test_net_param.add().CopyFrom(t)
    out = os.path.abspath(os.fspath(out or folder))
    prefix = raw.snapshot_prefix or 'snapshot/train'
    p.snapshot_prefix = prefix if os.path.isabs(prefix) else os.path.join(out, prefix)
    for k, v in overrides.items():
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            getattr(p, k)[:] = list(v)
        else:
            setattr(p, k, v)
    return p


def eval_ids(test_net, fallback):
    """The ids of the test net's split, from its data layer (the reference attribute `indices`)."""
    for layer in getattr(test_net, 'layers', []):
        impl = getattr(layer, 'impl', None)
        ids = getattr(impl, 'indices', None)
        if ids:
            return list(ids)
    return int(fallback)


def score(solver, folder, out=None, progress=None, save_format=None):
    """Score test net 0 (sharing the train net's weights) over its whole split, every head, through scoring's
    seg_tests; print the reference's lines (and, for a head with classes absent from the split, its mean IU
    without them) and return {head gt: {metric: value}} (fractions; 'paper': the metrics without those classes)."""
    out = out or sys.stdout    # looked up now: sys.stdout may have been replaced since the import
    net = solver.test_nets[0]
    pairs = heads(net.net_param)
    family = dataset_family(net.net_param, folder)
    absent = {gt: excluded_classes(family, gt) for _, gt, _ in pairs}
    results = seg_tests_heads(solver, save_format, eval_ids(net, solver.param.test_iter[0]), pairs,
                              absent=absent, out=out, progress=sys.stderr.isatty() if progress is None else progress)
    report = {}
    for (layer, gt, _), (hist, loss) in zip(pairs, results):
        s = scores(hist)
        entry = {'loss': loss, **{k: s[k] for k in METRICS}, 'hist': hist}
        if absent[gt]:
            e = scores(hist, absent[gt])
            entry['paper'] = {k: e[k] for k in METRICS}
        report[gt] = entry
    out.flush()
    return report


def initialize(solver, weights=None):
    """solve.py's initialization: copy_from `weights` (by layer name, Caffe's rules), then interp on every
    layer whose name contains "up". Returns the interpolated layer names."""
    if weights:
        copied = solver.net.copy_from(weights) or []
        for name in getattr(copied, 'ignored', ()):
            log.info('Ignoring source layer %s', name)   # Caffe's CopyTrainedLayersFrom says so for each
        rest = [k for k in solver.net.params if k not in copied and 'up' not in k]
        log.info('Initialized %d layers from %s', len(copied), weights)
        if rest:
            log.warning('Layers not in %s keep their fillers (zero unless the prototxt sets one): %s', weights,
                        ', '.join(rest))
    layers = [k for k in solver.net.params if 'up' in k]
    if layers:
        interp(solver.net, layers)
    return layers


def train(folder, weights=None, data=None, device='cpu', iters=None, score_every=None, resume=None, width=1.0,
          num_classes=None, out=None, progress=None, seed=None, stdout=None, on_score=None, **overrides):
    """Run a folder's reference recipe; returns (solver, [(iteration, score report)]).

    folder: a model folder named as the reference's (voc-fcn32s, ...), written with netspec.models if it has no
    solver.prototxt. weights: the initialization (copy_from). data: the data root (the reference's ../data).
    iters / score_every: default to the recipe's. resume: a .solverstate to continue from (its weights, history,
    iteration and random states). out: where snapshots go (default: the folder). overrides: SolverParameter fields
    (e.g. base_lr, snapshot). on_score(iteration, report) is called after each scoring.

    The log is Caffe's Solve's: `Solving NAME` first, a last snapshot unless the last iteration was one
    (snapshot_after_train), `Optimization Done.`; the snapshot folder is created.
    """
    name, rec = recipe(folder)
    prepare_folder(folder, width=width, num_classes=num_classes)
    param = solver_param(folder, data_root=data, out=out, random_seed=seed, **overrides)
    return run_loop(param, folder, name, rec.iters if iters is None else iters,
                    rec.score_every if score_every is None else score_every, weights=weights, resume=resume,
                    device=device, progress=progress, stdout=stdout, on_score=on_score)


def run_loop(param, folder, name, iters, score_every, weights=None, resume=None, device='cpu', progress=None,
             stdout=None, on_score=None):
    """The solve.py loop on a SolverParameter (solver_param's): initialize from `weights` (or restore `resume`),
    then step(score_every) and score the eval split, to `iters`; Caffe's Solve log and last snapshot. `name` is the
    run's name in the log. Returns (solver, [(iteration, score report)]); the body of train(), and of any recipe
    whose folder is not a reference one (fcnapps.owndata)."""
    lock = snapshot_lock(param)
    with lock:
        solver = get_solver(param, device=device, progress_bar=progress)
        solver.log_start()
        if resume:
            solver.restore(resume)
        else:
            initialize(solver, weights)
        total = int(iters)
        every = int(score_every) if score_every else 0
        log.info('%s: training to iteration %d, scoring every %d (init: %s)', name, total, every,
                 weights or ('resumed from ' + str(resume) if resume else 'the net\'s fillers'))
        history = []
        while solver.iter < total:
            n = min(every - solver.iter % every if every else total, total - solver.iter)
            solver.step(n)
            if solver.requested_early_exit:
                break
            if solver.rank == 0 and solver.test_nets and (every and solver.iter % every == 0 or solver.iter == total):
                # as Caffe's Test under Solve: a Ctrl-C while scoring stops it, snapshots and ends the run
                report = solver.interruptible(score, solver, folder, out=stdout, progress=progress)
                if solver.requested_early_exit:
                    break
                if report is None:
                    continue
                history.append((solver.iter, report))
                if on_score:
                    on_score(solver.iter, report)
        if not solver.requested_early_exit:
            solver.snapshot_after_train()
            log.info('Optimization Done.')
    return solver, history


def snapshot_lock(param):
    """The lock on the run's snapshot prefix (solvers.snapshots.SnapshotLock), held by the process that writes
    snapshots (rank 0); other ranks get a lock that does nothing."""
    rank, _ = distributed.world()
    return snapshots.SnapshotLock(param.snapshot_prefix) if rank == 0 else contextlib.nullcontext()
