"""The FCN recipe on a user's own dataset (the logic behind tools/own.py, `fcn-own`): model folders for a dataset
description (datalayers.own), surgery from an ILSVRC classifier, staged training 32s -> 16s -> 8s in one resumable
run, and the per-stage mean IU table.

A run folder (`fcn-own nets DATASET.json RUN`) holds one model folder per stage (fcn32s, fcn16s, fcn8s for VGG16;
fcn-alexnet or fcn-googlenet), each with train.prototxt / val.prototxt (data from OwnSegDataLayer reading the
description), deploy.prototxt (an Input of the dataset's channels) and solver.prototxt, and `recipe.json`, the
run's record (dataset, trunk, width, stages with their iterations, scoring interval and rate). A stage's nets are
the reference folder's (netspec.models.Folder: voc-fcn32s, voc-fcn16s, voc-fcn8s, voc-fcn-alexnet,
voc-fcn-googlenet) built by the same generators with the dataset's class count, data layer and channels.

The recipe scaled to the dataset: the reference trains VOC for 100000 iterations of one image over SBD's 8498
training images (REFERENCE_EPOCHS = 11.8 passes) and scores 25 times (every 4000 iterations); a stage here runs
the same number of passes over the dataset's training images and scores as often. The rates are the reference
folders' (fixed, summed loss, momentum 0.99; FCN-AlexNet's normalized loss, 0.9 and iter_size 20), times
`lr_scale` (default 1): see RATES_HELP.
"""
import contextlib
import dataclasses
import glob
import json
import logging
import math
import os
import re

import numpy as np

from netspec import caffe_pb2, read_net
from netspec.atomic import atomic_file
from netspec.models import OWN_LAYER, folder as reference_folder, input_data, make_solver, python_data, write_files
from netspec.table1 import CLASSIFIER_LAYERS
from solvers.feeds import shuffled_batches
from solvers.logs import GlogFormatter, log
from solvers.snapshots import snapshot_files
from weights.errors import WeightsError
from weights.surgery import interp, mean_channels, source_arrays, transplant, with_input_layers

from .recipe import run_loop, score, solver_param
from .report import write_json

__all__ = ['ARCHS', 'REFERENCE_EPOCHS', 'SBD_TRAIN_IMAGES', 'RATES_HELP', 'Stage', 'scaled_loop', 'stage_nets',
           'make_run', 'write_run', 'read_run', 'classifier_surgery', 'fit_first_conv', 'latest_snapshot',
           'train_stages', 'stage_table', 'write_scores', 'stage_log', 'score_run', 'infer_run', 'make_classifier',
           'object_crops', 'classification_set', 'classifier_accuracy', 'CLASSIFIER_CROPS',
           'confusion_png', 'palette_of', 'own_readers', 'RUN_FILE', 'DONE_FILE']

#: the trunks and their stages: stage folder name -> the reference model folder whose nets and solver it takes
ARCHS = {
    'vgg16': (('fcn32s', 'voc-fcn32s'), ('fcn16s', 'voc-fcn16s'), ('fcn8s', 'voc-fcn8s')),
    'alexnet': (('fcn-alexnet', 'voc-fcn-alexnet'),),
    'googlenet': (('fcn-googlenet', 'voc-fcn-googlenet'),),
}
#: the Table 1 name of each trunk (netspec.table1: the classifier layers surgery discards)
TABLE1_NAME = {'vgg16': 'FCN-VGG16', 'alexnet': 'FCN-AlexNet', 'googlenet': 'FCN-GoogLeNet'}
#: SBD's training split, the images voc-fcn32s/16s/8s train on
SBD_TRAIN_IMAGES = 8498
#: the passes over its training images of a reference VOC stage: 100000 iterations of one image
REFERENCE_EPOCHS = reference_folder('voc-fcn32s').iters / SBD_TRAIN_IMAGES
RUN_FILE = 'recipe.json'
DONE_FILE = 'final.json'

RATES_HELP = """\
Rates: the reference's fixed rates are the default (FCN-32s 1e-10, FCN-16s 1e-12, FCN-8s 1e-14, FCN-GoogLeNet
1e-10, momentum 0.99; FCN-AlexNet 1e-4 with momentum 0.9 and 20 images per step). They go with the loss the
reference sums over every pixel of an image rather than averages: the gradient grows with the pixels per image, so
1e-10 is tuned for PASCAL's ~500x375 images, full-width nets and ImageNet features; momentum 0.99 with one image
a step is the paper's "heavy" learning (about momentum 0.9 over batches of 20). Each later stage trains at a
100x lower rate, as the reference's voc-fcn16s and voc-fcn8s do. On much smaller
images the same rates move the weights less: --lr-scale F multiplies every stage's rate (images of 64x96 pixels
carry ~30x fewer pixels than PASCAL's). The paper chose each rate by line search; do the same on your val split.
Length: each stage makes as many passes over the training images as the reference's VOC stages (100000
iterations over SBD's 8498 images: 11.8 epochs) and scores the val split 25 times, as the reference's solve.py
does (every 4000 iterations); --epochs, --iters and --score-every change that."""


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a run: its folder name, the reference folder it follows, its loop and its rate."""
    name: str
    reference: str
    iters: int
    score_every: int
    base_lr: float


def scaled_loop(train_images, epochs=None, iters=None, score_every=None):
    """(iterations, scoring interval) of a stage on `train_images` images: `epochs` passes (default
    REFERENCE_EPOCHS), scoring as often as the reference (25 times a stage); explicit values win."""
    ref = reference_folder('voc-fcn32s')
    if iters is None:
        iters = max(1, int(round((REFERENCE_EPOCHS if epochs is None else epochs) * train_images)))
    if score_every is None:
        score_every = max(1, int(math.ceil(iters / (ref.iters // ref.score_every))))
    return int(iters), int(score_every)


def _data_source(family, description, split):
    layer, = family.layers
    param = {'description': os.path.abspath(description), 'split': split, 'seed': 1337, 'randomize': True}
    return python_data(layer.module, layer.layer, param, tops=('data', 'label'), labels=('label',))


def stage_nets(family, description, reference, width=1.0):
    """{file name: NetParameter} of one stage: the reference folder's nets (its builder and options) with the
    family's class count, its data layer reading `description` (train / val splits of the family) and a deploy
    net whose Input has the family's image channels."""
    rec = reference_folder(reference)
    (_, channels), = family.inputs
    (train_file, train_split), (eval_file, eval_split) = family.nets
    kw = dict(num_classes=family.num_classes, width=width, **rec.builder_kw)
    return {train_file: rec.builder(_data_source(family, description, train_split), **kw),
            eval_file: rec.builder(_data_source(family, description, eval_split), **kw),
            'deploy.prototxt': rec.builder(input_data((1, channels, 500, 500)), **kw)}


def stage_solver(family, stage):
    """The stage's SolverParameter: the reference folder's settings, its loop's length and a snapshot at each
    scoring (snapshot/train_iter_N), the rate times the run's scale."""
    rec = reference_folder(stage.reference)
    settings = {k: v for k, v in rec.solver.items() if k not in ('base_lr', 'max_iter', 'snapshot')}
    (train_file, _), (eval_file, _) = family.nets
    return make_solver(train_file, eval_file, test_iter=family.eval_images, base_lr=stage.base_lr,
                       max_iter=stage.iters, snapshot=stage.score_every, **settings)


def make_run(family, description, train_images, arch='vgg16', width=1.0, epochs=None, iters=None,
             score_every=None, lr_scale=1.0):
    """The run's record (what recipe.json holds) for a dataset family read from `description`."""
    if arch not in ARCHS:
        raise KeyError(f'unknown trunk {arch!r}; known: {", ".join(ARCHS)}')
    if not width > 0 or not lr_scale > 0:
        raise ValueError(f'width and lr_scale must be positive, not {width!r} and {lr_scale!r}')
    n, every = scaled_loop(train_images, epochs, iters, score_every)
    stages = [Stage(name, ref, n, every, reference_folder(ref).solver['base_lr'] * lr_scale)
              for name, ref in ARCHS[arch]]
    (head,) = family.heads
    (_, channels), = family.inputs
    return {'dataset': os.path.abspath(description), 'name': family.name, 'classes': list(head.classes),
            'channels': channels, 'train_images': train_images, 'val_images': family.eval_images, 'arch': arch,
            'width': width, 'lr_scale': lr_scale, 'stages': [dataclasses.asdict(s) for s in stages]}


def write_run(run, family, out_dir):
    """Write every stage's folder and recipe.json into out_dir; returns the paths written."""
    paths = []
    for s in run['stages']:
        stage = Stage(**s)
        files = stage_nets(family, run['dataset'], stage.reference, width=run['width'])
        files['solver.prototxt'] = stage_solver(family, stage)
        paths += write_files(os.path.join(out_dir, stage.name), files)
    path = os.path.join(out_dir, RUN_FILE)
    write_json(run, path, 'run record')
    return paths + [path]


def read_run(out_dir):
    """The run record of a run folder (recipe.json); OSError naming the file when it is missing or not one."""
    path = os.path.join(out_dir, RUN_FILE)
    try:
        with open(path) as f:
            run = json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f'{path}: no run record; write the run folder first with `fcn-own nets DATASET '
                                f'{out_dir}`') from None
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: not a JSON run record ({e})') from None
    if not isinstance(run, dict) or not run.get('stages'):
        raise ValueError(f'{path}: not a run record (no stages)')
    return run


def write_scores(out_dir, records):
    """RUN/scores.json: the dataset and each stage's record (its final weights and scores); returns its path."""
    path = os.path.join(out_dir, 'scores.json')
    write_json({'dataset': read_run(out_dir)['dataset'], 'stages': records}, path, 'stage scores')
    return path


# -- surgery ---------------------------------------------------------------------------------------------------------

def _first_conv(net_param):
    return next(l.name for l in net_param.layer if l.type == 'Convolution')


def _head_layers(net_param):
    """The FCN's own layers (score and upsampling), which no classifier holds."""
    return {l.name for l in net_param.layer if l.name.startswith(('score', 'upscore')) or l.type == 'Deconvolution'}


def fit_first_conv(weight, channels, layer='conv1'):
    """A classifier's first-conv weight (out, c, kh, kw) for an input of `channels` channels, and what was done:
    as it is (c == channels); more channels: the filters on the first c, their channel mean on each extra one
    (the reference's NYUD color-D surgery, weights.surgery.mean_channels); fewer channels (grayscale): each input
    channel gets the sum of the filters over c divided by `channels` (a gray image repeated on every colour channel
    gives the classifier's response)."""
    w = np.asarray(weight)
    c = w.shape[1]
    if c == channels:
        return w, None
    if channels > c:
        out = np.empty((w.shape[0], channels) + w.shape[2:], w.dtype)
        mean_channels({layer: [out]}, layer, {layer: [w]}, layer)
        return out, (f'{layer}: the classifier takes {c} channels, the dataset {channels}: its filters on the first '
                     f'{c}, their channel mean on the other {channels - c} (as the reference NYUD color-D surgery)')
    out = np.repeat(w.sum(axis=1, keepdims=True) / channels, channels, axis=1).astype(w.dtype)
    return out, (f'{layer}: the classifier takes {c} channels, the dataset {channels}: the filters summed over its '
                 f'{c} channels (divided by {channels}), the response to a gray image repeated on every channel')


def classifier_surgery(fcn_prototxt, classifier_prototxt, classifier_weights, out_path, arch='vgg16', channels=3,
                       log=print):
    """The first stage's initial weights from an ILSVRC classifier (deploy prototxt + weights): its trunk and fc6 /
    fc7 transplanted (fully connected layers cast into convolutions, weights.surgery.transplant), its class-score
    layers discarded, the first conv fitted to the dataset's `channels` (fit_first_conv), the score layers left at
    their fillers and the frozen deconvolutions bilinear (interp). Writes out_path; returns the layers written.

    A classifier that does not fit the trunk is a WeightsError naming the file and the layer: a trunk layer the
    classifier lacks, or blobs whose sizes differ (another trunk or another width)."""
    from runtime import Net
    fcn_param = read_net(fcn_prototxt)
    fcn = Net(with_input_layers(fcn_param, 224, {'data': (1, channels, 224, 224)}), phase='train')
    src = source_arrays(classifier_prototxt, classifier_weights, log=log)
    discard = set(CLASSIFIER_LAYERS[TABLE1_NAME[arch]])
    for name in sorted(discard & set(src)):
        log(f'discarding {name} (the classifier\'s class scores)')
    src = {k: v for k, v in src.items() if k not in discard}
    head = _head_layers(fcn_param)
    trunk = [k for k, blobs in fcn.params.items() if blobs and k not in head]
    missing = [k for k in trunk if k not in src]
    if missing:
        raise WeightsError(f'{classifier_weights}: the classifier has no layer {missing[0]!r} of the FCN\'s '
                           f'{TABLE1_NAME[arch]} trunk ({fcn_prototxt}); '
                           f'{len(missing)} of its {len(trunk)} trunk layers are missing: is it a {arch} classifier?')
    first = _first_conv(fcn_param)
    want = tuple(fcn.params[first][0].shape)
    if first in src and src[first][0].ndim == 4 and src[first][0].shape[1] != want[1]:
        w, line = fit_first_conv(src[first][0], want[1], first)
        src[first] = [w] + list(src[first][1:])
        log(line)
    try:
        written = transplant(fcn, src, log=log)
    except WeightsError as e:
        raise WeightsError(f'{classifier_weights} does not fit {fcn_prototxt}: {e}') from None
    log('transplanted: ' + ', '.join(written))
    fresh = [k for k, blobs in fcn.params.items() if blobs and k not in written]
    if fresh:
        log('left at their fillers: ' + ', '.join(fresh))
    done = interp(fcn)
    if done:
        log('bilinear interpolation: ' + ', '.join(done))
    fcn.save(out_path)
    return written


# -- staged training ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def stage_log(path):
    """The solvers' log also goes to `path` (appended, glog's format, as Caffe's log files) while the block runs;
    the logger at INFO at least, as `caffe train` logs."""
    handler = logging.FileHandler(path)
    handler.setFormatter(GlogFormatter())
    level = log.level
    if level == logging.NOTSET or level > logging.INFO:
        log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        yield path
    finally:
        log.removeHandler(handler)
        handler.close()
        log.setLevel(level)


_ITER = re.compile(r'_iter_(\d+)\.solverstate(\.h5)?$')


def latest_snapshot(prefix):
    """The .solverstate of the highest iteration at snapshot prefix `prefix`, or None."""
    best = None
    for path in glob.glob(glob.escape(prefix) + '_iter_*.solverstate*'):
        m = _ITER.search(path)
        if m and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), path)
    return best[1] if best else None


def _done(folder):
    path = os.path.join(folder, DONE_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _stage_scores(report):
    gt, entry = next(iter(report.items()))
    return {k: float(v) for k, v in entry.items() if k not in ('hist', 'paper')}


def train_stages(out_dir, classifier=None, weights=None, device='cpu', progress=None, stdout=None, say=print):
    """Train every stage of a run folder in order, each from the previous stage's final weights; returns the
    stages' records [{stage, iters, weights, scores}].

    The first stage starts from `classifier` ((deploy prototxt, weights): classifier_surgery into
    <stage>/init.caffemodel), else from `weights` (an FCN's, copied by name), else from the fillers. A stage with
    final.json is finished and skipped; one with snapshots resumes from its last; its log goes to <stage>/train.log
    (Caffe's format, appended, beside the solvers' other handlers: stage_log)."""
    run = read_run(out_dir)
    records, previous = [], None
    for s in run['stages']:
        stage = Stage(**s)
        folder = os.path.join(out_dir, stage.name)
        done = _done(folder)
        if done is not None:
            say(f'{stage.name}: finished ({done["weights"]}), skipped')
            records.append(done)
            previous = done['weights']
            continue
        param = solver_param(folder)
        resume = latest_snapshot(param.snapshot_prefix)
        init = None
        if resume:
            say(f'{stage.name}: resuming from {resume}')
        elif previous:
            init = previous
            say(f'{stage.name}: from {previous}')
        elif classifier:
            init = os.path.join(folder, 'init.caffemodel')
            say(f'{stage.name}: surgery from the classifier {classifier[1]}')
            classifier_surgery(os.path.join(folder, 'train.prototxt'), classifier[0], classifier[1], init,
                               arch=run['arch'], channels=run['channels'], log=lambda line: say('  ' + line))
        elif weights:
            init = weights
            say(f'{stage.name}: from {weights}')
        else:
            say(f'{stage.name}: from the fillers (no classifier given)')
        with stage_log(os.path.join(folder, 'train.log')):
            solver, history = run_loop(param, folder, stage.name, stage.iters, stage.score_every, weights=init,
                                       resume=resume, device=device, progress=progress, stdout=stdout)
        if solver.requested_early_exit:
            say(f'{stage.name}: stopped at iteration {solver.iter}; rerun to resume from {solver.last_snapshot}')
            return records
        final = snapshot_files(param.snapshot_prefix, solver.iter,
                               param.snapshot_format == caffe_pb2.SolverParameter.HDF5).model
        if not history and solver.test_nets:     # resumed from the stage's last snapshot: its scores once more
            history = [(solver.iter, score(solver, folder, out=stdout, progress=progress))]
        scores = _stage_scores(history[-1][1]) if history else None
        done = {'stage': stage.name, 'iters': solver.iter, 'weights': final, 'scores': scores}
        write_json(done, os.path.join(folder, DONE_FILE), 'stage record')
        records.append(done)
        previous = final
    return records


def stage_table(records):
    """The per-stage table (lines): the four metrics in percent."""
    names = (('overall_acc', 'pixel acc.'), ('mean_acc', 'mean acc.'), ('mean_iu', 'mean IU'), ('fwavacc', 'f.w. IU'))
    width = max([len(r['stage']) for r in records] + [5])
    lines = [' ' * (width + 2) + ''.join(f'{label:>12s}' for _, label in names)]
    for r in records:
        sc = r.get('scores') or {}
        lines.append(f'  {r["stage"]:{width}s}' + ''.join(
            f'{100 * sc[k]:12.1f}' if sc.get(k) is not None and sc[k] == sc[k] else f'{"-":>12s}' for k, _ in names))
    return lines


# -- scores and pictures -----------------------------------------------------------------------------------------

def stage_weights(out_dir, run, stage=None):
    """(stage name, its final weights) of a run: `stage` or the last finished one; OSError naming the run
    folder when none has finished."""
    names = [s['name'] for s in run['stages']]
    if stage is not None and stage not in names:
        raise KeyError(f'{out_dir}: no stage {stage!r}; its stages: {", ".join(names)}')
    for name in ([stage] if stage else reversed(names)):
        done = _done(os.path.join(out_dir, name))
        if done is not None:
            return name, done['weights']
    raise FileNotFoundError(f'{out_dir}: stage {stage or names[-1]} has not finished (no {DONE_FILE}); train it '
                            f'with `fcn-own train {out_dir}` or give --weights')


def palette_of(desc):
    """The colours of a dataset's classes: its label PNGs' own palette, else the VOC palette (256 x 3 uint8)."""
    from datalayers.palette import make_palette
    if getattr(desc, 'palette', None) is not None:
        own = np.asarray(desc.palette, dtype=np.uint8).reshape(-1, 3)
        full = make_palette(256)
        full[:len(own)] = own
        return full
    return make_palette(256)


def confusion_png(hist, classes, path, title=''):
    """The confusion matrix as a PNG (matplotlib's Agg, no pyplot): rows the true classes normalized to 1 (each
    row's share of its pixels), columns the predictions; the counts of pixels in the row labels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    hist = np.asarray(hist, dtype=np.float64)
    totals = hist.sum(axis=1)
    share = hist / np.maximum(totals, 1)[:, None]
    n = len(classes)
    side = max(4.0, 0.45 * n + 2.5)
    fig = Figure(figsize=(side + 1.5, side))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(share, vmin=0, vmax=1, cmap='Blues')
    ax.set_xticks(range(n))
    ax.set_xticklabels(classes, rotation=60, ha='right')
    ax.set_yticks(range(n))
    ax.set_yticklabels([f'{c} ({int(t)} px)' for c, t in zip(classes, totals)])
    ax.set_xlabel('predicted')
    ax.set_ylabel('true')
    if n <= 25:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f'{share[i, j]:.2f}', ha='center', va='center', fontsize=7,
                        color='white' if share[i, j] > 0.5 else 'black')
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    with atomic_file(path, 'confusion matrix', mode='wb') as f:
        fig.savefig(f, format='png', dpi=80)
    return path


def score_run(out_dir, stage=None, weights=None, split='val', save_dir=None, device='cpu', limit=None,
              progress=True, warn=None):
    """Score a stage of a run (default: the last finished, its final weights) on a split of the dataset: the
    report of fcnapps.report.score_model (with the dataset's class names, its description's), written as
    <stage>/score-<split>.json, and the confusion matrix as <stage>/confusion-<split>.png. Returns the report."""
    from .report import score_model
    run = read_run(out_dir)
    if weights is None:
        stage, weights = stage_weights(out_dir, run, stage)
    stage = stage or run['stages'][-1]['name']
    folder = os.path.join(out_dir, stage)
    report = score_model(folder, weights, split=split, save_dir=save_dir, device=device, limit=limit,
                         progress=progress, warn=warn)
    head = report['heads'][0]
    report['confusion_png'] = confusion_png(head['hist'], head['classes'],
                                            os.path.join(folder, f'confusion-{split}.png'),
                                            f'{run["name"]} {stage} on {split}')
    report['json'] = os.path.join(folder, f'score-{split}.json')
    write_json(report, report['json'])
    return report


def display_rgb(desc, path):
    """What a picture shows of an input image: the colour image, a gray one on three channels, or for .npy images
    their first three channels (one, repeated, when fewer) stretched to 0..255."""
    from datalayers.own import read_image
    a = read_image(desc, path)            # C x H x W float32, BGR for colour images
    if desc.image_format == 'color':
        return np.clip(a[::-1].transpose(1, 2, 0), 0, 255).astype(np.uint8)
    a = _as_rgb(a)
    if desc.image_format == 'npy':
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)
    return np.clip(a.transpose(1, 2, 0), 0, 255).astype(np.uint8)


def own_readers(folder):
    """(read_input, read_rgb, palette, class names) for a model folder whose eval net reads a user's dataset
    (OwnSegDataLayer: the images read and the mean taken as its description says), else None."""
    import datalayers
    from datalayers.own import read_image
    from .report import eval_prototxt
    try:
        net_param = read_net(eval_prototxt(folder))
    except FileNotFoundError:
        return None
    own = [l.python_param for l in net_param.layer if l.type == 'Python' and
           (l.python_param.module.rsplit('.', 1)[-1], l.python_param.layer) == (OWN_LAYER.module, OWN_LAYER.layer)]
    if len(own) != 1:
        return None
    desc = datalayers.dataset_from_layer(own[0].module, own[0].layer, own[0].param_str).description
    mean = desc.require_mean()
    return (lambda path: read_image(desc, path, mean)[np.newaxis], lambda path: display_rgb(desc, path),
            palette_of(desc), desc.classes)


def infer_run(out_dir, images, dest, stage=None, weights=None, device='cpu', progress=True, warn=None):
    """Label image files of the dataset's format with a stage of a run (default: the last finished, its final
    weights): label PNGs in the dataset's palette and pictures (image | overlay | labels) with a legend of the
    class names, in `dest` (fcnapps.inference.infer, which takes them from the stage's description: own_readers).
    Returns its results."""
    from .inference import infer
    run = read_run(out_dir)
    if weights is None:
        stage, weights = stage_weights(out_dir, run, stage)
    stage = stage or run['stages'][-1]['name']
    return infer(os.path.join(out_dir, stage), weights, images, dest, device=device, progress=progress, warn=warn)


# -- a small classifier (the walk-through's stand-in for an ILSVRC one) ---------------------------------------------

def _as_rgb(a):
    """A C x H x W image on the three channels an ILSVRC classifier takes: the first three, or the first repeated."""
    return a[:3] if a.shape[0] >= 3 else np.repeat(a[:1], 3, axis=0)


def _resized(image, crop):
    import torch
    t = torch.from_numpy(np.ascontiguousarray(_as_rgb(np.asarray(image, np.float32))))[None]
    return torch.nn.functional.interpolate(t, size=(crop, crop), mode='bilinear', align_corners=False)[0].numpy()


def classification_set(desc, crop, split='train'):
    """(images N x 3 x crop x crop float32, labels N): each image of the split minus the mean, on three channels
    (_as_rgb), resized to crop x crop (bilinear), labelled by the class it holds most of relative to the whole
    split (its share of the image's pixels over its share of the split's; ignore left out), so that a class that
    covers most of every image (a background) does not label them all."""
    from datalayers.own import load_sample
    mean = desc.require_mean()
    xs, counts = [], []
    for sid in desc.splits[split]:
        image, label = load_sample(desc, split, sid, mean)
        xs.append(_resized(image, crop))
        lab = np.asarray(label).reshape(-1)
        counts.append(np.bincount(lab[(lab >= 0) & (lab < desc.num_classes)].astype(np.int64),
                                  minlength=desc.num_classes))
    counts = np.asarray(counts, dtype=np.float64)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    overall = counts.sum(axis=0) / max(counts.sum(), 1)
    ys = (share / np.maximum(overall, 1e-12)).argmax(axis=1)
    return np.stack(xs), ys.astype(np.float32)


def object_crops(desc, crop, split='train', margin=0.125, min_pixels=64):
    """(images N x 3 x crop x crop float32, labels N): one crop per connected region of a class in each label map
    of the split (scipy.ndimage.label; regions under `min_pixels` pixels left out, the ignore label never a
    region): the region's bounding box widened by `margin` of its sides on each side (clipped to the image), cut
    from the image minus the mean, on three channels (_as_rgb), resized to crop x crop (bilinear) and labelled by
    the region's class, as ILSVRC labels a crop by its object. A region that spans the image (a background) gives
    a crop of the whole scene."""
    from scipy import ndimage
    from datalayers.own import load_sample
    mean = desc.require_mean()
    xs, ys = [], []
    for sid in desc.splits[split]:
        image, label = load_sample(desc, split, sid, mean)
        h, w = label.shape
        for c in np.unique(label):
            if not 0 <= c < desc.num_classes:
                continue
            regions, n = ndimage.label(label == c)
            for k, box in enumerate(ndimage.find_objects(regions), 1):
                if box is None or (regions[box] == k).sum() < min_pixels:
                    continue
                (y0, y1), (x0, x1) = (box[0].start, box[0].stop), (box[1].start, box[1].stop)
                dy, dx = int(margin * (y1 - y0)), int(margin * (x1 - x0))
                y0, y1, x0, x1 = max(0, y0 - dy), min(h, y1 + dy), max(0, x0 - dx), min(w, x1 + dx)
                xs.append(_resized(image[:, y0:y1, x0:x1], crop))
                ys.append(int(c))
    if not xs:
        raise ValueError(f'{desc.path}: no region of {min_pixels} pixels or more in the {split} split')
    return np.stack(xs), np.asarray(ys, np.float32)


#: what a stand-in classifier is trained on: crops of the label maps' regions, or whole images
CLASSIFIER_CROPS = {'objects': object_crops, 'images': classification_set}


def make_classifier(arch, out_dir, width=1.0, num_classes=1000, dataset=None, iters=0, batch=4, base_lr=1e-5,
                    seed=0, crops='objects', progress=None, say=print):
    """An ILSVRC-style classifier of `arch` (netspec.table1.classifier_net: the trunk, fc6 / fc7 / fc8 as InnerProduct
    on 224 x 224 crops, 227 for AlexNet) at `width`: writes out_dir/deploy.prototxt and
    out_dir/classifier.caffemodel. Without `dataset` its weights are the fillers (MSRA), drawn from `seed`; with a
    description file and `iters`, it is trained that many iterations (SGD, momentum 0.9, normalized loss, `batch`
    crops a step) on the dataset's training split, the log in out_dir/train.log: `crops` 'objects' (default) its
    regions' crops, each labelled by its class (object_crops), 'images' its whole images, each labelled by the class
    it holds most of (classification_set). The default rate 1e-5 suits the MSRA-filled trunk on mean-subtracted
    pixel values (tens to hundreds): 1e-3 there drives the first steps' loss up and leaves most ReLUs of the trunk
    silent, features that no FCN learns from. Then says its accuracy on the crops it was trained on
    (classifier_accuracy). Returns the (prototxt, weights) paths."""
    from netspec import table1, write_text
    from runtime import Net
    from solvers import get_solver
    name = TABLE1_NAME[arch] if arch in TABLE1_NAME else None
    if name is None:
        raise KeyError(f'unknown trunk {arch!r}; known: {", ".join(ARCHS)}')
    os.makedirs(out_dir, exist_ok=True)
    desc = None
    if dataset:
        from datalayers.own import load_description
        desc = load_description(dataset)
        num_classes = desc.num_classes
    deploy = table1.classifier_net(name, batch=1, num_classes=num_classes, width=width)
    prototxt = os.path.join(out_dir, 'deploy.prototxt')
    write_text(deploy, prototxt)
    weights = os.path.join(out_dir, 'classifier.caffemodel')
    if desc is None or not iters:
        import torch
        with torch.random.fork_rng():          # the fillers drawn from `seed`, the process's stream left as it was
            torch.manual_seed(seed)
            Net(deploy, phase='train').save(weights)
        say(f'wrote {prototxt} and {weights} (fillers: MSRA, class scores Gaussian)')
        return prototxt, weights
    crop = table1.CLASSIFIER_CROP[name]
    if crops not in CLASSIFIER_CROPS:
        raise KeyError(f'unknown crops {crops!r}; known: {", ".join(CLASSIFIER_CROPS)}')
    x, y = CLASSIFIER_CROPS[crops](desc, crop)
    net = table1.classifier_net(name, batch=batch, num_classes=num_classes, width=width)
    write_text(net, os.path.join(out_dir, 'train.prototxt'))
    p = caffe_pb2.SolverParameter(base_lr=base_lr, lr_policy='fixed', momentum=0.9, weight_decay=0.0005,
                                  display=10, average_loss=10, max_iter=int(iters), random_seed=seed)
    p.train_net_param.CopyFrom(net)
    with stage_log(os.path.join(out_dir, 'train.log')):
        solver = get_solver(p, progress_bar=progress)
        solver.feed = shuffled_batches({'data': x, 'label': y}, batch, np.random.default_rng(seed))
        solver.log_start()
        solver.step(int(iters))
    solver.net.save(weights)
    what = ('crops of its regions, each labelled by its class' if crops == 'objects' else
            'images, each labelled by the class it holds most of relative to the split')
    say(f'wrote {prototxt} and {weights} ({iters} iterations on {len(x)} {what}, from the training split of '
        f'{desc.path}); accuracy on them: {100 * classifier_accuracy(deploy, weights, x, y):.1f}% '
        f'(chance {100 * np.bincount(y.astype(np.int64)).max() / len(y):.1f}%)')
    return prototxt, weights


def classifier_accuracy(net_param, weights, x, y):
    """The share of the crops x (N x 3 x H x W) that a classifier net of batch 1 (netspec.table1.classifier_net:
    Input data / label, its Accuracy 'accuracy') with `weights` labels y, run in the TEST phase (no dropout)."""
    import torch
    from runtime import Net
    net = Net(net_param, weights, phase='test')
    right = 0.0
    for xi, yi in zip(x, y):
        net.forward(data=torch.from_numpy(np.ascontiguousarray(xi[None])), label=torch.tensor([float(yi)]))
        right += float(net.blobs['accuracy'])
    return right / len(x)
