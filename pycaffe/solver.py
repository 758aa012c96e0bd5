"""caffe.SGDSolver & co. and caffe.get_solver: pycaffe's Solver over the solvers package.

As in Caffe: relative paths in the solver.prototxt (train_net, test_net, snapshot_prefix) are relative to the
working directory; a solver whose snapshot folder cannot be written is refused when it is built; SGDSolver(file) updates with SGD whatever `type` the file names (get_solver follows `type`);
the test nets keep their own weights until they share the train net's: `test_nets[i].share_with(net)`, or a test
the solver runs itself (test_interval), which shares them for good, as Solver::Test does.
"""
import os

import runtime
import solvers
from netspec import caffe_pb2

from . import _mode, _sync
from .net import Net, check_file


def _shares(test_net, train_net):
    """Whether every parameter `test_net` has in common with `train_net` is the same memory."""
    src = train_net.params
    for layer, ps in test_net.params.items():
        for t, s in zip(ps, src.get(layer, [])):
            if t.data_ptr() != s.data_ptr():
                return False
    return True


def _own_copies(net, values):
    """Give the parameters of `net` their own memory holding `values` (undoes a sharing)."""
    for ps, vs in zip(net.params.values(), values):
        for p, v in zip(ps, vs):
            p.data = v


def _check_snapshot_folder(param):
    """Solver::CheckSnapshotWritePermissions (solvers.snapshots.check_snapshot_prefix), failing as Caffe's CHECK
    does in pycaffe: a RuntimeError."""
    try:
        solvers.snapshots.check_snapshot_prefix(param)
    except OSError as e:
        raise RuntimeError(str(e)) from None


class _Callback:
    """A Python callback as Solver::add_callback calls it, with the nets' arrays up to date around it."""

    def __init__(self, solver, on_start, on_gradients_ready):
        self._solver, self._start, self._ready = solver, on_start, on_gradients_ready

    def _call(self, fn):
        _sync.after_call()
        self._solver._after_call()
        try:
            fn()
        finally:
            _sync.before_call()

    def on_start(self):
        self._call(self._start)

    def on_gradients_ready(self):
        self._call(self._ready)


class SolverParameter:
    """A solver's parameters as Caffe's binding shows them (Solver.param): max_iter, display, layer_wise_reduce."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError('caffe._caffe.SolverParameter: this class cannot be instantiated from Python (Caffe\'s '
                           'no_init; a solver\'s .param is one)')

    @classmethod
    def _of(cls, param):
        self = cls.__new__(cls)
        self._max_iter, self._display = int(param.max_iter), int(param.display)
        self._layer_wise_reduce = bool(param.layer_wise_reduce)
        return self

    @property
    def max_iter(self):
        return self._max_iter

    @property
    def display(self):
        return self._display

    @property
    def layer_wise_reduce(self):
        return self._layer_wise_reduce


class Solver:
    """A solver read from a solver.prototxt (pycaffe's Solver: net, test_nets, iter, param, step, solve, restore,
    snapshot, add_callback)."""

    _kind = None           # the update rule a subclass fixes (None: the file's `type`)

    def __init__(self, filename):
        check_file(filename)
        param, _ = solvers.load_param(os.fspath(filename), base_dir=os.getcwd())
        _check_snapshot_folder(param)
        device = _mode.device()
        own = []

        def make(proto, phase, state):
            net = runtime.Net(proto, phase='train' if phase == caffe_pb2.TRAIN else 'test', device=device,
                              stages=tuple(state.stage), level=state.level, memory_format='contiguous')
            if phase != caffe_pb2.TRAIN:
                own.append([[p.detach().clone() for p in ps] for ps in net.params.values()])
            return net

        cls = solvers.get_solver if self._kind is None else getattr(solvers, f'{self._kind}Solver')
        _sync.before_call()
        self._s = cls(param, device=device, net_factory=make)
        for tn, values in zip(self._s.test_nets, own):     # pycaffe: shared only after share_with or a test
            _own_copies(tn, values)
        self._net = Net._wrap(self._s.net, self)
        self._test_nets = [Net._wrap(t, self) for t in self._s.test_nets]
        _sync.after_call()

    @property
    def net(self):
        return self._net

    @property
    def test_nets(self):
        return list(self._test_nets)

    @property
    def iter(self):
        return self._s.iter

    @property
    def type(self):
        return self._s.type

    @property
    def param(self):
        """Solver::param as Caffe's binding shows it: max_iter, display, layer_wise_reduce (a copy)."""
        return SolverParameter._of(self._s.param)

    def _check_device(self):
        dev = _mode.device()
        if self._s.net.device != dev:
            raise RuntimeError(f'the mode is now {dev} but the solver was built on {self._s.net.device}: a solver '
                               'stays on the device it was built on here (set the mode before building it)')

    def _after_call(self):
        for n in [self._net] + self._test_nets:
            n._refresh()
            n._take_diffs(list(n._rt.blob_diffs))

    def _run(self, fn, *args):
        self._check_device()
        _sync.before_call()
        try:
            return fn(*args)
        finally:
            _sync.after_call()
            self._after_call()

    def step(self, iters):
        """Solver::Step: `iters` iterations (forward, backward, update), whatever max_iter says."""
        self._run(self._s.step, int(iters))

    def apply_update(self):
        """Solver::ApplyUpdate: the update rule on the parameters' current diffs at the current iteration's rate
        (the iteration count does not move)."""
        self._run(self._s.apply_update)

    def solve(self, resume_file=None):
        """Solver::Solve: restore from `resume_file` if given, then step to max_iter and snapshot."""
        self._run(self._s.solve, resume_file)

    def restore(self, state_file):
        """Solver::Restore: iter, weights, history (and the RNG sidecar this project writes beside it)."""
        unshared = [(tn, [[p.detach().clone() for p in ps] for ps in tn.params.values()])
                    for tn in self._s.test_nets if not _shares(tn, self._s.net)]
        self._run(self._s.restore, os.fspath(state_file))
        for tn, values in unshared:               # Caffe's Restore shares nothing
            _own_copies(tn, values)

    def snapshot(self):
        """Solver::Snapshot: <prefix>_iter_N.caffemodel and .solverstate (or the HDF5 pair)."""
        self._run(self._s.snapshot)

    def add_callback(self, *args):
        """Solver::add_callback(on_start, on_gradients_ready): on_start() before each iteration's passes,
        on_gradients_ready() before the update. A CPU build's other overload, Solver_add_nccl without USE_NCCL,
        takes no argument and does nothing; so add_callback() does nothing and add_callback(nccl) matches neither
        signature (Boost.Python's ArgumentError, a TypeError)."""
        if not args:
            return
        if len(args) != 2:
            names = ', '.join([type(self).__name__] + [type(a).__name__ for a in args])
            raise TypeError(f'Python argument types in\n    Solver.add_callback({names})\ndid not match C++ '
                            'signature:\n    add_callback(caffe::SGDSolver<float>*)\n    add_callback(caffe::Solver'
                            '<float>*, boost::python::api::object, boost::python::api::object)')
        on_start, on_gradients_ready = args
        self._s.callbacks.append(_Callback(self, on_start, on_gradients_ready))

    def __repr__(self):
        return f'<caffe.{type(self).__name__} iter {self.iter}>'


def _typed(kind):
    return type(f'{kind}Solver', (Solver,), {'_kind': kind, '__doc__': f"caffe.{kind}Solver(filename): Caffe's "
                                                                        f'{kind} update whatever the file says.'})


SGDSolver = _typed('SGD')
NesterovSolver = _typed('Nesterov')
AdaGradSolver = _typed('AdaGrad')
RMSPropSolver = _typed('RMSProp')
AdaDeltaSolver = _typed('AdaDelta')
AdamSolver = _typed('Adam')


def get_solver(filename):
    """caffe.get_solver: the solver of the type the file's `type` names (SolverRegistry::CreateSolver)."""
    check_file(filename)
    kind = solvers.load_param(os.fspath(filename), base_dir=os.getcwd())[0].type
    return _TYPES[kind](filename)


_TYPES = {k: globals()[f'{k}Solver'] for k in solvers.TYPES}
