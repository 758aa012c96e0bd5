"""The model folders: which nets and solver each holds, built from the per-net builders."""
import functools
import math
import os

from .. import caffe_pb2
from ..io import to_text, write_text, _atomic_write
from . import nets
from .parts import input_data, nyud_data, pascalcontext_data, siftflow_data, voc_data


class Folder:
    """One model folder: its nets (file name -> data source), its builder, and its solver settings."""

    def __init__(self, name, builder, splits, data, classes, solver, deploy=None, builder_kw=None):
        self.name, self.builder, self.splits, self.data = name, builder, splits, data
        self.classes, self.solver, self.deploy_source = classes, solver, deploy or input_data()
        self.builder_kw = builder_kw or {}

    def nets(self, width=1.0, num_classes=None):
        classes = self.classes if num_classes is None else num_classes
        if isinstance(self.classes, tuple) and not isinstance(classes, tuple):
            classes = (classes,) + self.classes[1:]    # SIFT Flow: num_classes sets the semantic head
        out = {}
        for fname, split in self.splits:
            out[fname] = self.builder(self.data(split), num_classes=classes, width=width, **self.builder_kw)
        out['deploy.prototxt'] = self.builder(self.deploy_source, num_classes=classes, width=width,
                                              **self.builder_kw)
        return out

    def solver_param(self):
        (train, _), (test, _) = self.splits
        return make_solver(train, test, **self.solver)


def make_solver(train_net, test_net, test_iter, base_lr, momentum=0.99, iter_size=1, max_iter=100000,
                snapshot=None):
    """The reference solver.prototxt settings (FACTS.md "Solver settings"): fixed lr, never tests by itself."""
    s = caffe_pb2.SolverParameter(train_net=train_net, test_net=[test_net], test_iter=[test_iter],
                                  test_interval=999999999, display=20, average_loss=20, lr_policy='fixed',
                                  base_lr=base_lr, momentum=momentum, iter_size=iter_size, max_iter=max_iter,
                                  weight_decay=0.0005, test_initialization=False)
    if snapshot:
        s.snapshot = snapshot
        s.snapshot_prefix = 'snapshot/train'
    return s


_VOC = (('train.prototxt', 'train'), ('val.prototxt', 'seg11valid'))
_TRAINVAL = (('trainval.prototxt', 'trainval'), ('test.prototxt', 'test'))
_PCONTEXT = (('train.prototxt', 'train'), ('val.prototxt', 'val'))


def _solver(test_iter, base_lr, **kw):
    return dict(test_iter=test_iter, base_lr=base_lr, **kw)


def _voc(root='../data'):
    return functools.partial(voc_data, root=root)


def _nyud(tops, names=None):
    return lambda split: nyud_data(split, tops=tops, names=names)


_VGG = nets.fcn_vgg16
_F = [
    Folder('voc-fcn32s', _VGG, _VOC, _voc(), 21, _solver(736, 1e-10, snapshot=4000), builder_kw=dict(stride=32)),
    Folder('voc-fcn16s', _VGG, _VOC, _voc('../../data'), 21, _solver(736, 1e-12, snapshot=4000),
           builder_kw=dict(stride=16)),
    Folder('voc-fcn8s', _VGG, _VOC, _voc(), 21, _solver(736, 1e-14, snapshot=4000), builder_kw=dict(stride=8)),
    Folder('voc-fcn8s-atonce', _VGG, _VOC, _voc(), 21, _solver(736, 1e-10, max_iter=300000, snapshot=4000),
           builder_kw=dict(stride=8, at_once=True)),
    Folder('voc-fcn-alexnet', nets.fcn_alexnet, _VOC, _voc(), 21,
           _solver(736, 1e-4, momentum=0.9, iter_size=20, snapshot=4000)),
    Folder('siftflow-fcn32s', nets.fcn_siftflow, _TRAINVAL, siftflow_data, (33, 3),
           _solver(200, 1e-10, max_iter=300000), builder_kw=dict(stride=32)),
    Folder('siftflow-fcn16s', nets.fcn_siftflow, _TRAINVAL, siftflow_data, (33, 3),
           _solver(200, 1e-12, max_iter=300000), builder_kw=dict(stride=16)),
    Folder('siftflow-fcn8s', nets.fcn_siftflow, _TRAINVAL, siftflow_data, (33, 3),
           _solver(200, 1e-12, max_iter=300000), builder_kw=dict(stride=8)),
    Folder('nyud-fcn32s-color', _VGG, _TRAINVAL, _nyud(('color', 'label'), ('data', 'label')), 40,
           _solver(654, 1e-10, max_iter=300000, snapshot=2000), builder_kw=dict(stride=32)),
    Folder('nyud-fcn32s-hha', _VGG, _TRAINVAL, _nyud(('hha', 'label'), ('data', 'label')), 40,
           _solver(654, 1e-10, max_iter=300000, snapshot=2000), builder_kw=dict(stride=32)),
    Folder('nyud-fcn32s-color-d', nets.fcn_nyud_early, _TRAINVAL, _nyud(('color', 'depth', 'label')), 40,
           _solver(654, 1e-10, max_iter=300000, snapshot=2000),
           deploy=input_data(tops=('color', 'depth'), shapes=[(1, 3, 500, 500), (1, 1, 500, 500)])),
    Folder('nyud-fcn32s-color-hha', nets.fcn_nyud_late, _TRAINVAL, _nyud(('color', 'hha', 'label')), 40,
           _solver(654, 1e-12, max_iter=300000, snapshot=2000), deploy=input_data(tops=('color', 'hha'))),
    Folder('pascalcontext-fcn32s', _VGG, _PCONTEXT, pascalcontext_data, 60,
           _solver(5105, 1e-10, max_iter=300000, snapshot=4000), builder_kw=dict(stride=32)),
    Folder('pascalcontext-fcn16s', _VGG, _PCONTEXT, pascalcontext_data, 60,
           _solver(5105, 1e-12, max_iter=300000, snapshot=4000), builder_kw=dict(stride=16)),
    Folder('pascalcontext-fcn8s', _VGG, _PCONTEXT, pascalcontext_data, 60,
           _solver(5105, 1e-14, max_iter=300000, snapshot=4000), builder_kw=dict(stride=8)),
]
# The paper's nets that the reference folders lack (same data and solver conventions as voc-fcn32s).
_EXTRA = [
    Folder('voc-fcn32s-fixed', _VGG, _VOC, _voc(), 21, _solver(736, 1e-10, snapshot=4000),
           builder_kw=dict(stride=32, fixed=True)),
    Folder('voc-fcn-googlenet', nets.fcn_googlenet, _VOC, _voc(), 21, _solver(736, 1e-10, snapshot=4000)),
]

REGISTRY = {f.name: f for f in _F + _EXTRA}
REFERENCE_FOLDERS = tuple(f.name for f in _F)
EXTRA_FOLDERS = tuple(f.name for f in _EXTRA)
FOLDERS = REFERENCE_FOLDERS + EXTRA_FOLDERS
# Files the reference folders hold (deploy.prototxt only in voc-fcn8s); make_folder adds deploy.prototxt everywhere.
REFERENCE_DEPLOY = ('voc-fcn8s',)


def folder(name):
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f'unknown model folder {name!r}; known: {", ".join(FOLDERS)}') from None


def make_folder(name, width=1.0, num_classes=None):
    """{file name: message} for a model folder: its two nets, deploy.prototxt and solver.prototxt."""
    if not width > 0:
        raise ValueError(f'width must be positive, not {width!r}')
    f = folder(name)
    out = f.nets(width=width, num_classes=num_classes)
    out['solver.prototxt'] = f.solver_param()
    return out


def _lr_text(x):
    """1e-10 as the reference writes it (a power of ten as 1e-N), other values as Python's shortest repr."""
    k = round(math.log10(x)) if x > 0 else None
    if k is not None and k < -3 and float(f'1e{k}') == x:
        return f'1e{k}'
    return repr(x)


def solver_text(s):
    """A SolverParameter in the reference's hand-written layout (field order and comments); any other set field
    follows in protobuf text format."""
    rest = caffe_pb2.SolverParameter()
    rest.CopyFrom(s)
    lines = []

    def take(field, text):
        lines.append(text)
        rest.ClearField(field)
    if s.HasField('train_net'):
        take('train_net', f'train_net: "{s.train_net}"')
    if len(s.test_net) == 1:
        take('test_net', f'test_net: "{s.test_net[0]}"')
    if len(s.test_iter) == 1:
        take('test_iter', f'test_iter: {s.test_iter[0]}')
    if s.HasField('test_interval'):
        lines.append("# make test net, but don't invoke it from the solver itself")
        take('test_interval', f'test_interval: {s.test_interval}')
    for field in ('display', 'average_loss'):
        if s.HasField(field):
            take(field, f'{field}: {getattr(s, field)}')
    if s.HasField('lr_policy'):
        take('lr_policy', f'lr_policy: "{s.lr_policy}"')
    if s.HasField('base_lr'):
        lines.append('# lr for unnormalized softmax' if s.iter_size == 1 else '# lr for normalized softmax')
        take('base_lr', f'base_lr: {_lr_text(float(f"{s.base_lr:.7g}"))}')
    if s.HasField('momentum'):
        lines.append('# high momentum' if s.momentum > 0.95 else '# standard momentum')
        take('momentum', f'momentum: {float(f"{s.momentum:.7g}")!r}')
    if s.HasField('iter_size'):
        lines.append('# no gradient accumulation' if s.iter_size == 1 else '# gradient accumulation')
        take('iter_size', f'iter_size: {s.iter_size}')
    if s.HasField('max_iter'):
        take('max_iter', f'max_iter: {s.max_iter}')
    if s.HasField('weight_decay'):
        take('weight_decay', f'weight_decay: {float(f"{s.weight_decay:.7g}")!r}')
    if s.HasField('snapshot'):
        take('snapshot', f'snapshot: {s.snapshot}')
    if s.HasField('snapshot_prefix'):
        take('snapshot_prefix', f'snapshot_prefix: "{s.snapshot_prefix}"')
    tail = []
    if s.HasField('test_initialization'):
        tail.append(f'test_initialization: {"true" if s.test_initialization else "false"}')
        rest.ClearField('test_initialization')
    extra = to_text(rest)
    return '\n'.join(lines) + '\n' + extra + ('\n'.join(tail) + '\n' if tail else '')


def write_folder(name, out_dir, **kw):
    """Write make_folder(name, **kw) into out_dir (atomically, file by file); returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for fname, msg in make_folder(name, **kw).items():
        path = os.path.join(out_dir, fname)
        if isinstance(msg, caffe_pb2.SolverParameter):
            _atomic_write(path, solver_text(msg), 'w')
        else:
            write_text(msg, path)
        paths.append(path)
    return paths
