"""pycaffe's parallel-training calls as a CPU build of Caffe 1.0 answers them, and its Timer.

has_nccl() is False. solver_count/set_solver_count, solver_rank/set_solver_rank and set_multiprocess are Caffe's
process-wide values (runtime.parallel: unset, the torch.distributed group's size and rank): the Data layer of a TRAIN
net keeps the records of its rank, only the root solver (rank 0) displays, tests and snapshots, and a TRAIN net's
Python layers need set_multiprocess(True) when solver_count > 1, as in Caffe. NCCL(solver, uid): in a build
without NCCL, a class that constructs and does nothing; solver.add_callback(nccl) is a TypeError (Boost's
ArgumentError: that build's Solver_add_nccl takes no NCCL);
net.after_backward(nccl) takes it as any callback (a build without USE_NCCL has no Net_add_nccl overload for it), so
the next backward fails calling it, as in Caffe. Several processes that really train
together here are torch.distributed's (tools/solve.py under torchrun), not NCCL objects.
Timer: start(), stop(), and `ms`, the milliseconds of the last start-stop interval (reading it stops a running
timer; 0 before any run), as Caffe's Timer.
"""
import time

from runtime import parallel


def has_nccl():
    return False


def solver_count():
    return parallel.solver_count()


def set_solver_count(count):
    parallel.set_solver_count(count)


def solver_rank():
    return parallel.solver_rank()


def set_solver_rank(rank):
    parallel.set_solver_rank(rank)


def set_multiprocess(multiprocess):
    parallel.set_multiprocess(multiprocess)


class NCCL:
    """caffe.NCCL(solver, uid) of a Caffe built without NCCL: constructible, with no methods (Caffe 1.0's
    _caffe.cpp under #ifndef USE_NCCL)."""

    def __init__(self, solver, uid):
        from .solver import Solver
        if not isinstance(solver, Solver):
            raise TypeError(f'caffe.NCCL(solver, uid): solver must be a caffe Solver, not {type(solver).__name__}')
        if not isinstance(uid, str):
            raise TypeError(f'caffe.NCCL(solver, uid): uid must be a str, not {type(uid).__name__}')


class Timer:
    """caffe.Timer: wall-clock milliseconds between start() and stop()."""

    def __init__(self):
        self._start = self._stop = None

    def start(self):
        self._start, self._stop = time.perf_counter(), None

    def stop(self):
        if self._start is not None and self._stop is None:
            self._stop = time.perf_counter()

    @property
    def ms(self):
        if self._start is None:
            return 0.0
        self.stop()
        return (self._stop - self._start) * 1000.0
