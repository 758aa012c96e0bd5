"""The reference training recipes (each folder's solve.py), as a library function: `train(folder, ...)`.

solve.py's pattern: build the solver from the folder's solver.prototxt, initialize (copy_from the base or
previous-stage weights), write bilinear kernels into every layer whose name contains "up" (surgery.interp), then
loop: step(K) and score the eval split with the scoring library (SIFT Flow: both heads). Lengths and intervals are
FACTS.md's table: 100k iterations for VOC, SIFT Flow and NYUD (300k at-once), 400k PASCAL-Context.

The reference scripts' slips are fixed rather than copied: the eval ids come from the test net's own data layer
(its split file), not from the misnamed ../data/segvalid11.txt (VOC) or the undefined `val` (NYUD), and SIFT Flow's
semantic head is also reported without the classes absent from its test set (cow, desert, moon), as the paper does.
"""
import dataclasses
import os
import sys
import time

from datalayers.params import map_param_strs, rebase_path
from netspec import caffe_pb2, read_net, read_solver, write_text

from .logs import log
from .param import load_param


@dataclasses.dataclass(frozen=True)
class Recipe:
    iters: int          # total training iterations of the reference solve.py loop
    score_every: int    # K of its step(K) / seg_tests loop
    init: str           # what solve.py initializes from


_VGG = 'the convolutionalized VGG16 (ilsvrc-nets/vgg16-fcn.caffemodel, from tools/surgery.py)'
RECIPES = {
    'voc-fcn32s': Recipe(100000, 4000, _VGG),
    'voc-fcn16s': Recipe(100000, 4000, 'voc-fcn32s trained weights'),
    'voc-fcn8s': Recipe(100000, 4000, 'voc-fcn16s trained weights'),
    'voc-fcn8s-atonce': Recipe(300000, 4000, _VGG),
    'voc-fcn-alexnet': Recipe(100000, 4000, 'ilsvrc-nets/alexnet-fcn.caffemodel'),
    'siftflow-fcn32s': Recipe(100000, 2000, _VGG),
    'siftflow-fcn16s': Recipe(100000, 2000, 'siftflow-fcn32s trained weights'),
    'siftflow-fcn8s': Recipe(100000, 2000, 'siftflow-fcn16s trained weights'),
    'nyud-fcn32s-color': Recipe(100000, 2000, _VGG),
    'nyud-fcn32s-hha': Recipe(100000, 2000, _VGG),
    'nyud-fcn32s-color-d': Recipe(100000, 2000, 'VGG16 by transplant + a 4th input channel (tools/surgery.py)'),
    'nyud-fcn32s-color-hha': Recipe(100000, 2000, 'trained color and HHA FCN-32s by transplant (tools/surgery.py)'),
    'pascalcontext-fcn32s': Recipe(400000, 8000, _VGG),
    'pascalcontext-fcn16s': Recipe(400000, 8000, 'pascalcontext-fcn32s trained weights'),
    'pascalcontext-fcn8s': Recipe(400000, 8000, 'pascalcontext-fcn16s trained weights'),
    'voc-fcn32s-fixed': Recipe(100000, 4000, _VGG),
    'voc-fcn-googlenet': Recipe(100000, 4000, 'a convolutionalized GoogLeNet'),
}


def recipe(folder):
    name = os.path.basename(os.path.normpath(os.fspath(folder)))
    try:
        return name, RECIPES[name]
    except KeyError:
        raise KeyError(f'{folder}: no reference recipe for a folder named {name!r}; known: '
                       f'{", ".join(sorted(RECIPES))}') from None


def prepare_folder(folder, width=1.0, num_classes=None):
    """The folder's solver.prototxt path; its nets and solver are written with netspec.models when absent."""
    folder = os.fspath(folder)
    path = os.path.join(folder, 'solver.prototxt')
    if os.path.exists(path):
        if width != 1.0 or num_classes is not None:
            log.warning('%s exists: its nets are used as they are (width/num_classes apply to new folders only)',
                        path)
        return path
    from netspec import models
    name, _ = recipe(folder)
    os.makedirs(folder, exist_ok=True)
    for fname, msg in models.make_folder(name, width=width, num_classes=num_classes).items():
        target = os.path.join(folder, fname)
        if not os.path.exists(target):
            write_text(msg, target)
    log.info('Wrote the %s nets and solver into %s (width %g)', name, folder, width)
    return path


def _data_dir(value, folder, data_root):
    """A data layer's *_dir: under `data_root` (replacing the reference's ../data prefix), else resolved against
    the model folder (the reference runs solve.py inside it)."""
    if os.path.isabs(value):
        return value
    if data_root:
        return rebase_path(value, os.path.abspath(data_root))
    return os.path.normpath(os.path.join(os.path.abspath(folder), value))


def with_data_root(net_param, folder, data_root=None):
    """A copy of the net whose Python data layers' *_dir paths are absolute (see _data_dir)."""
    def rebase(params):
        keys = [k for k, v in params.items() if k.endswith('_dir') and isinstance(v, str)]
        for k in keys:
            params[k] = _data_dir(params[k], folder, data_root)
        return params if keys else None
    return map_param_strs(net_param, rebase)


def solver_param(folder, data_root=None, out=None, **overrides):
    """The folder's SolverParameter with inline nets (data paths made absolute) and snapshot_prefix under `out`."""
    folder = os.path.abspath(os.fspath(folder))
    path = os.path.join(folder, 'solver.prototxt')
    param, _ = load_param(path)
    p = caffe_pb2.SolverParameter()
    p.CopyFrom(param)
    if p.HasField('train_net') or p.HasField('net'):
        src = p.train_net if p.HasField('train_net') else p.net
        p.train_net_param.CopyFrom(with_data_root(read_net(src), folder, data_root))
    tests = [with_data_root(read_net(t), folder, data_root) for t in p.test_net]
    tests = [with_data_root(t, folder, data_root) for t in p.test_net_param] + tests
    for f in ('train_net', 'net', 'test_net', 'test_net_param'):
        p.ClearField(f)
    for t in tests:
        p.test_net_param.add().CopyFrom(t)
    raw = read_solver(path)
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


def score(solver, folder, out=sys.stdout, progress=None, save_format=None):
    """Score test net 0 (sharing the train net's weights) over its whole split, every head; print the
    reference's lines and return {head gt: {metric: value}} (fractions)."""
    from scoring import compute_hists, format_seg_tests, heads, scores
    from scoring.classes import excluded_classes
    import torch
    solver.share_weights()
    net = solver.test_nets[0]
    pairs = heads(net.net_param)
    ids = eval_ids(net, solver.param.test_iter[0])
    save_dir = save_format.format(solver.iter) if save_format else None
    print('>>>', time.strftime('%Y-%m-%d %H:%M:%S'), 'Begin seg tests', file=out)
    with torch.no_grad():
        results = compute_hists(net, ids, pairs, save_dir=save_dir,
                                progress=sys.stderr.isatty() if progress is None else progress)
    report = {}
    for (layer, gt, _), (hist, loss) in zip(pairs, results):
        for line in format_seg_tests(solver.iter, loss, hist):
            print(line, file=out)
        s = scores(hist)
        entry = {'loss': loss, 'overall_acc': s['overall_acc'], 'mean_acc': s['mean_acc'],
                 'mean_iu': s['mean_iu'], 'fwavacc': s['fwavacc'], 'hist': hist}
        exclude = excluded_classes(folder, gt)
        if exclude:
            e = scores(hist, exclude)
            entry['paper'] = {k: e[k] for k in ('overall_acc', 'mean_acc', 'mean_iu', 'fwavacc')}
            print(f'>>> {gt} without the classes absent from the split {list(exclude)}: mean IU {e["mean_iu"]}',
                  file=out)
        report[gt] = entry
    out.flush()
    return report


def initialize(solver, weights=None):
    """solve.py's initialization: copy_from `weights` (by layer name, Caffe's rules), then interp on every
    layer whose name contains "up". Returns the interpolated layer names."""
    from weights.surgery import interp
    if weights:
        copied = solver.net.copy_from(weights) or []
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
          num_classes=None, out=None, progress=None, seed=None, stdout=sys.stdout, on_score=None, **overrides):
    """Run a folder's reference recipe; returns (solver, [(iteration, score report)]).

    folder: a model folder named as the reference's (voc-fcn32s, ...), written with netspec.models if it has no
    solver.prototxt. weights: the initialization (copy_from). data: the data root (the reference's ../data).
    iters / score_every: default to the recipe's. resume: a .solverstate to continue from (its weights, history,
    iteration and random states). out: where snapshots go (default: the folder). overrides: SolverParameter fields
    (e.g. base_lr, snapshot). on_score(iteration, report) is called after each scoring.
    """
    from .solver import get_solver
    name, rec = recipe(folder)
    prepare_folder(folder, width=width, num_classes=num_classes)
    param = solver_param(folder, data_root=data, out=out, random_seed=seed, **overrides)
    solver = get_solver(param, device=device, progress_bar=progress)
    if resume:
        solver.restore(resume)
    else:
        initialize(solver, weights)
    total = rec.iters if iters is None else int(iters)
    every = rec.score_every if score_every is None else int(score_every)
    log.info('%s: training to iteration %d, scoring every %d (init: %s)', name, total, every,
             weights or ('resumed from ' + str(resume) if resume else 'the net\'s fillers'))
    history = []
    while solver.iter < total:
        n = min(every - solver.iter % every if every else total, total - solver.iter)
        solver.step(n)
        if solver.requested_early_exit:
            break
        if solver.rank == 0 and solver.test_nets and (every and solver.iter % every == 0 or solver.iter == total):
            report = score(solver, folder, out=stdout, progress=progress)
            history.append((solver.iter, report))
            if on_score:
                on_score(solver.iter, report)
    return solver, history
