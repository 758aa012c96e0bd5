"""The model folders: one Folder record each (its dataset family, nets, solver and training loop), the lookups
by name or path, and the writers of a folder's files."""
import dataclasses
import functools
import math
import os

from .. import caffe_pb2
from ..io import to_text, write_text, _atomic_write
from . import families, nets
from .parts import input_data, nyud_data, pascalcontext_data, siftflow_data, voc_data


@dataclasses.dataclass(frozen=True, eq=False)
class Folder:
    """One model folder: everything about it that netspec, solvers, scoring and tools look up.

    name: the folder's name as the reference has it; family: its DatasetFamily (classes, splits, data layers);
    builder: the per-net builder (nets.fcn_vgg16, ...) and builder_kw its arguments; data: split -> DataSource of
    its train/eval nets (deploy: the deploy net's source, default input_data()); solver: its solver.prototxt
    settings (make_solver's arguments but the nets and test_iter, which come from the family); iters and
    score_every: the loop of its solve.py (step(score_every) and score, to iters);
    init: what its solve.py initializes from; reference: one of the 15 folders of the reference repository (else
    one of the paper's nets that it lacks).
    """
    name: str
    family: families.DatasetFamily
    builder: object
    data: object
    solver: dict
    iters: int
    score_every: int
    init: str
    deploy: object = None
    builder_kw: dict = dataclasses.field(default_factory=dict)
    reference: bool = True

    @property
    def splits(self):
        """((train net file, split), (eval net file, split)), the family's."""
        return self.family.nets

    @property
    def classes(self):
        """The score layers' outputs (SIFT Flow: one count per head)."""
        return self.family.num_classes

    def nets(self, width=1.0, num_classes=None):
        classes = self.classes if num_classes is None else num_classes
        if isinstance(self.classes, tuple) and not isinstance(classes, tuple):
            classes = (classes,) + self.classes[1:]    # SIFT Flow: num_classes sets the semantic head
        out = {}
        for fname, split in self.splits:
            out[fname] = self.builder(self.data(split), num_classes=classes, width=width, **self.builder_kw)
        out['deploy.prototxt'] = self.builder(self.deploy or input_data(), num_classes=classes, width=width,
                                              **self.builder_kw)
        return out

    def solver_param(self):
        (train, _), (test, _) = self.splits
        return make_solver(train, test, test_iter=self.family.eval_images, **self.solver)


def make_solver(train_net, test_net, test_iter, base_lr, momentum=0.99, iter_size=1, max_iter=100000,
                snapshot=None):
    """The reference solver.prototxt settings: fixed lr, weight decay 5e-4, display and average_loss 20,
    test_interval 999999999 with test_initialization false (the solver never tests by itself: the folder's solve.py
    scores), and where `snapshot` is given a snapshot every `snapshot` iterations into snapshot/train."""
    s = caffe_pb2.SolverParameter(train_net=train_net, test_net=[test_net], test_iter=[test_iter],
                                  test_interval=999999999, display=20, average_loss=20, lr_policy='fixed',
                                  base_lr=base_lr, momentum=momentum, iter_size=iter_size, max_iter=max_iter,
                                  weight_decay=0.0005, test_initialization=False)
    if snapshot:
        s.snapshot = snapshot
        s.snapshot_prefix = 'snapshot/train'
    return s


def _voc(root='../data'):
    return functools.partial(voc_data, root=root)


def _nyud(tops, names=None):
    return lambda split: nyud_data(split, tops=tops, names=names)


def _solver(base_lr, **kw):
    return dict(base_lr=base_lr, **kw)


_VGG = nets.fcn_vgg16
_VGG_INIT = 'the convolutionalized VGG16 (ilsvrc-nets/vgg16-fcn.caffemodel, from tools/surgery.py)'
_VOC, _SIFT, _NYUD, _CONTEXT = families.VOC, families.SIFTFLOW, families.NYUD, families.PASCALCONTEXT
_VOC_LOOP = dict(iters=100000, score_every=4000)         # 25 x step(4000)
_SIFT_NYUD_LOOP = dict(iters=100000, score_every=2000)   # 50 x step(2000)
_CONTEXT_LOOP = dict(iters=400000, score_every=8000)     # 50 x step(8000)
_VOC_SOLVER = dict(snapshot=4000)
_SIFT_SOLVER = dict(max_iter=300000)
_NYUD_SOLVER = dict(max_iter=300000, snapshot=2000)
_CONTEXT_SOLVER = dict(max_iter=300000, snapshot=4000)

_F = [
    Folder('voc-fcn32s', _VOC, _VGG, _voc(), _solver(1e-10, **_VOC_SOLVER), init=_VGG_INIT, **_VOC_LOOP,
           builder_kw=dict(stride=32)),
    Folder('voc-fcn16s', _VOC, _VGG, _voc('../../data'), _solver(1e-12, **_VOC_SOLVER),
           init='voc-fcn32s trained weights', **_VOC_LOOP, builder_kw=dict(stride=16)),
    Folder('voc-fcn8s', _VOC, _VGG, _voc(), _solver(1e-14, **_VOC_SOLVER), init='voc-fcn16s trained weights',
           **_VOC_LOOP, builder_kw=dict(stride=8)),
    Folder('voc-fcn8s-atonce', _VOC, _VGG, _voc(), _solver(1e-10, max_iter=300000, **_VOC_SOLVER), init=_VGG_INIT,
           iters=300000, score_every=4000, builder_kw=dict(stride=8, at_once=True)),
    Folder('voc-fcn-alexnet', _VOC, nets.fcn_alexnet, _voc(),
           _solver(1e-4, momentum=0.9, iter_size=20, **_VOC_SOLVER), init='ilsvrc-nets/alexnet-fcn.caffemodel',
           **_VOC_LOOP),
    Folder('siftflow-fcn32s', _SIFT, nets.fcn_siftflow, siftflow_data, _solver(1e-10, **_SIFT_SOLVER),
           init=_VGG_INIT, **_SIFT_NYUD_LOOP, builder_kw=dict(stride=32)),
    Folder('siftflow-fcn16s', _SIFT, nets.fcn_siftflow, siftflow_data, _solver(1e-12, **_SIFT_SOLVER),
           init='siftflow-fcn32s trained weights', **_SIFT_NYUD_LOOP, builder_kw=dict(stride=16)),
    Folder('siftflow-fcn8s', _SIFT, nets.fcn_siftflow, siftflow_data, _solver(1e-12, **_SIFT_SOLVER),
           init='siftflow-fcn16s trained weights', **_SIFT_NYUD_LOOP, builder_kw=dict(stride=8)),
    Folder('nyud-fcn32s-color', _NYUD, _VGG, _nyud(('color', 'label'), ('data', 'label')),
           _solver(1e-10, **_NYUD_SOLVER), init=_VGG_INIT, **_SIFT_NYUD_LOOP, builder_kw=dict(stride=32)),
    Folder('nyud-fcn32s-hha', _NYUD, _VGG, _nyud(('hha', 'label'), ('data', 'label')),
           _solver(1e-10, **_NYUD_SOLVER), init=_VGG_INIT, **_SIFT_NYUD_LOOP, builder_kw=dict(stride=32)),
    Folder('nyud-fcn32s-color-d', _NYUD, nets.fcn_nyud_early, _nyud(('color', 'depth', 'label')),
           _solver(1e-10, **_NYUD_SOLVER), init='VGG16 by transplant + a 4th input channel (tools/surgery.py)',
           **_SIFT_NYUD_LOOP,
           deploy=input_data(tops=('color', 'depth'), shapes=[(1, 3, 500, 500), (1, 1, 500, 500)])),
    Folder('nyud-fcn32s-color-hha', _NYUD, nets.fcn_nyud_late, _nyud(('color', 'hha', 'label')),
           _solver(1e-12, **_NYUD_SOLVER), init='trained color and HHA FCN-32s by transplant (tools/surgery.py)',
           **_SIFT_NYUD_LOOP, deploy=input_data(tops=('color', 'hha'))),
    Folder('pascalcontext-fcn32s', _CONTEXT, _VGG, pascalcontext_data, _solver(1e-10, **_CONTEXT_SOLVER),
           init=_VGG_INIT, **_CONTEXT_LOOP, builder_kw=dict(stride=32)),
    Folder('pascalcontext-fcn16s', _CONTEXT, _VGG, pascalcontext_data, _solver(1e-12, **_CONTEXT_SOLVER),
           init='pascalcontext-fcn32s trained weights', **_CONTEXT_LOOP, builder_kw=dict(stride=16)),
    Folder('pascalcontext-fcn8s', _CONTEXT, _VGG, pascalcontext_data, _solver(1e-14, **_CONTEXT_SOLVER),
           init='pascalcontext-fcn16s trained weights', **_CONTEXT_LOOP, builder_kw=dict(stride=8)),
    # The paper's nets that the reference folders lack (same data, solver and loop as voc-fcn32s).
    Folder('voc-fcn32s-fixed', _VOC, _VGG, _voc(), _solver(1e-10, **_VOC_SOLVER), init=_VGG_INIT, **_VOC_LOOP,
           builder_kw=dict(stride=32, fixed=True), reference=False),
    Folder('voc-fcn-googlenet', _VOC, nets.fcn_googlenet, _voc(), _solver(1e-10, **_VOC_SOLVER),
           init='a convolutionalized GoogLeNet', **_VOC_LOOP, reference=False),
]

REGISTRY = {f.name: f for f in _F}
REFERENCE_FOLDERS = tuple(f.name for f in _F if f.reference)
EXTRA_FOLDERS = tuple(f.name for f in _F if not f.reference)
FOLDERS = REFERENCE_FOLDERS + EXTRA_FOLDERS
# Files the reference folders hold (deploy.prototxt only in voc-fcn8s); make_folder adds deploy.prototxt everywhere.
REFERENCE_DEPLOY = ('voc-fcn8s',)


def folder_name(path):
    """The name a model folder is known by: the last part of its path ('runs/voc-fcn32s/' -> 'voc-fcn32s')."""
    return os.path.basename(os.path.normpath(os.fspath(path)))


def folder(name):
    """The Folder record of a model folder, by name or path (its last part); KeyError naming the known ones."""
    try:
        return REGISTRY[folder_name(name)]
    except KeyError:
        raise KeyError(f'unknown model folder {name!r}; known: {", ".join(FOLDERS)}') from None


def find_folder(path):
    """The Folder record of a model folder by name or path (its last part), or None for one of another name."""
    return REGISTRY.get(folder_name(path))


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


def write_files(out_dir, messages, keep=False):
    """Write {file name: NetParameter or SolverParameter} into out_dir, atomically file by file: nets as Caffe's
    text format, a solver in the reference's layout (solver_text). keep=True leaves a file that exists as it is.
    Returns the paths written. The one writer of model folders (fcn-make-nets, the recipes, the demo)."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for fname, msg in messages.items():
        path = os.path.join(out_dir, fname)
        if keep and os.path.exists(path):
            continue
        if isinstance(msg, caffe_pb2.SolverParameter):
            _atomic_write(path, solver_text(msg), 'w')
        else:
            write_text(msg, path)
        paths.append(path)
    return paths


def write_folder(name, out_dir, keep=False, **kw):
    """Write make_folder(name, **kw) into out_dir (write_files; keep=True writes only the absent files); returns
    the paths written."""
    return write_files(out_dir, make_folder(name, **kw), keep=keep)
