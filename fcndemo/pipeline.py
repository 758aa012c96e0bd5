"""The demo pipeline: synthetic VOC data -> classifier -> surgery -> FCN-32s -> FCN-16s -> FCN-8s -> Table 2.

`run(Config(...))` does every step on the CPU in a few minutes and returns the results dict it also writes as
results.json. Each step uses the project's own parts: datalayers.synthetic (the dataset, in the VOC/SBD layout),
netspec (fcndemo.nets, written with the DSL), runtime.Net + solvers (training; the FCN stages through
fcnapps.recipe.train, the loop behind tools/solve.py, on the reference data layers), weights.surgery (transplant,
interp) and scoring (the four metrics of the paper's Table 2).

The FCN stages follow the reference recipe: every layer learns (lr_mult 1 / 2 as in the reference), summed loss
(normalize: false), fixed rate, momentum 0.99, weight decay 5e-4, batch 1, zero-initialized score layers, frozen
bilinear upsampling, each stage initialized from the previous one. Like VGG16 on 0-255 pixels, the thin trunk's
activations are large (fc7 ~ 16 on average), so the rates are tiny as in the reference (1e-10 there): 3e-9 for
FCN-32s (3e-10 and 3e-11 for 16s and 8s); in trials 3e-7 diverged after ~35 iterations and 1e-6 within 6, while
1e-10 learned too slowly for a run this short. The rate drops 10x per stage rather than the reference's 100x, the
stages being ~100x shorter. Where the demo differs from the
reference nets: one conv per stage, thin channels, fc6 4x4 (the classifier sees 128x128 crops), no dropout
(too few iterations for it to pay), and 4 classes.

One torch thread is the default: on a shared or busy machine the default of one thread per core made a quick run
several times slower (OpenMP threads waiting on each other); on an idle machine it costs little at these channel
counts.
"""
import dataclasses
import json
import logging
import os
import sys
import time

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image
from tqdm import tqdm

from datalayers.datasets import VOC_MEAN, VOCSeg
from datalayers.palette import color_seg, make_palette, save_image
from datalayers.synthetic import class_shape, make_voc, paint_scene
from fcnapps.recipe import train
from netspec import caffe_pb2, write_text
from netspec.atomic import atomic_file
from netspec.models import VOC, input_data, write_files
from runtime import Net
from scoring import METRIC_LABELS, METRICS as SCORE_METRICS
from solvers import get_solver
from solvers.feeds import shuffled_batches
from solvers.logs import GlogFormatter, log
from weights.surgery import interp, transplant

from . import kernels, nets

__all__ = ['Config', 'run', 'STAGES', 'METRICS', 'format_table', 'make_dataset', 'classification_set',
           'LossRecorder', 'train_classifier', 'convolutionalize', 'write_stage', 'train_stage', 'predict',
           'plot_curves']

STAGES = (32, 16, 8)
#: (key, label) of the paper's four metrics, from scoring's one list
METRICS = tuple((k, METRIC_LABELS[k]) for k in SCORE_METRICS)


@dataclasses.dataclass
class Config:
    """Every size of the demo. The defaults are the full demo (minutes on 2 cores); quick() the shortened one."""
    out: str = 'demo-output'
    seed: int = 0
    # the segmentation dataset (synthetic VOC2011 val + SBD train)
    num_classes: int = 4            # background + 3 shape classes
    n_train: int = 48
    n_val: int = 16
    size: tuple = (112, 144)        # image sides drawn from this range
    # the "ILSVRC" classifier: single-object crops, Input blobs, normalized loss
    crop: int = 128
    clf_images: int = 256
    clf_batch: int = 8
    clf_iters: int = 80
    clf_lr: float = 1e-3
    # the FCN stages (32s, 16s, 8s): iterations, fixed learning rates, scoring interval
    iters: tuple = (1200, 600, 600)
    lrs: tuple = (3e-9, 3e-10, 3e-11)   # the recipe's tiny rates, dropping per stage (the reference: 1e-10...)
    score_every: int = 200
    momentum: float = 0.99
    trunk_lr_mult: float = 1.0      # lr_mult of conv1..fc7 relative to the reference's 1 (weights) / 2 (biases)
    weight_decay: float = 5e-4
    n_examples: int = 4             # predictions drawn next to their images
    progress: bool = None           # tqdm bars (default: when stderr is a terminal)
    threads: int = 1                # torch intra-op threads: one per process is fastest on a shared machine
    pinned_kernels: bool = True     # oneDNN off: the figures then depend on no CPU's ISA (fcndemo.kernels)

    @classmethod
    def quick(cls, **kw):
        """The shortened demo (the test's): smaller data, fewer iterations, 3x lower rates (in a run this short they
        leave FCN-8s further ahead of FCN-32s than the full demo's rates do)."""
        base = dict(n_train=24, n_val=8, size=(96, 112), clf_images=96, clf_iters=40, iters=(300, 150, 150),
                    lrs=(1e-9, 1e-10, 1e-11), score_every=150, n_examples=2)
        base.update(kw)
        return cls(**base)

    def check(self):
        """ValueError, naming the setting, for sizes the demo cannot run with."""
        if len(self.iters) != len(STAGES) or len(self.lrs) != len(STAGES):
            raise ValueError(f'iters and lrs need one value per stage ({len(STAGES)})')
        if len(self.size) != 2 or not 32 <= self.size[0] <= self.size[1]:
            raise ValueError(f'size must be MIN,MAX image sides with 32 <= MIN <= MAX, not {self.size}')
        if self.n_train < 1 or self.n_val < 1 or min(self.iters) < 1 or self.clf_iters < 1:
            raise ValueError("n_train, n_val, clf_iters and every stage's iterations must be >= 1")


# -- the data ---------------------------------------------------------------------------------------------------

def make_dataset(cfg):
    """The synthetic VOC2011 (val: seg11valid) + SBD (train) under <out>/data, as the reference expects them."""
    return make_voc(os.path.join(cfg.out, 'data'), n_train=cfg.n_train, n_val=cfg.n_val, size=tuple(cfg.size),
                    num_classes=cfg.num_classes, seed=cfg.seed)


def classification_set(n, crop, num_classes, seed):
    """The demo's "ILSVRC": n crop x crop scenes with one object each, labelled by its class (0-based over the
    object classes), preprocessed as the VOC data layers do (RGB -> BGR, minus the VOC mean, C x H x W)."""
    rng = np.random.default_rng([seed, 1])
    classes = np.arange(1, num_classes)
    x = np.empty((n, 3, crop, crop), np.float32)
    y = np.empty(n, np.float32)
    for i in range(n):
        img, label = paint_scene(rng, crop, crop, classes, n_objects=(1, 1))
        c = int(label.max())
        x[i] = (img[:, :, ::-1].astype(np.float32) - np.array(VOC_MEAN, np.float32)).transpose(2, 0, 1)
        y[i] = c - 1
    return x, y


# -- logging: Caffe-format log files, and the loss curve read back from the log records ----------------------------

class LossRecorder(logging.Handler):
    """Collects (iteration, smoothed loss) from the solver's 'Iteration N, loss = X' lines."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.points = []

    def emit(self, record):
        if record.msg == 'Iteration %d, loss = %s' and len(record.args) == 2:
            self.points.append((int(record.args[0]), float(record.args[1])))


class _SolverLog:
    """Within the block, the solvers' log goes to `path` (glog format) and into a LossRecorder."""

    def __init__(self, path):
        self.path, self.recorder = path, LossRecorder()

    def __enter__(self):
        self.log = log
        self.file = logging.FileHandler(self.path, mode='w')
        self.file.setFormatter(GlogFormatter())
        self.saved = (log.level, log.propagate)
        log.setLevel(logging.INFO)
        log.propagate = False
        log.addHandler(self.file)
        log.addHandler(self.recorder)
        return self.recorder

    def __exit__(self, *exc):
        self.log.removeHandler(self.file)
        self.log.removeHandler(self.recorder)
        self.file.close()
        self.log.setLevel(self.saved[0])
        self.log.propagate = self.saved[1]


def _bar(total, desc, enabled):
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True, file=sys.stderr)


# -- the classifier ---------------------------------------------------------------------------------------------

def _solver_param(train_net, base_lr, momentum, weight_decay, seed, display=10):
    p = caffe_pb2.SolverParameter(base_lr=base_lr, lr_policy='fixed', momentum=momentum, weight_decay=weight_decay,
                                  display=display, average_loss=display, max_iter=100000000, random_seed=seed)
    p.train_net_param.CopyFrom(train_net)
    return p


def train_classifier(cfg, folder, progress, net_param=None):
    """Train the classifier with Caffe SGD on Input blobs fed from the in-memory crops; returns
    (weights path, held-out accuracy, loss curve). `net_param`: another classifier on cfg.crop x cfg.crop crops
    (Input blobs data and label, an 'accuracy' top; default the demo's), scored held out in the TEST phase (its
    dropout off; the demo's has none, and is scored as it trained)."""
    os.makedirs(folder, exist_ok=True)
    own = net_param is None
    if own:
        net_param = nets.classifier(batch=cfg.clf_batch, crop=cfg.crop, num_classes=cfg.num_classes - 1)
    write_text(net_param, os.path.join(folder, 'train.prototxt'))
    x, y = classification_set(cfg.clf_images, cfg.crop, cfg.num_classes, cfg.seed)
    n_test = max(cfg.clf_batch, cfg.clf_images // 8)
    xt, yt, xs, ys = x[n_test:], y[n_test:], x[:n_test], y[:n_test]
    rng = np.random.default_rng([cfg.seed, 2])
    with _SolverLog(os.path.join(folder, 'train.log')) as rec:
        solver = get_solver(_solver_param(net_param, cfg.clf_lr, 0.9, cfg.weight_decay, cfg.seed, display=5),
                            progress_bar=progress)
        solver.feed = shuffled_batches({'data': xt, 'label': yt}, cfg.clf_batch, rng)
        solver.step(cfg.clf_iters)
    path = os.path.join(folder, 'classifier.caffemodel')
    solver.net.save(path)
    test_net = solver.net if own else Net(net_param, weights=path, phase='test')
    correct = 0
    with torch.no_grad():
        for s in range(0, n_test - cfg.clf_batch + 1, cfg.clf_batch):
            out = test_net.forward(data=xs[s:s + cfg.clf_batch], label=ys[s:s + cfg.clf_batch])
            correct += float(out['accuracy']) * cfg.clf_batch
    acc = correct / (n_test // cfg.clf_batch * cfg.clf_batch)
    return path, acc, rec.points


# -- surgery ----------------------------------------------------------------------------------------------------

def convolutionalize(cfg, classifier_weights, path):
    """surgery.transplant of the classifier into FCN-32s (fc6/fc7 InnerProduct -> convolutions, fc8 dropped) and
    bilinear upsampling (surgery.interp); writes the FCN-32s initialization to `path`. Returns the log lines."""
    lines = []
    clf = Net(nets.classifier(batch=1, crop=cfg.crop, num_classes=cfg.num_classes - 1), weights=classifier_weights)
    fcn = Net(nets.fcn(input_data((1, 3, cfg.crop, cfg.crop)), stride=32, num_classes=cfg.num_classes,
                       crop=cfg.crop))
    transplant(fcn, clf, log=lines.append)
    interp(fcn)
    fcn.save(path)
    return lines


# -- the FCN stages through fcnapps.recipe.train (tools/solve.py's loop) -------------------------------------------

def write_stage(cfg, info, stride, folder, base_lr):
    """The stage's folder as the reference has it: train.prototxt, val.prototxt (dataset paths relative to the
    folder, '../data/...'), solver.prototxt, and deploy.prototxt (an Input of one crop-sized image; the runtime
    reshapes it to any image)."""
    files = {fname: nets.fcn(nets.voc_source(info['params'][split], split, folder), stride=stride,
                             num_classes=cfg.num_classes, crop=cfg.crop, trunk_lr_mult=cfg.trunk_lr_mult)
             for fname, split in VOC.nets}
    files['deploy.prototxt'] = deploy_net(cfg, stride)
    files['solver.prototxt'] = caffe_pb2.SolverParameter(
        train_net='train.prototxt', test_net=['val.prototxt'], test_iter=[cfg.n_val], test_interval=999999999,
        display=10, average_loss=10, lr_policy='fixed', base_lr=base_lr, momentum=cfg.momentum, iter_size=1,
        max_iter=100000, weight_decay=cfg.weight_decay, test_initialization=False)
    write_files(folder, files)


def deploy_net(cfg, stride):
    """The stage's net for inference: an Input blob `data` (1 x 3 x crop x crop) instead of the data layer, no
    loss; the layer names of the training nets, so their weights load."""
    return nets.fcn(input_data((1, 3, cfg.crop, cfg.crop)), stride=stride, num_classes=cfg.num_classes,
                    crop=cfg.crop)


def train_stage(cfg, info, stride, init_weights, iters, base_lr, progress):
    """Train one FCN stage from `init_weights`; returns a dict with the final weights, the scoring history
    (from scoring, through the recipe), the loss curve and the time taken."""
    name = f'voc-fcn{stride}s'   # the reference folder name selects the recipe's loop
    folder = os.path.join(cfg.out, name)
    write_stage(cfg, info, stride, folder, base_lr)
    t0 = time.time()
    with open(os.path.join(folder, 'scores.log'), 'w') as scores_log, \
            _SolverLog(os.path.join(folder, 'train.log')) as rec:
        solver, history = train(folder, weights=init_weights, iters=iters, score_every=cfg.score_every, out=folder,
                                progress=progress, seed=cfg.seed, stdout=scores_log)
    weights = os.path.join(folder, 'final.caffemodel')
    solver.net.save(weights)
    for layer in (solver.net, *solver.test_nets):
        _close_data_layers(layer)
    head = VOC.heads[0].label
    final = history[-1][1][head]
    return {'stride': stride, 'folder': folder, 'weights': weights, 'iters': iters, 'base_lr': base_lr,
            'seconds': time.time() - t0, 'loss_curve': rec.points,
            'val_curve': [(it, r[head]['mean_iu'], r[head]['loss']) for it, r in history],
            'metrics': {k: float(final[k]) for k, _ in METRICS}, 'val_loss': float(final['loss']),
            'hist': np.asarray(final['hist']).tolist()}


def _close_data_layers(net):
    """Stop the data layers' prefetch threads (they hold the dataset open)."""
    for layer in getattr(net, 'layers', []):
        stream = getattr(getattr(layer, 'impl', None), 'stream', None)
        if stream is not None and hasattr(stream, 'close'):
            stream.close()


# -- outputs ----------------------------------------------------------------------------------------------------

def format_table(stages):
    """The paper's Table 2 layout: one row per net, the four metrics in percent."""
    head = f"{'':10s}" + ''.join(f'{label:>12s}' for _, label in METRICS)
    rows = [head]
    for s in stages:
        rows.append(f"FCN-{s['stride']}s".ljust(10) + ''.join(f"{100 * s['metrics'][k]:12.1f}" for k, _ in METRICS))
    return rows


def predict(cfg, info, stages, path):
    """A few val images: image | ground truth | each stage's prediction, one row per image, under a row of column
    headers and above a legend of the class colours (VOC palette; the synthetic classes by shape), as a PNG.
    Returns the column names."""
    ds = VOCSeg(info['params'][VOC.eval_split])
    palette = make_palette(256)
    n = min(cfg.n_examples, len(ds))
    loaded = {s['stride']: Net(deploy_net(cfg, s['stride']), weights=s['weights']) for s in stages}
    columns = ['image', 'ground truth'] + [f"FCN-{s['stride']}s" for s in stages]
    rows = []
    for i in range(n):
        data, label = ds.load(i)
        rgb = np.asarray(Image.open(os.path.join(ds.root, 'JPEGImages', ds.ids[i] + '.jpg')).convert('RGB'))
        cells = [rgb, color_seg(label[0, 0].astype(np.uint8), palette)]
        for s in stages:
            with torch.no_grad():
                score = loaded[s['stride']].forward(data=data)['score']
            cells.append(color_seg(score[0].argmax(0).numpy().astype(np.uint8), palette))
        rows.append(cells)
    cell_w = max(c.shape[1] for cells in rows for c in cells)
    gap = 4
    width = len(columns) * cell_w + (len(columns) - 1) * gap
    lines = [_header(columns, cell_w, gap, width)]
    for cells in rows:
        h = cells[0].shape[0]
        padded = [np.pad(c, ((0, 0), (0, cell_w - c.shape[1]), (0, 0)), constant_values=255) for c in cells]
        row = np.concatenate([c for cell in padded for c in (cell, np.full((h, gap, 3), 255, np.uint8))][:-1],
                             axis=1)
        lines.append(np.pad(row, ((0, 6), (0, 0), (0, 0)), constant_values=255))
    lines.append(_legend(cfg.num_classes, palette, width))
    save_image(Image.fromarray(np.concatenate(lines, axis=0)), path, 'picture')
    return columns


def _text_image(width, height):
    from PIL import ImageDraw, ImageFont
    im = Image.new('RGB', (width, height), (255, 255, 255))
    return im, ImageDraw.Draw(im), ImageFont.load_default()


def _header(columns, cell_w, gap, width):
    """A white strip with each column's name centred over its column."""
    im, draw, font = _text_image(width, 16)
    for k, name in enumerate(columns):
        x = k * (cell_w + gap) + (cell_w - draw.textlength(name, font=font)) / 2
        draw.text((max(0, x), 2), name, fill=(0, 0, 0), font=font)
    return np.asarray(im)


def _legend(num_classes, palette, width):
    """Swatches of the class colours with their names (0 background, then the synthetic classes' shapes, and
    the void label of the ground truth), wrapped to `width`."""
    entries = [(0, 'background')] + [(c, f'{c} {class_shape(c)}') for c in range(1, num_classes)] + [(255, 'void')]
    im, draw, font = _text_image(max(width, 120), 16 * len(entries))
    x, y = 0, 2
    for c, name in entries:
        w = 14 + int(draw.textlength(name, font=font)) + 10
        if x and x + w > im.width:
            x, y = 0, y + 16
        draw.rectangle((x, y, x + 10, y + 10), fill=tuple(int(v) for v in palette[c]), outline=(0, 0, 0))
        draw.text((x + 14, y), name, fill=(0, 0, 0), font=font)
        x += w
    return np.asarray(im)[:y + 16, :width]


def plot_curves(clf_curve, stages, path):
    """Training loss (the solver's smoothed loss) of the classifier and of each stage, and val mean IU."""
    fig = Figure(figsize=(15, 4))   # no pyplot: the caller's matplotlib backend and figures stay as they are
    ax = fig.subplots(1, 3)
    if clf_curve:
        it, loss = zip(*clf_curve)
        ax[0].plot(it, loss)
    ax[0].set(title='classifier (normalized loss)', xlabel='iteration', ylabel='loss')
    offset = 0
    for s in stages:
        if s['loss_curve']:
            it, loss = zip(*s['loss_curve'])
            ax[1].plot(np.array(it) + offset, loss, label=f"FCN-{s['stride']}s")
        if s['val_curve']:
            it, miu, _ = zip(*s['val_curve'])
            ax[2].plot(np.array(it) + offset, 100 * np.array(miu), 'o-', label=f"FCN-{s['stride']}s")
        offset += s['iters']
    ax[1].set(title='FCN training loss (summed over pixels)', xlabel='iteration (stages in sequence)',
              ylabel='loss', yscale='log')
    ax[2].set(title='val mean IU', xlabel='iteration (stages in sequence)', ylabel='mean IU (%)')
    ax[1].legend()
    ax[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def _write_json(obj, path):
    with atomic_file(path, 'demo results', mode='w') as f:
        json.dump(obj, f, indent=1)


# -- the whole demo ---------------------------------------------------------------------------------------------

def run(cfg, out=None):
    """Run the demo; print progress lines, the table and where everything is to `out`; return the results."""
    cfg.check()
    with kernels.cpu_settings(cfg.threads, cfg.pinned_kernels):
        return _run(cfg, out or sys.stdout)


def _run(cfg, out):
    # absolute: the data layers' param_str paths are resolved against each model folder (as solve.py runs there)
    cfg = dataclasses.replace(cfg, out=os.path.abspath(cfg.out))
    progress = sys.stderr.isatty() if cfg.progress is None else cfg.progress
    t_start = time.time()
    os.makedirs(cfg.out, exist_ok=True)

    def say(msg):
        print(msg, file=out, flush=True)

    used = kernels.in_effect(onednn=torch.backends.mkldnn.enabled)
    off_path = kernels.differences(used)
    say(f"CPU kernels: torch {used['torch']}, ATen {used['aten_capability']}, MKL_CBWR {used['mkl_cbwr']}, "
        f"oneDNN {'on' if used['onednn'] else 'off'}, {used['threads']} thread(s)"
        + (f"; not the pinned path ({', '.join(off_path)}): figures may differ from the README's" if off_path
           else ''))
    timings = {}
    t = time.time()
    info = make_dataset(cfg)
    timings['data'] = time.time() - t
    used['data_sha256'] = kernels.dataset_fingerprint(info['root'])
    say(f"[1/6] synthetic VOC dataset: {cfg.n_train} train (SBD layout), {cfg.n_val} val (VOC2011 layout), "
        f"{cfg.num_classes} classes, in {info['root']} ({timings['data']:.1f} s; fingerprint {used['data_sha256']})")

    t = time.time()
    clf_dir = os.path.join(cfg.out, 'classifier')
    say(f"[2/6] classifier (InnerProduct fc6/fc7/fc8) on {cfg.crop}x{cfg.crop} crops: {cfg.clf_iters} iterations, "
        f"lr {cfg.clf_lr:g}, momentum 0.9, normalized loss ...")
    clf_weights, clf_acc, clf_curve = train_classifier(cfg, clf_dir, progress)
    timings['classifier'] = time.time() - t
    say(f"      held-out accuracy {100 * clf_acc:.1f}% ({timings['classifier']:.1f} s)")

    t = time.time()
    init = os.path.join(cfg.out, 'fcn32s-init.caffemodel')
    surgery_log = convolutionalize(cfg, clf_weights, init)
    timings['surgery'] = time.time() - t
    say(f"[3/6] surgery: classifier -> FCN-32s ({'; '.join(l for l in surgery_log if 'coercing' in l)})")

    stages = []
    for k, (stride, iters, lr) in enumerate(zip(STAGES, cfg.iters, cfg.lrs)):
        say(f"[{4 + k}/6] FCN-{stride}s from {os.path.relpath(init, cfg.out)}: {iters} iterations, fixed lr {lr:g}, "
            f"momentum {cfg.momentum:g}, summed loss ...")
        s = train_stage(cfg, info, stride, init, iters, lr, progress)
        stages.append(s)
        init = s['weights']
        timings[f'fcn{stride}s'] = s['seconds']
        m = s['metrics']
        say(f"      val mean IU {100 * m['mean_iu']:.1f}, pixel acc. {100 * m['overall_acc']:.1f} "
            f"({s['seconds']:.1f} s)")

    t = time.time()
    table = format_table(stages)
    table_path = os.path.join(cfg.out, 'results.json')
    curves_path = os.path.join(cfg.out, 'curves.png')
    pred_path = os.path.join(cfg.out, 'predictions.png')
    plot_curves(clf_curve, stages, curves_path)
    columns = predict(cfg, info, stages, pred_path)
    timings['figures'] = time.time() - t
    timings['total'] = time.time() - t_start
    results = {
        'table': {f"FCN-{s['stride']}s": {k: s['metrics'][k] for k, _ in METRICS} for s in stages},
        'metric_names': dict(METRICS),
        'table_text': table,
        'split': f"{VOC.eval_split} ({cfg.n_val} images)",
        'classifier': {'weights': clf_weights, 'heldout_accuracy': clf_acc, 'loss_curve': clf_curve},
        'stages': [{k: v for k, v in s.items()} for s in stages],
        'config': {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()},
        'timings': timings,
        'kernels': used,
        'files': {'results': table_path, 'curves': curves_path, 'predictions': pred_path,
                  'predictions_columns': columns, 'data': info['root'], 'classifier': clf_weights,
                  'fcn32s_init': os.path.join(cfg.out, 'fcn32s-init.caffemodel'),
                  **{f"fcn{s['stride']}s": s['folder'] for s in stages}},
    }
    _write_json(results, table_path)
    say('')
    say(f"Table 2 on the demo data ({VOC.eval_split}, {cfg.n_val} images; metrics in %):")
    for line in table:
        say('  ' + line)
    say('')
    say(f"done in {timings['total']:.0f} s. Outputs in {os.path.abspath(cfg.out)}:")
    say(f"  results (table, curves, timings): {table_path}")
    say(f"  training curves:                  {curves_path}")
    say(f"  predictions ({' | '.join(columns)}): {pred_path}")
    say(f"  nets, solvers, Caffe logs, weights: {', '.join(s['folder'] for s in stages)}, {clf_dir}")
    say(f"  synthetic dataset:                {info['root']}")
    return results
