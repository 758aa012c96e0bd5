"""The paper's studies on the demo's data, on the CPU: `run(AblationConfig(...))`.

Every variant starts from the same initialization (the demo's classifier convolutionalized by surgery; the skip
nets from the previous stage, as the paper stages them), trains the same number of iterations with the same seed and
the demo's recipe (summed loss, fixed rate, momentum 0.99, batch 1), and is scored on the demo's val split with the
project's scoring (the four metrics of the paper's Table 2). The studies:

  table2        FCN-32s-fixed (only score_fr learns: conv1..fc7 at lr_mult 0), FCN-32s, and the skip nets staged
                as in the paper: FCN-16s from FCN-32s, 8s from 16s, 4s from 8s, 2s from 4s, the rate 10x lower per
                stage (the demo's rule; the reference drops it 100x over stages ~100x longer). A control: FCN-32s
                trained on from itself as FCN-16s is (same iterations, FCN-16s's rate), since each staged net has
                had its parents' iterations too
  sampling      FCN-32s with loss sampling p (a LossSamplingLayer; p = 1 too, the layer passing every label) and
                iter_size 1/p and base_lr x 1/p, the paper's fixed expected batch (Fig. 5): the expected update is
                whole-image training's (Caffe divides the accumulated diffs by iter_size); mean IU and training time
  balancing     FCN-32s with the class-weighted loss (median frequency weights of the train split) vs without
  augmentation  FCN-32s with mirroring and jitter (translation up to `jitter` px) vs without
  upsampling    FCN-16s (from FCN-32s) with the 2x upsampling learned (bilinear init) vs frozen
  stitch        FCN-32s densified to output stride 16 by shift-and-stitch (runtime.stitch, f = 2, shifts of 16 px,
                on score_fr; then the FCN-16s head's fixed 32x32 bilinear upsampling and crop) vs FCN-16s (skip
                fusion); the FCN-32s weights unchanged. Filter rarefaction (the same FCN-32s weights in the
                pool5-stride-1 net, fc6 dilated by 2) is scored too: the paper's equivalent of shift-and-stitch.
  table1        (not in the default set) Table 1's nets trained: for AlexNet, VGG16 and GoogLeNet at
                `table1_width` of their channels, the ILSVRC-style classifier (netspec.table1.classifier_net: its
                own crop, InnerProduct fc6/fc7/fc8; GoogLeNet with its two auxiliary classifiers) trained as the
                demo's on the demo's single-object crops, cast into its FCN-32s by surgery (fc6/fc7
                convolutionalized; the classifier layers, GoogLeNet's average pool and auxiliary classifiers
                discarded, score_fr on the last inception output), then each FCN-32s trained with one recipe (the
                same iterations, summed loss, momentum 0.99, batch 1, no dropout as the demo's nets) at its own
                fixed rate (`table1_lrs`; the paper too chose one rate per net by line search).

A variant shared by studies (FCN-32s, FCN-16s) is trained once. With several seeds each seed has its own data,
classifier and solvers, and the tables give the mean with every seed's mean IU.
"""
import ast
import dataclasses
import json
import os
import sys
import time

import numpy as np
import torch
from matplotlib.figure import Figure

from datalayers.balance import class_frequencies, class_weights
from datalayers.datasets import SBDDSeg, VOCSeg
from fcnapps.recipe import initialize, score, solver_param
from netspec import caffe_pb2, table1, write_text
from netspec.models import VOC, input_data, write_files
from runtime import Net
from runtime.stitch import shift_and_stitch
from scoring import fast_hist, scores
from solvers import get_solver
from weights.surgery import interp, transplant

from . import kernels, nets
from .pipeline import (METRICS, Config, _close_data_layers, _SolverLog, _write_json, convolutionalize,
                       make_dataset, train_classifier)

__all__ = ['AblationConfig', 'Variant', 'STUDIES', 'DEFAULT_STUDIES', 'STRIDES', 'variants', 'study_variants',
           'train_variant', 'score_stitched', 'cast_classifier', 'train_table1', 'table1_key', 'format_tables',
           'plot_curves', 'run']

#: the studies run by default; 'table1' (three trunks, each with its own classifier) only when asked for
DEFAULT_STUDIES = ('table2', 'sampling', 'balancing', 'augmentation', 'upsampling', 'stitch')
STUDIES = DEFAULT_STUDIES + ('table1',)
STRIDES = (32, 16, 8, 4, 2)


@dataclasses.dataclass
class AblationConfig:
    """Every size of the ablation run. The defaults are the full run (~20 min on 2 shared cores); quick() the
    test's tiny one. The data and the classifier are the demo's (fcndemo.Config) but with 160x160 crops: FCN-4s
    and FCN-2s need fc6 >= 5x5 (fcndemo.nets)."""
    out: str = 'ablate-output'
    seeds: tuple = (0,)
    num_classes: int = 4
    n_train: int = 48
    n_val: int = 16
    size: tuple = (112, 144)
    crop: int = 160
    clf_images: int = 256
    clf_iters: int = 80
    iters: int = 300                # every variant, every stage
    lrs: tuple = (3e-9, 3e-10, 3e-11, 3e-12, 3e-13)   # FCN-32s, 16s, 8s, 4s, 2s (the demo's 10x drop per stage)
    score_every: int = 100
    sampling: tuple = (1.0, 0.5, 0.25)
    balancing: str = 'median'
    jitter: int = 32
    studies: tuple = DEFAULT_STUDIES
    table1_width: float = 1 / 16    # Table 1's trunks: VGG16's conv5 at 32 channels, the demo trunk's conv5
    # Table 1's fixed rates, one per net (AlexNet, VGG16, GoogLeNet) as the paper's, chosen by a line search on
    # seed 0 (README): the FCN-32s's and the classifier's (the demo's 1e-3 but where it diverged)
    table1_lrs: tuple = (3e-9, 1e-8, 3e-8)
    table1_clf_lrs: tuple = (1e-4, 1e-3, 1e-3)
    threads: int = 1
    pinned_kernels: bool = True
    progress: bool = None

    @classmethod
    def quick(cls, **kw):
        """A tiny run of every study (seconds): tiny images, a few iterations."""
        base = dict(n_train=3, n_val=2, size=(40, 48), clf_images=16, clf_iters=2, iters=4, score_every=2,
                    table1_width=1 / 32)
        base.update(kw)
        return cls(**base)

    def check(self):
        """ValueError, naming the setting, for values the run cannot use."""
        if len(self.lrs) != len(STRIDES):
            raise ValueError(f'lrs needs one rate per stride {STRIDES}')
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f'seeds must be distinct and at least one, not {self.seeds}')
        if self.iters < 1 or self.score_every < 1 or self.n_train < 1 or self.n_val < 1 or self.clf_iters < 1:
            raise ValueError('iters, score_every, n_train, n_val and clf_iters must be >= 1')
        for p in self.sampling:
            if not 0 < p <= 1 or abs(1 / p - round(1 / p)) > 1e-9:
                raise ValueError(f'sampling: each p must be 1/k for an integer k >= 1 (iter_size 1/p), not {p}')
        unknown = set(self.studies) - set(STUDIES)
        if unknown or not self.studies:
            raise ValueError(f'studies must be among {", ".join(STUDIES)}, not {", ".join(sorted(unknown))}')
        for option in ('table1_lrs', 'table1_clf_lrs'):
            rates = getattr(self, option)
            if len(rates) != len(table1.NETS) or not all(lr > 0 for lr in rates):
                raise ValueError(f'{option} needs one positive rate per net ({", ".join(table1.NETS)})')
        if not 0 < self.table1_width <= 1:
            raise ValueError(f'table1_width must be in (0, 1], not {self.table1_width}')
        if self.crop < 160 or self.crop % 32:
            raise ValueError(f'crop must be a multiple of 32 and >= 160 (FCN-2s needs fc6 >= 5x5), not {self.crop}')
        Config(**self.demo_kw(self.seeds[0], '.')).check()

    def demo_kw(self, seed, out):
        return dict(out=out, seed=seed, num_classes=self.num_classes, n_train=self.n_train, n_val=self.n_val,
                    size=tuple(self.size), crop=self.crop, clf_images=self.clf_images, clf_iters=self.clf_iters,
                    progress=False, threads=0, pinned_kernels=False)


# -- the variants -----------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Variant:
    """One trained net: its options and where its initialization comes from."""
    key: str                        # unique name (its folder)
    label: str                      # its row in the tables
    stride: int = 32
    parent: str = None              # the variant whose final weights initialize it (None: the surgery's FCN-32s)
    fixed_trunk: bool = False       # conv1..fc7 at lr_mult 0 (FCN-32s-fixed)
    upsampling: str = 'frozen'
    sampling: float = None          # None: no sampling layer; p: a LossSamplingLayer keeping p (iter_size 1/p)
    balanced: bool = False
    augmented: bool = False
    rate_of: int = None             # train at the rate of another stride's stage (default: its own stride's)

    @property
    def iter_size(self):
        return 1 if self.sampling is None else int(round(1 / self.sampling))


def _p(p):
    return f'{p:g}'


def variants(cfg):
    """{key: Variant} of every net the configured studies train, parents before children."""
    out = {}

    def add(v):
        out[v.key] = v
    if set(cfg.studies) - {'table1'}:
        add(Variant('fcn32s', 'FCN-32s'))
    if 'table2' in cfg.studies:
        add(Variant('fcn32s-fixed', 'FCN-32s-fixed', fixed_trunk=True))
        add(Variant('fcn32s-continued', f'FCN-32s, {cfg.iters} more it. (control)', parent='fcn32s', rate_of=16))
    need16 = {'table2', 'upsampling', 'stitch'} & set(cfg.studies)
    if need16:
        add(Variant('fcn16s', 'FCN-16s', 16, parent='fcn32s'))
    if 'table2' in cfg.studies:
        for stride, parent in ((8, 'fcn16s'), (4, 'fcn8s'), (2, 'fcn4s')):
            add(Variant(f'fcn{stride}s', f'FCN-{stride}s', stride, parent=parent))
    if 'sampling' in cfg.studies:
        for p in cfg.sampling:
            add(Variant(f'sampled-{_p(p)}', f'FCN-32s, p = {_p(p)}', sampling=float(p)))
    if 'balancing' in cfg.studies:
        add(Variant('balanced', f'FCN-32s, class-balanced ({cfg.balancing})', balanced=True))
    if 'augmentation' in cfg.studies:
        add(Variant('augmented', f'FCN-32s, mirror + jitter {cfg.jitter}', augmented=True))
    if 'upsampling' in cfg.studies:
        add(Variant('fcn16s-learned', 'FCN-16s, learned upsampling', 16, parent='fcn32s', upsampling='learned'))
    return out


def study_variants(cfg, study):
    """The keys of the variants a study compares, in the order of its table."""
    return {'table2': ['fcn32s-fixed', 'fcn32s', 'fcn32s-continued', 'fcn16s', 'fcn8s', 'fcn4s', 'fcn2s'],
            'sampling': [f'sampled-{_p(p)}' for p in cfg.sampling],
            'balancing': ['fcn32s', 'balanced'],
            'augmentation': ['fcn32s', 'augmented'],
            'upsampling': ['fcn16s', 'fcn16s-learned'],
            'stitch': ['fcn32s', 'fcn16s'],
            'table1': [table1_key(name) for name in table1.NETS]}[study]


def _lr(cfg, v):
    """The variant's base_lr: its stage's rate; a sampled variant's times iter_size = 1/p, since Caffe divides the
    1/p passes' summed diffs by iter_size: the update's expectation is then whole-image training's (the paper's
    fixed expected batch), only its variance differs."""
    return cfg.lrs[STRIDES.index(v.rate_of or v.stride)] * v.iter_size


# -- the nets of one variant ------------------------------------------------------------------------------------

def _with_sampling_layer(net_param, keep):
    """The net with its LossSamplingLayer's keep set to `keep` (softmax_loss adds the layer only for keep < 1:
    the study's p = 1 runs through the layer too, so that its row checks the layer's pass-through)."""
    for layer in net_param.layer:
        if layer.type == 'Python' and layer.python_param.layer == 'LossSamplingLayer':
            params = ast.literal_eval(layer.python_param.param_str)
            params['keep'] = float(keep)
            layer.python_param.param_str = repr(params)
            return net_param
    raise ValueError('no LossSamplingLayer in the net')


def train_net(cfg, info, v, weights=None, folder=None):
    """The variant's training net (its options, the train split's data layer; dataset paths relative to
    `folder`, see nets.voc_source)."""
    params = dict(info['params'][VOC.train_split])
    if v.augmented:
        params.update(mirror=True, jitter=int(cfg.jitter))
    kw = dict(stride=v.stride, num_classes=cfg.num_classes, crop=cfg.crop, upsampling=v.upsampling,
              trunk_lr_mult=0 if v.fixed_trunk else 1, class_weights=weights)
    if v.sampling is not None:
        kw['loss_sampling'] = v.sampling if v.sampling < 1 else 0.5
    net = nets.fcn(nets.voc_source(params, VOC.train_split, folder), **kw)
    return _with_sampling_layer(net, v.sampling) if v.sampling == 1 else net


def val_net(cfg, info, v, folder=None):
    """The variant's net on the val split with the plain summed loss (every variant scored alike)."""
    return nets.fcn(nets.voc_source(info['params'][VOC.eval_split], VOC.eval_split, folder), stride=v.stride,
                    num_classes=cfg.num_classes, crop=cfg.crop, upsampling=v.upsampling)


def write_variant(cfg, info, v, folder, weights=None):
    """train.prototxt, val.prototxt and solver.prototxt of a variant in `folder`."""
    os.makedirs(folder, exist_ok=True)
    write_text(train_net(cfg, info, v, weights, folder), os.path.join(folder, 'train.prototxt'))
    write_text(val_net(cfg, info, v, folder), os.path.join(folder, 'val.prototxt'))
    _write_solver(cfg, folder, _lr(cfg, v), v.iter_size)


def _write_solver(cfg, folder, base_lr, iter_size=1):
    """The demo's recipe as solver.prototxt in `folder`: fixed rate, momentum 0.99, weight decay 5e-4, scoring by
    the caller (test_interval never reached)."""
    s = caffe_pb2.SolverParameter(train_net='train.prototxt', test_net=['val.prototxt'], test_iter=[cfg.n_val],
                                  test_interval=999999999, display=10, average_loss=1, lr_policy='fixed',
                                  base_lr=base_lr, momentum=0.99, iter_size=iter_size,
                                  max_iter=100000, weight_decay=5e-4, test_initialization=False)
    write_files(folder, {'solver.prototxt': s})


class _LossCurve:
    """A solver callback: the loss of every iteration (average_loss 1: the iteration's own, over its iter_size
    passes)."""

    def __init__(self, solver):
        self.solver, self.losses = solver, []

    def on_gradients_ready(self):
        self.losses.append(float(self.solver.smoothed_loss))


def train_variant(cfg, info, v, init, folder, seed, weights=None, progress=False):
    """Train a variant from `init` for cfg.iters iterations, scoring every cfg.score_every; returns its record:
    final metrics, the loss of every iteration, the val curve [(iteration, training seconds, mean IU)],
    training seconds (scoring excluded), the final weights' path and each layer's largest weight change."""
    write_variant(cfg, info, v, folder, weights)
    record = _train_folder(cfg, folder, init, seed, v.label, progress)
    return {'key': v.key, 'label': v.label, 'stride': v.stride, 'init': init, 'iters': cfg.iters,
            'iter_size': v.iter_size, 'base_lr': _lr(cfg, v), 'options': dataclasses.asdict(v), **record}


def _train_folder(cfg, folder, init, seed, label, progress=False):
    """Train the net of `folder` (train/val/solver.prototxt) from `init` for cfg.iters iterations, scoring every
    cfg.score_every; returns final metrics, the loss of every iteration, the val curve, training seconds, the
    final weights' path and each layer's largest weight change."""
    with open(os.path.join(folder, 'scores.log'), 'w') as scores_log, \
            _SolverLog(os.path.join(folder, 'train.log')):
        solver = get_solver(solver_param(folder, random_seed=seed), progress_bar=progress)
        initialize(solver, init)
        start = solver.net.to_arrays()
        curve = _LossCurve(solver)
        solver.callbacks.append(curve)
        seconds, val_curve, report = 0.0, [], None
        while solver.iter < cfg.iters:
            t = time.perf_counter()
            solver.step(min(cfg.score_every, cfg.iters - solver.iter))
            seconds += time.perf_counter() - t
            if solver.requested_early_exit:
                raise FloatingPointError(f'{label}: the loss became NaN or infinite at iteration {solver.iter}')
            report = score(solver, folder, out=scores_log, progress=False)[VOC.heads[0].label]
            val_curve.append([solver.iter, seconds, float(report['mean_iu'])])
    path = os.path.join(folder, 'final.caffemodel')
    solver.net.save(path)
    change = {k: max(float(np.abs(a - b).max()) for a, b in zip(blobs, start[k]))
              for k, blobs in solver.net.to_arrays().items()}
    for net in (solver.net, *solver.test_nets):
        _close_data_layers(net)
    return {'metrics': {k: float(report[k]) for k, _ in METRICS}, 'val_loss': float(report['loss']),
            'hist': np.asarray(report['hist']).tolist(), 'loss_curve': curve.losses, 'val_curve': val_curve,
            'train_seconds': seconds, 'seconds_per_iter': seconds / cfg.iters, 'weights': path,
            'max_weight_change': change}


# -- shift-and-stitch -------------------------------------------------------------------------------------------

def _deploy(cfg, stride, **kw):
    return nets.fcn(input_data((1, 3, cfg.crop, cfg.crop)), stride=stride, num_classes=cfg.num_classes,
                    crop=cfg.crop, **kw)


def _layer_index(net, name):
    names = [layer.name for layer in net.layers]
    return names.index(name)


def stitch_nets(cfg, weights32):
    """(FCN-32s, the rarefied net) on FCN-32s's weights. The rarefied net is the pool5-stride-1 FCN-16s-shaped
    net (fc6 dilated by 2, score_fr at stride 16, the fixed 32x32 bilinear upscore of stride 16, crop): it holds
    FCN-32s's weights except its own upscore (bilinear by surgery.interp), and its head turns the stitched score_fr
    into a prediction with netspec's crop offset."""
    net32 = Net(_deploy(cfg, 32), weights=weights32)
    rare = Net(_deploy(cfg, 16, pool5_stride=1))
    arrays = {k: a for k, a in net32.to_arrays().items() if k != 'upscore'}
    rare.load_arrays(arrays, source=weights32)
    interp(rare, ['upscore'])
    return net32, rare


def stitched_prediction(net32, rare, data):
    """(stitched score, rarefied score, seconds of the stitched one) for one image: score_fr of FCN-32s from
    2 x 2 copies shifted by 16 px (output stride 16), put in place of the rarefied net's score_fr and carried through
    its upscore and crop."""
    with torch.no_grad():
        dense = rare.forward(data=data)['score'].clone()
        coarse = rare.blobs['score_fr']
        t = time.perf_counter()
        stitched = shift_and_stitch(net32, 2, {'data': data}, blob='score_fr', step=16)
        h, w = coarse.shape[2:]
        if stitched.shape[2] < h or stitched.shape[3] < w:   # the shifted windows are 16 px smaller: pad the edge
            stitched = torch.nn.functional.pad(stitched, (0, max(0, w - stitched.shape[3]),
                                                          0, max(0, h - stitched.shape[2])), mode='replicate')
        rare.set_blob('score_fr', stitched[:, :, :h, :w].contiguous())
        rare.forward_range(_layer_index(rare, 'upscore'))
        out = rare.blobs['score'].clone()
        seconds = time.perf_counter() - t
    return out, dense, seconds


def score_stitched(cfg, info, weights32, weights16):
    """Shift-and-stitch vs skip fusion at output stride 16, over the val split: {'FCN-32s + shift-and-stitch',
    'FCN-32s rarefied', 'FCN-16s'}: metrics, hist and forward seconds per image (FCN-16s: one forward)."""
    ds = VOCSeg(info['params'][VOC.eval_split])
    net32, rare = stitch_nets(cfg, weights32)
    net16 = Net(_deploy(cfg, 16), weights=weights16)
    hists = {k: np.zeros((cfg.num_classes,) * 2, np.int64) for k in ('stitched', 'rarefied', 'fcn16s')}
    seconds = {k: 0.0 for k in hists}
    agree = []
    for i in range(len(ds)):
        data, label = ds.load(i)
        gt = label[0, 0].astype(np.uint8)
        stitched, dense, s = stitched_prediction(net32, rare, data)
        seconds['stitched'] += s
        t = time.perf_counter()
        with torch.no_grad():
            fused = net16.forward(data=data)['score']
        seconds['fcn16s'] += time.perf_counter() - t
        for key, sc in (('stitched', stitched), ('rarefied', dense), ('fcn16s', fused)):
            hists[key] += fast_hist(gt, sc[0].argmax(0).numpy().astype(np.uint8), cfg.num_classes)
        agree.append(float((stitched.argmax(1) == dense.argmax(1)).double().mean()))
    labels = {'stitched': 'FCN-32s + shift-and-stitch (f = 2)', 'rarefied': 'FCN-32s rarefied (pool5 stride 1)',
              'fcn16s': 'FCN-16s (skip fusion)'}
    rows = {}
    for key, hist in hists.items():
        s = scores(hist)
        rows[key] = {'label': labels[key], 'stride': 16, 'metrics': {k: float(s[k]) for k, _ in METRICS},
                     'hist': hist.tolist(), 'seconds_per_image': seconds.get(key, 0.0) / len(ds)}
    rows['rarefied']['seconds_per_image'] = None
    rows['stitched']['argmax_agreement_with_rarefied'] = float(np.mean(agree))
    return rows


# -- Table 1: three classifiers cast into FCN-32s -----------------------------------------------------------------

def table1_key(name):
    """The run key of a Table 1 net ('table1-vgg16' for 'FCN-VGG16')."""
    return 'table1-' + name[len('FCN-'):].lower()


def cast_classifier(cfg, name, classifier_weights, path):
    """Surgery as the paper does it: the classifier's weights transplanted by name into the deploy FCN-32s
    (InnerProduct fc6 / fc7 coerced into its convolutions), the classifier layers dropped, score_fr left at
    Caffe's zero init, the upsampling bilinear (surgery.interp); writes the initialization to `path`. Returns
    {'copied': [layers], 'coerced': [layers], 'dropped': [classifier layers]}."""
    width = cfg.table1_width
    clf = Net(table1.classifier_net(name, batch=1, num_classes=cfg.num_classes - 1, width=width),
              weights=classifier_weights)
    fcn = Net(table1.fcn_net(name, input_data((1, 3, cfg.crop, cfg.crop)), num_classes=cfg.num_classes,
                             width=width))
    lines = []
    copied = transplant(fcn, clf, log=lines.append)
    interp(fcn)
    fcn.save(path)
    coerced = [line.split()[1].rstrip(':') for line in lines if line.startswith('coercing ')]
    dropped = [line.split()[1] for line in lines if line.startswith('dropping ')]
    return {'copied': copied, 'coerced': coerced, 'dropped': dropped}


def _write_table1(cfg, info, name, folder):
    """train.prototxt, val.prototxt (the trunk's FCN-32s on the demo's splits, without dropout as the demo's
    nets: in a run this short it only slows the learning) and solver.prototxt in `folder`."""
    os.makedirs(folder, exist_ok=True)
    for fname, split in VOC.nets:
        net = table1.fcn_net(name, nets.voc_source(info['params'][split], split), num_classes=cfg.num_classes,
                             width=cfg.table1_width, dropout=False)
        write_text(net, os.path.join(folder, fname))
    _write_solver(cfg, folder, cfg.table1_lrs[table1.NETS.index(name)])


def train_table1(cfg, demo, info, name, folder, progress=False):
    """One Table 1 net: its classifier trained as the demo's (demo's settings, the net's own crop), cast into
    FCN-32s, FCN-32s trained; returns the run record with the classifier's held-out accuracy and the surgery."""
    t = time.perf_counter()
    crop = table1.CLASSIFIER_CROP[name]
    clf_net = table1.classifier_net(name, batch=demo.clf_batch, num_classes=cfg.num_classes - 1,
                                    width=cfg.table1_width)
    clf_lr = cfg.table1_clf_lrs[table1.NETS.index(name)]
    clf_weights, clf_acc, _ = train_classifier(dataclasses.replace(demo, crop=crop, clf_lr=clf_lr),
                                               os.path.join(folder, 'classifier'), progress, net_param=clf_net)
    init = os.path.join(folder, 'fcn32s-init.caffemodel')
    surgery = cast_classifier(cfg, name, clf_weights, init)
    clf_seconds = time.perf_counter() - t
    _write_table1(cfg, info, name, folder)
    record = _train_folder(cfg, folder, init, demo.seed, name, progress)
    return {'key': table1_key(name), 'label': name, 'stride': 32, 'init': init, 'iters': cfg.iters, 'iter_size': 1,
            'base_lr': cfg.table1_lrs[table1.NETS.index(name)], 'width': cfg.table1_width, 'classifier_crop': crop,
            'classifier_lr': clf_lr, 'classifier_accuracy': clf_acc, 'classifier_seconds': clf_seconds,
            'surgery': surgery, **record}


# -- one seed ---------------------------------------------------------------------------------------------------

def _balance_weights(cfg, info):
    freq = class_frequencies(SBDDSeg(info['params'][VOC.train_split]), cfg.num_classes)
    return [float(w) for w in class_weights(freq, cfg.balancing)]


def run_seed(cfg, seed, say, progress):
    """Every configured study for one seed: data, classifier, surgery, the variants, shift-and-stitch."""
    out = os.path.join(cfg.out, f'seed{seed}')
    demo = Config(**cfg.demo_kw(seed, out))
    t = time.perf_counter()
    info = make_dataset(demo)
    todo = variants(cfg)
    init = clf_acc = None
    if todo:
        clf_weights, clf_acc, _ = train_classifier(demo, os.path.join(out, 'classifier'), progress)
        init = os.path.join(out, 'fcn32s-init.caffemodel')
        convolutionalize(demo, clf_weights, init)
        say(f'seed {seed}: data {kernels.dataset_fingerprint(info["root"])}, classifier held-out accuracy '
            f'{100 * clf_acc:.1f}% ({time.perf_counter() - t:.0f} s)')
    else:
        say(f'seed {seed}: data {kernels.dataset_fingerprint(info["root"])}')
    weights = _balance_weights(cfg, info) if 'balancing' in cfg.studies else None
    runs = {}
    if 'table1' in cfg.studies:
        for name in table1.NETS:
            r = train_table1(cfg, demo, info, name, os.path.join(out, table1_key(name)), progress)
            runs[r['key']] = r
            say(f"  {name:14s} classifier {100 * r['classifier_accuracy']:5.1f}% ({r['classifier_seconds']:.0f} s), "
                f"FCN-32s mean IU {100 * r['metrics']['mean_iu']:5.1f}  ({r['train_seconds']:.0f} s)")
    for v in todo.values():
        start = init if v.parent is None else runs[v.parent]['weights']
        r = train_variant(cfg, info, v, start, os.path.join(out, v.key), seed,
                          weights=weights if v.balanced else None, progress=progress)
        runs[v.key] = r
        say(f'  {v.label:40s} mean IU {100 * r["metrics"]["mean_iu"]:5.1f}  ({r["train_seconds"]:.0f} s)')
    record = {'seed': seed, 'data_fingerprint': kernels.dataset_fingerprint(info['root']),
              'classifier_accuracy': clf_acc, 'init': init, 'class_weights': weights, 'runs': runs}
    if 'stitch' in cfg.studies:
        record['stitch'] = score_stitched(cfg, info, runs['fcn32s']['weights'], runs['fcn16s']['weights'])
    return record


# -- the tables -------------------------------------------------------------------------------------------------

def _rows(cfg, seeds, study):
    """[(label, {metric: mean over seeds}, [mean IU per seed], extra {name: mean over seeds})] of a study."""
    if study == 'stitch':
        keys = ('stitched', 'rarefied', 'fcn16s')
        per_seed = [[s['stitch'][k] for k in keys] for s in seeds]
        base = [s['runs']['fcn32s'] for s in seeds]
        per_seed = [[dict(b, label='FCN-32s (stride 32)')] + rows for b, rows in zip(base, per_seed)]
    else:
        per_seed = [[s['runs'][k] for k in study_variants(cfg, study)] for s in seeds]
    out = []
    for i, row in enumerate(per_seed[0]):
        same = [p[i] for p in per_seed]
        mean = {k: float(np.mean([r['metrics'][k] for r in same])) for k, _ in METRICS}
        extra = {}
        for name in ('train_seconds', 'seconds_per_iter', 'seconds_per_image', 'classifier_accuracy'):
            vals = [r.get(name) for r in same]
            if all(isinstance(x, float) for x in vals):
                extra[name] = float(np.mean(vals))
        out.append((row['label'], mean, [r['metrics']['mean_iu'] for r in same], extra))
    return out


def _table(rows, n_seeds, extra=()):
    head = f"{'':44s}" + ''.join(f'{label:>12s}' for _, label in METRICS)
    if n_seeds > 1:
        head += '   mean IU per seed'
    head += ''.join(f'{title:>14s}' for title, _, _ in extra)
    lines = [head]
    for label, mean, per_seed, ex in rows:
        line = label.ljust(44) + ''.join(f'{100 * mean[k]:12.1f}' for k, _ in METRICS)
        if n_seeds > 1:
            line += '   ' + ' / '.join(f'{100 * m:.1f}' for m in per_seed)
        for _, name, fmt in extra:
            line += f'{fmt(ex[name]):>14s}' if name in ex else f"{'-':>14s}"
        lines.append(line)
    return lines


TITLES = {'table2': 'Table 2: skip FCNs (staged; FCN-32s-fixed: only score_fr learned)',
          'sampling': 'Fig. 5: loss sampling p with iter_size 1/p, base_lr x 1/p (fixed expected batch)',
          'balancing': 'class balancing (sec. 4.3)',
          'augmentation': 'augmentation (sec. 4.3)',
          'upsampling': 'learned vs frozen 2x upsampling (sec. 3.3 / 4.2)',
          'stitch': 'shift-and-stitch vs skip fusion at output stride 16 (sec. 3.2 / 4.2)',
          'table1': 'Table 1: ILSVRC classifiers cast into FCN-32s (sec. 4.1; one recipe, synthetic data)'}


def format_tables(cfg, seeds):
    """{study: [lines]}: the paper's four metrics in percent (the mean over seeds), per study."""
    tables = {}
    secs = ('train s', 'train_seconds', lambda x: f'{x:.1f}')
    for study in cfg.studies:
        rows = _rows(cfg, seeds, study)
        extra = ()
        if study == 'sampling':
            extra = (secs, ('s / iter', 'seconds_per_iter', lambda x: f'{x:.3f}'))
            base = rows[0][3].get('train_seconds') if rows else None
            rows = [(label, mean, per, dict(ex, relative=ex['train_seconds'] / base) if base else ex)
                    for label, mean, per, ex in rows]
            extra += (('time vs first', 'relative', lambda x: f'{x:.2f}x'),)
        elif study == 'stitch':
            extra = (('s / image', 'seconds_per_image', lambda x: f'{x:.3f}'),)
        elif study == 'table1':
            extra = (('classifier', 'classifier_accuracy', lambda x: f'{100 * x:.1f}%'), secs)
        else:
            extra = (secs,)
        tables[study] = [TITLES[study]] + _table(rows, len(seeds), extra)
    return tables


# -- the loss curves --------------------------------------------------------------------------------------------

def _smooth(values, k=10):
    v = np.asarray(values, float)
    if len(v) < k:
        return v
    return np.convolve(v, np.ones(k) / k, mode='valid')


def plot_curves(cfg, seeds, path):
    """One panel per study: each variant's training loss (10-iteration mean, first seed), and Fig. 5's mean IU
    against training time for the sampling study."""
    studies = list(cfg.studies)
    panels = len(studies) + (1 if 'sampling' in studies else 0)
    cols = min(panels, 3)
    rows = -(-panels // cols)
    fig = Figure(figsize=(5 * cols, 4 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    axes = axes[:panels]
    runs = seeds[0]['runs']
    for ax, study in zip(axes, studies):
        for key in study_variants(cfg, study):
            ax.plot(_smooth(runs[key]['loss_curve']), label=runs[key]['label'])
        ax.set(title=f"{study} (seed {seeds[0]['seed']})", xlabel='iteration', ylabel='loss (summed, 10-it. mean)',
               yscale='log')
        ax.legend(fontsize=7)
    if 'sampling' in studies:
        ax = axes[-1]
        for key in study_variants(cfg, 'sampling'):
            pts = np.array(runs[key]['val_curve'])
            ax.plot(pts[:, 1], 100 * pts[:, 2], 'o-', label=runs[key]['label'])
        ax.set(title=f"Fig. 5: val mean IU vs training time (seed {seeds[0]['seed']})", xlabel='training seconds',
               ylabel='mean IU (%)')
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=72)


# -- the whole run ----------------------------------------------------------------------------------------------

def _jsonable(obj):
    """obj as JSON holds it (tuples as lists, non-finite floats kept as json writes them)."""
    return json.loads(json.dumps(obj))


def run(cfg, out=None):
    """Run the configured studies for every seed; print progress and the tables to `out`; write results.json and
    curves.png under cfg.out; return the results (as results.json holds them)."""
    cfg.check()
    with kernels.cpu_settings(cfg.threads, cfg.pinned_kernels):
        return _run(dataclasses.replace(cfg, out=os.path.abspath(cfg.out)), out or sys.stdout)


def _run(cfg, out):
    def say(msg=''):
        print(msg, file=out, flush=True)
    progress = sys.stderr.isatty() if cfg.progress is None else cfg.progress
    t0 = time.perf_counter()
    os.makedirs(cfg.out, exist_ok=True)
    used = kernels.in_effect(onednn=torch.backends.mkldnn.enabled)
    off = kernels.differences(used)
    say(f"CPU kernels: torch {used['torch']}, ATen {used['aten_capability']}, MKL_CBWR {used['mkl_cbwr']}, "
        f"oneDNN {'on' if used['onednn'] else 'off'}, {used['threads']} thread(s)"
        + (f"; not the pinned path ({', '.join(off)})" if off else ''))
    count = len(variants(cfg)) + (len(table1.NETS) if 'table1' in cfg.studies else 0)
    say(f"{count} nets per seed, {cfg.iters} iterations each, seeds {', '.join(map(str, cfg.seeds))}")
    seeds = [run_seed(cfg, seed, say, progress) for seed in cfg.seeds]
    tables = format_tables(cfg, seeds)
    curves = os.path.join(cfg.out, 'curves.png')
    plot_curves(cfg, seeds, curves)
    total = time.perf_counter() - t0
    results = _jsonable({
        'config': dataclasses.asdict(cfg), 'environment': {**used, 'pinned_path': not off, 'python': sys.version,
                                                           'numpy': np.__version__},
        'studies': list(cfg.studies), 'metric_names': dict(METRICS), 'tables': tables, 'seeds': seeds,
        'p1_sampling_equals_fcn32s': _p1_equal(cfg, seeds), 'seconds': total,
        'files': {'results': os.path.join(cfg.out, 'results.json'), 'curves': curves}})
    _write_json(results, results['files']['results'])
    say()
    say(f'val split: {VOC.eval_split}, {cfg.n_val} images; metrics in %' + (
        f', the mean over seeds {", ".join(map(str, cfg.seeds))}' if len(cfg.seeds) > 1 else ''))
    for study in cfg.studies:
        say()
        for line in tables[study]:
            say('  ' + line)
    if results['p1_sampling_equals_fcn32s'] is not None:
        say()
        say(f"p = 1 through the sampling layer gives FCN-32s's loss curve bit for bit: "
            f"{results['p1_sampling_equals_fcn32s']}")
    say()
    say(f'done in {total:.0f} s. results.json and curves.png in {cfg.out}')
    return results


def _p1_equal(cfg, seeds):
    """Whether the p = 1 run's loss of every iteration equals FCN-32s's, every seed (None without that run)."""
    key = f'sampled-{_p(1.0)}'
    if 'sampling' not in cfg.studies or 1.0 not in [float(p) for p in cfg.sampling]:
        return None
    return all(s['runs'][key]['loss_curve'] == s['runs']['fcn32s']['loss_curve'] for s in seeds)
