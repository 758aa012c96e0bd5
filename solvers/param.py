"""solver.prototxt handling: Caffe's upgrades (legacy solver_type, default snapshot_prefix), its checks, and paths.

Relative paths (net, train_net, test_net, snapshot_prefix) resolve against the solver file's folder, so a solver
runs the same from any working directory (Caffe itself uses the working directory; FCN's solve.py runs in the
solver's folder, where the two agree).
"""
import os

from netspec.param_str import map_param_strs
from netspec import caffe_pb2, read_solver

from .rules import LEGACY_TYPES, check_param


class SolverParamError(ValueError):
    """A solver.prototxt that Caffe would refuse."""


def load_param(src, base_dir=None, where=None):
    """(SolverParameter, base folder) from a path, prototxt text or a SolverParameter, upgraded and checked.

    The returned message is a copy whose relative paths are resolved against `base_dir` (default: the solver
    file's folder, or the working directory for text and messages). `where`: the file a message or text was read
    from, for the messages and Caffe's default snapshot_prefix (as if that file had been given).
    """
    where = where or '<solver>'
    if isinstance(src, caffe_pb2.SolverParameter):
        param = caffe_pb2.SolverParameter()
        param.CopyFrom(src)
    else:
        s = os.fspath(src)
        if '\n' not in s and os.path.exists(s):
            where = s
            if base_dir is None:
                base_dir = os.path.dirname(os.path.abspath(s))
        param = caffe_pb2.SolverParameter()
        param.CopyFrom(read_solver(s))
    if base_dir is None:
        base_dir = os.getcwd()
    upgrade(param, where)
    resolve_paths(param, base_dir)
    check(param, where)
    return param, base_dir


def upgrade(param, where='<solver>'):
    """Caffe's UpgradeSolverAsNeeded (solver_type enum -> type string) and UpgradeSnapshotPrefixProperty."""
    if param.HasField('solver_type'):
        legacy = LEGACY_TYPES[param.solver_type]
        if param.HasField('type') and param.type != legacy:
            raise SolverParamError(f'{where}: Failed to upgrade solver: old solver_type field (enum) and new type '
                                   f'field (string) cannot be both specified.')
        param.type = legacy
        param.ClearField('solver_type')
    if not param.snapshot_prefix and where != '<solver>':
        param.snapshot_prefix = os.path.splitext(where)[0]
    elif param.snapshot_prefix.endswith(('/', os.sep)) and where != '<solver>':
        param.snapshot_prefix += os.path.splitext(os.path.basename(where))[0]
    return param


def _resolve(path, base_dir):
    return path if not path or os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))


def resolve_paths(param, base_dir):
    for name in ('net', 'train_net', 'snapshot_prefix'):
        if param.HasField(name):
            keep_slash = getattr(param, name).endswith('/')
            setattr(param, name, _resolve(getattr(param, name), base_dir) + ('/' if keep_slash else ''))
    for i, p in enumerate(param.test_net):
        param.test_net[i] = _resolve(p, base_dir)
    for i, p in enumerate(param.weights):
        param.weights[i] = _resolve(p, base_dir)


def check(param, where='<solver>'):
    """The checks of Caffe's Solver::Init/InitTrainNet/InitTestNets and the solver types' constructors."""
    n_train = sum(param.HasField(f) for f in ('train_net', 'train_net_param', 'net', 'net_param'))
    if n_train != 1:
        raise SolverParamError(f'{where}: SolverParameter must specify exactly one train net (one of net, net_param, '
                               f'train_net, train_net_param); found {n_train}.')
    n_tests = len(param.test_net_param) + len(param.test_net)
    generic = param.HasField('net') or param.HasField('net_param')
    if generic:
        if len(param.test_iter) < n_tests:
            raise SolverParamError(f'{where}: test_iter must be specified for each test network '
                                   f'({n_tests} test nets, {len(param.test_iter)} test_iter).')
    elif len(param.test_iter) != n_tests:
        raise SolverParamError(f'{where}: test_iter must be specified for each test network '
                               f'({n_tests} test nets, {len(param.test_iter)} test_iter).')
    if n_tests and param.test_state and len(param.test_state) != max(n_tests, len(param.test_iter)):
        raise SolverParamError(f'{where}: test_state must be unspecified or specified once per test net.')
    if param.test_interval < 0 or param.iter_size < 1 or param.average_loss < 1:
        raise SolverParamError(f'{where}: test_interval must be >= 0, iter_size and average_loss >= 1.')
    if param.snapshot and not param.snapshot_prefix:
        raise SolverParamError(f'{where}: In solver params, snapshot is specified but snapshot_prefix is not')
    if not param.lr_policy:
        raise SolverParamError(f'{where}: lr_policy is not set (fixed, step, exp, inv, multistep, poly, sigmoid).')
    try:
        check_param(param, param.type)
    except ValueError as e:
        raise SolverParamError(f'{where}: {e}') from None


def net_specs(param):
    """[(phase, NetParameter or path, NetState)] of the train net then the test nets, as Caffe builds them."""
    state = caffe_pb2.NetState(phase=caffe_pb2.TRAIN)
    state.MergeFrom(param.train_state)
    for f in ('train_net_param', 'train_net', 'net_param', 'net'):
        if param.HasField(f):
            train = (caffe_pb2.TRAIN, getattr(param, f), state)
            break
    tests = [p for p in param.test_net_param] + [p for p in param.test_net]
    generic = param.net_param if param.HasField('net_param') else (param.net if param.HasField('net') else None)
    if generic is not None:
        tests += [generic] * (len(param.test_iter) - len(tests))
    out = []
    for i, t in enumerate(tests):
        st = caffe_pb2.NetState(phase=caffe_pb2.TEST)
        if param.test_state:
            st.MergeFrom(param.test_state[i])
        out.append((caffe_pb2.TEST, t, st))
    return train, out


def offset_python_seeds(net_param, rank):
    """A copy of `net_param` whose Python layers' param_str `seed` is shifted by `rank`.

    So each process of a distributed run draws its own data order (seed + rank), as the reference data layers take
    their seed from param_str. Layers whose param_str is not a dict literal with an integer seed are left alone.
    """
    def shift(params):
        if rank and isinstance(params.get('seed'), int):
            params['seed'] += rank
            return params
        return None
    return map_param_strs(net_param, shift)
