"""Caffe's process-wide solver count, solver rank and multiprocess flag (Caffe::solver_count, set_solver_count,
solver_rank, set_solver_rank, multiprocess, set_multiprocess, root_solver), as a CPU build of Caffe 1.0 keeps them.

Unset, they are the current torch.distributed process group's world size and rank (1 and 0 outside one), and
multiprocess is true inside one (each process is one solver, as Caffe's python/train.py runs them). What reads them:
the Data and HDF5Data layers of TRAIN nets (solver r of n keeps records r, r + n, ...), the solver (the root solver,
rank 0, displays, tests and snapshots; the random seed is offset by the rank), and Python layers (a TRAIN net with
several solvers needs multiprocess, as Caffe's PythonLayer::LayerSetUp checks).
"""
import threading

__all__ = ['solver_count', 'solver_rank', 'multiprocess', 'root_solver', 'set_solver_count', 'set_solver_rank',
           'set_multiprocess', 'reset']

_lock = threading.Lock()
_set = {}


def _world():
    try:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
    except ImportError:
        pass
    return None


def solver_count():
    """Caffe::solver_count(): the number set, else the process group's size (1 without one)."""
    if 'count' in _set:
        return _set['count']
    w = _world()
    return w[1] if w else 1


def solver_rank():
    """Caffe::solver_rank(): the rank set, else the process group's rank (0 without one)."""
    if 'rank' in _set:
        return _set['rank']
    w = _world()
    return w[0] if w else 0


def multiprocess():
    """Caffe::multiprocess(): the flag set, else whether a process group is running."""
    if 'multiprocess' in _set:
        return _set['multiprocess']
    return _world() is not None


def root_solver():
    """Caffe::root_solver(): solver_rank() == 0."""
    return solver_rank() == 0


def _int(value, what):
    if isinstance(value, bool) or not hasattr(value, '__index__'):
        raise TypeError(f'{what} takes an int, not {type(value).__name__}')
    return int(value.__index__())


def set_solver_count(value):
    with _lock:
        _set['count'] = _int(value, 'set_solver_count')


def set_solver_rank(value):
    with _lock:
        _set['rank'] = _int(value, 'set_solver_rank')


def set_multiprocess(value):
    with _lock:
        _set['multiprocess'] = bool(value)


def reset():
    """Forget the values set (back to the process group's)."""
    with _lock:
        _set.clear()
