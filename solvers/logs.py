"""Caffe-format logging through the `logging` module, and a progress bar on a terminal.

Messages are Caffe 1.0's own ("Solving NAME", "Iteration N (x iter/s, ys/D iters), loss = X",
"    Train net output #0: loss = X (* 1 = X loss)", "Iteration N, lr = X", "    Test net output #0: ...",
"Snapshotting to binary proto file ...", "Optimization Done."), so Caffe's tools/extra/parse_log.py and plotting
scripts read them (logparse.py reads them back the same way). `GlogFormatter` adds glog's line prefix
("I1125 15:10:45.123456 12345 solver.cpp:0] ") which parse_log.py uses for timing.
"""
import logging
import os
import sys
import time

from tqdm import tqdm

log = logging.getLogger('solvers')


def fmt(x):
    """A number as C++ ostream prints a float by default (6 significant digits, %g)."""
    return f'{float(x):.6g}'


class GlogFormatter(logging.Formatter):
    """glog's prefix: severity letter, mmdd hh:mm:ss.uuuuuu, thread id, file:line]."""

    def format(self, record):
        t = record.created
        lt = time.localtime(t)
        prefix = '%s%02d%02d %02d:%02d:%02d.%06d %5d %s:%d] ' % (
            record.levelname[:1], lt.tm_mon, lt.tm_mday, lt.tm_hour, lt.tm_min, lt.tm_sec,
            int((t % 1) * 1e6), os.getpid(), os.path.basename(record.pathname), record.lineno)
        return prefix + record.getMessage()


def setup_logging(level=logging.INFO, stream=None, logfile=None):
    """Send the solvers' log to `stream` (default stderr) and optionally `logfile`, in glog's format."""
    log.setLevel(level)
    for h in list(log.handlers):
        if getattr(h, '_solvers_handler', False):
            log.removeHandler(h)
    handlers = [logging.StreamHandler(stream) if stream is not None else _StderrHandler()]
    if logfile:
        handlers.append(logging.FileHandler(logfile))
    for h in handlers:
        h.setFormatter(GlogFormatter())
        h._solvers_handler = True
        log.addHandler(h)
    return log


class _StderrHandler(logging.StreamHandler):
    """A handler that writes to whatever sys.stderr is at the time of each record."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def progress(total, desc, enabled=None, initial=0):
    """A tqdm bar on a terminal (stderr a tty), else a no-op object with the same update/close methods."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if enabled:
        return tqdm(total=total, desc=desc, initial=initial, unit='it', dynamic_ncols=True, leave=False)
    return _NoBar()


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass
