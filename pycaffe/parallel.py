"""pycaffe's queries about parallel training and its Timer, as a CPU build of Caffe 1.0 answers them.

has_nccl() is False (this project trains on several devices with torch.distributed, tools/solve.py under torchrun);
solver_count() and solver_rank() are that run's world size and rank (1 and 0 outside one). The setters
(set_solver_count, set_solver_rank, set_multiprocess) and caffe.NCCL stay refused: nothing here would read them.
Timer: start(), stop(), and `ms`, the milliseconds of the last start-stop interval (reading it stops a running
timer; 0 before any run), as Caffe's Timer.
"""
import time

import torch.distributed as dist


def has_nccl():
    return False


def solver_count():
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def solver_rank():
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


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
