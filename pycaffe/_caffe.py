"""caffe._caffe: the names Caffe 1.0's compiled module (python/caffe/_caffe.cpp) exports, over this package.

Besides the classes and functions the package exports too, it holds the binding's own:
- the vector wrappers (boost's vector_indexing_suite): BlobVec (with add_blob(*shape)), RawBlobVec, LayerVec,
  StringVec, IntVec, DtypeVec, NetVec, BoolVec: lists that start empty and take only their element type
  (`layer.setup(bottom, top)` / `layer.reshape(bottom, top)` take RawBlobVecs as they take lists);
- LayerParameter and SolverParameter, which Python cannot construct (Caffe's no_init); a solver's `param` is a
  SolverParameter with Caffe's three fields, max_iter, display and layer_wise_reduce;
- init_log(level=0) and log(message): glog's initialization (messages of `level` and above to stderr; a second call
  is glog's "InitGoogleLogging() twice" failure) and one INFO line in glog's format.
"""
import logging
import numbers

import numpy as np

from solvers.logs import setup_logging

from ._mode import set_device, set_mode_cpu, set_mode_gpu, set_random_seed  # noqa: F401
from .blob import Blob
from .layer import Layer  # noqa: F401
from .net import Net
from .parallel import (NCCL, Timer, has_nccl, set_multiprocess, set_solver_count, set_solver_rank,  # noqa: F401
                       solver_count, solver_rank)
from .served import layer_type_list  # noqa: F401
from .solver import (AdaDeltaSolver, AdaGradSolver, AdamSolver, NesterovSolver, RMSPropSolver, SGDSolver,  # noqa: F401
                     Solver, SolverParameter, get_solver)
from runtime.layers.python import Blob as _FreeBlob, LegacyShape, blob_shape

__version__ = '1.0.0'


class _Vec(list):
    """A C++ vector as boost's vector_indexing_suite shows it: constructed empty, elements of one type."""

    _item = object
    _what = ''

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f'{type(self).__name__}() takes no arguments (Caffe\'s vector wrappers start empty; '
                            'append or extend it)')
        super().__init__()

    def _check(self, value):
        if not isinstance(value, self._item):
            raise TypeError(f'{type(self).__name__} holds {self._what}, not {type(value).__name__} '
                            '(Caffe: "Attempting to append an invalid type")')
        return value

    def append(self, value):
        super().append(self._check(value))

    def extend(self, values):
        super().extend([self._check(v) for v in values])

    def insert(self, index, value):
        super().insert(index, self._check(value))

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            value = [self._check(v) for v in value]
        else:
            value = self._check(value)
        super().__setitem__(index, value)

    def __iadd__(self, values):
        self.extend(values)
        return self


def _vec(name, item, what, doc):
    return type(name, (_Vec,), {'_item': item, '_what': what, '__doc__': doc, '__module__': __name__})


RawBlobVec = _vec('RawBlobVec', LegacyShape, 'Blobs', "Caffe's vector<Blob*>: the bottoms or tops of Layer.setup / "
                  'Layer.reshape.')
LayerVec = _vec('LayerVec', object, 'Layers', "Caffe's vector<shared_ptr<Layer>> (net.layers' type).")
StringVec = _vec('StringVec', str, 'strs', "Caffe's vector<string>.")
IntVec = _vec('IntVec', (numbers.Integral,), 'ints', "Caffe's vector<int>.")
DtypeVec = _vec('DtypeVec', (numbers.Real,), 'floats', "Caffe's vector<float>.")
NetVec = _vec('NetVec', Net, 'Nets', "Caffe's vector<shared_ptr<Net>> (solver.test_nets' type).")
BoolVec = _vec('BoolVec', (bool, np.bool_), 'bools', "Caffe's vector<bool>.")


class BlobVec(_Vec):
    """Caffe's vector<shared_ptr<Blob>>: add_blob(*shape) appends a new blob of that shape, zeros."""

    _item = LegacyShape
    _what = 'Blobs'

    def add_blob(self, *shape, **kwargs):
        if kwargs:
            raise RuntimeError('BlobVec.add_blob takes no kwargs')
        self.append(_FreeBlob(blob_shape(shape)))


class LayerParameter:
    """Caffe's LayerParameter class of the binding: Python cannot construct one (no_init)."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError('caffe._caffe.LayerParameter: this class cannot be instantiated from Python (Caffe\'s '
                           'no_init; caffe.proto.caffe_pb2.LayerParameter is the message)')


_GLOG_LEVELS = {0: logging.INFO, 1: logging.WARNING, 2: logging.ERROR, 3: logging.CRITICAL}
_log_state = {'initialized': False}
_log = logging.getLogger('solvers')


def init_log(level=0):
    """InitLog(level): glog logs to stderr from severity `level` (0 INFO, 1 WARNING, 2 ERROR, 3 FATAL) on."""
    if isinstance(level, bool) or not isinstance(level, numbers.Integral):
        raise TypeError(f'caffe.init_log(level): level must be an int, not {type(level).__name__}')
    if _log_state['initialized']:
        raise RuntimeError('caffe.init_log: glog is initialized already (Caffe: "Check failed: '
                           '!IsGoogleLoggingInitialized() You called InitGoogleLogging() twice!")')
    setup_logging(_GLOG_LEVELS[min(max(int(level), 0), 3)])
    _log_state['initialized'] = True


def log(message):
    """Log(s): LOG(INFO) << s, one line in glog's format on stderr."""
    if not isinstance(message, str):
        raise TypeError(f'caffe.log(message): message must be a str, not {type(message).__name__}')
    _log.info(message)


__all__ = ['Net', 'Blob', 'Layer', 'Solver', 'SGDSolver', 'NesterovSolver', 'AdaGradSolver', 'RMSPropSolver',
           'AdaDeltaSolver', 'AdamSolver', 'get_solver', 'set_mode_cpu', 'set_mode_gpu', 'set_device',
           'set_random_seed', 'solver_count', 'set_solver_count', 'solver_rank', 'set_solver_rank',
           'set_multiprocess', 'has_nccl', 'layer_type_list', 'NCCL', 'Timer', 'init_log', 'log', 'BlobVec',
           'RawBlobVec', 'LayerVec', 'StringVec', 'IntVec', 'DtypeVec', 'NetVec', 'BoolVec', 'LayerParameter',
           'SolverParameter', '__version__']
