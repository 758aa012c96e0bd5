"""Snapshots and exact resume: Caffe's file pair plus the random states Caffe's files do not hold.

A snapshot is `<prefix>_iter_N.caffemodel` + `.solverstate` (or, with snapshot_format HDF5, the .h5 pair), which
the real Caffe reads, plus `<prefix>_iter_N.rngstate`, a small sidecar (an .npz ignored by Caffe) holding the
torch/numpy/Python random states (dropout) and each Python data layer's sample order: what a layer's own
get_state() returns, or, for a layer without one, its `stream`'s get_state() (a datalayers SampleStream: the
order's generator, its position and the indices already drawn ahead), JSON-able, given back to the matching
set_state(). Test nets' sequential position is not saved (scoring runs whole splits, which returns them to the
start). The solverstate is written last, so a snapshot whose .solverstate exists is complete; each file is written
atomically (weights.atomic), so a crash or a full disk never destroys the previous snapshot.

A snapshot is good when every weight and history value it holds is finite (non_finite says where one is not):
the one a run that diverged names as the one to resume from. SnapshotLock keeps two runs off one snapshot
prefix (fcn-solve holds it while it runs) and, once held, removes what a killed run's snapshot writes left behind.
"""
import collections
import errno
import json
import os
import random
import zipfile

import numpy as np
import torch

from netspec import caffe_pb2
from netspec.atomic import remove_stale_temps
from weights import SolverState, read_solverstate, write_solverstate, write_weights
from weights.atomic import atomic_file

try:
    import fcntl
except ImportError:  # pragma: no cover  (not POSIX: no lock)
    fcntl = None

from .logs import log
from .rules import history_sets

__all__ = ['check_snapshot_prefix', 'SnapshotFiles', 'snapshot_stem', 'snapshot_files', 'rngstate_path', 'save', 'restore', 'non_finite',
           'SnapshotLock', 'SnapshotPrefixBusy', 'python_layers', 'layer_state', 'set_layer_state',
           'restore_layer_states', 'write_rngstate', 'read_rngstate']

RNGSTATE_FORMAT = 'fcn-solvers-rngstate-1'

#: the three files of one snapshot, written in this order (the solverstate last: its presence marks completeness)
SnapshotFiles = collections.namedtuple('SnapshotFiles', 'model rngstate solverstate hdf5')


def snapshot_stem(prefix, iteration):
    """Solver::SnapshotFilename without its extension."""
    return f'{prefix}_iter_{iteration}'


def snapshot_files(prefix, iteration, hdf5=False):
    """The files of Caffe's pair, and the sidecar."""
    stem = snapshot_stem(prefix, iteration)
    return SnapshotFiles(stem + ('.caffemodel.h5' if hdf5 else '.caffemodel'), stem + '.rngstate',
                         stem + ('.solverstate.h5' if hdf5 else '.solverstate'), hdf5)


def rngstate_path(state_file):
    """The sidecar beside a .solverstate[.h5]."""
    base = state_file[:-len('.h5')] if state_file.endswith('.h5') else state_file
    base = base[:-len('.solverstate')] if base.endswith('.solverstate') else base
    return base + '.rngstate'


def check_snapshot_prefix(param):
    """Solver::CheckSnapshotWritePermissions: with `snapshot` set, a file must be creatable at the prefix
    (OSError naming the prefix, else)."""
    if not param.snapshot:
        return
    probe = f'{param.snapshot_prefix}_iter_0.tempfile'
    try:
        with open(probe, 'w'):
            pass
        os.remove(probe)
    except OSError:
        raise OSError(f"Cannot write to snapshot prefix '{param.snapshot_prefix}'.  Make sure that the directory "
                      'exists and is writeable.') from None


# -- Caffe's pair ----------------------------------------------------------------------------------------------------

def save(solver):
    """Solver::Snapshot: the weights, the sidecar, then the solver state; returns the solverstate path."""
    files = snapshot_files(solver.param.snapshot_prefix, solver.iter,
                           solver.param.snapshot_format == caffe_pb2.SolverParameter.HDF5)
    kind = 'HDF5 file' if files.hdf5 else 'binary proto file'
    log.info('Snapshotting to %s %s', kind, files.model)
    write_weights(files.model, solver.net.to_arrays(), net_param=getattr(solver.net, 'net_param', None))
    write_rngstate(files.rngstate, solver.iter, solver.net)
    log.info('Snapshotting solver state to %s %s', kind, files.solverstate)
    write_solverstate(files.solverstate, SolverState(
        iter=solver.iter, learned_net=files.model, history=[h.detach().cpu().numpy() for h in solver.history],
        current_step=solver.lr.current_step))
    return files.solverstate


def non_finite(solver):
    """Where the solver's weights or history hold a NaN or an infinity ('layer conv1 blob 0 weights', 'history
    blob 3 (conv2 blob 1)'), or None when all are finite: what a snapshot of it now would hold."""
    for name, blobs in solver.net.params.items():
        for i, p in enumerate(blobs):
            if not bool(torch.isfinite(p.detach()).all()):
                return f'layer {name} blob {i} weights'
    n = len(solver.learnables)
    for k, h in enumerate(solver.history):
        if not bool(torch.isfinite(h).all()):
            owner = solver.learnables[k % n] if n else None
            blob = f' ({owner.layer} blob {owner.index})' if owner is not None else ''
            return f'history blob {k}{blob}'
    return None


def restore(solver, state_file):
    """Solver::Restore from a .solverstate[.h5]: iter, learned_net weights, history, current_step, then the random
    states from the .rngstate sidecar when it is there (else a warning: data order and dropout then differ from an
    uninterrupted run)."""
    state_file = os.fspath(state_file)
    st = read_solverstate(state_file)
    if len(st.history) != len(solver.history):
        raise ValueError(f'{state_file}: Incorrect length of history blobs: {len(st.history)} in the file, '
                         f'{len(solver.history)} expected ({len(solver.learnables)} learnable blobs x '
                         f'{history_sets(solver.type)} for {solver.type})')
    if st.learned_net:
        solver.net.copy_from(_learned_net(st.learned_net, state_file))
    log.info('SGDSolver: restoring history')
    for i, (h, a) in enumerate(zip(solver.history, st.history)):
        a = np.asarray(a, np.float32)
        if a.size != h.numel():
            raise ValueError(f'{state_file}: history blob {i} has {a.size} values, expected {h.numel()} '
                             f'({tuple(h.shape)})')
        h.copy_(torch.from_numpy(a.reshape(tuple(h.shape))))
    solver.iter = st.iter
    solver.lr.current_step = st.current_step
    rng = rngstate_path(state_file)
    if os.path.exists(rng):
        restore_layer_states(solver.net, read_rngstate(rng), rng)
    else:
        log.warning('%s not found: random states (dropout, data order) are not restored', rng)


def _learned_net(model, state_file):
    """The solverstate's learned_net, or the file of that name beside the solverstate (a moved snapshot)."""
    if not os.path.exists(model):
        alt = os.path.join(os.path.dirname(os.path.abspath(state_file)), os.path.basename(model))
        if os.path.exists(alt):
            return alt
    return model


# -- one run per snapshot prefix ------------------------------------------------------------------------------------

class SnapshotPrefixBusy(OSError):
    """Another process holds the lock of a snapshot prefix (two runs would mix their snapshot files)."""


class SnapshotLock:
    """An exclusive lock (fcntl.flock) on a snapshot prefix, through the hidden file `.<name>.lock` beside its
    snapshots (prefix `snapshot/train`: `snapshot/.train.lock`). acquire() raises SnapshotPrefixBusy naming the
    folder and the process that holds it; a lock that a killed process held is free again (the kernel releases
    it), and its file is reused. Once held, the hidden temporary files of `<name>_iter_*` snapshot writes that a
    killed run left are removed (logged with their sizes). release() removes the lock file, and the folder when
    acquire() made it and it is still empty. A context manager."""

    def __init__(self, prefix):
        prefix = os.path.abspath(os.fspath(prefix))
        self.folder, self.name = os.path.dirname(prefix), os.path.basename(prefix)
        self.path = os.path.join(self.folder, f'.{self.name}.lock')
        self.fd = None
        self.made_folder = False
        self.removed = []

    def acquire(self):
        if fcntl is None or self.fd is not None:
            return self
        self.made_folder = not os.path.isdir(self.folder)
        while True:
            try:
                os.makedirs(self.folder, exist_ok=True)
            except OSError as e:
                raise OSError(f'{self.folder}: cannot write snapshots there: {e.strerror}') from None
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except FileNotFoundError:
                continue   # the folder was removed by a run that just released it
            except OSError as e:
                raise OSError(f'{self.path}: cannot create the snapshot lock: {e.strerror}') from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = _read_pid(fd)
                os.close(fd)
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise OSError(f'{self.path}: cannot lock: {e.strerror}') from None
                who = f' (process {holder})' if holder else ''
                raise SnapshotPrefixBusy(
                    f'{self.folder}: another run{who} is writing {self.name}_iter_* snapshots there; wait for it to '
                    f'end or give another output folder (lock file {self.path})') from None
            # the file may have been removed by the holder that released it just before: lock the one on disk
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f'{os.getpid()}\n'.encode())
        self.fd = fd
        self.removed = remove_stale_temps(self.folder, f'{self.name}_iter_*')
        if self.removed:
            log.warning('Removed %d temporary file(s) (%d bytes) that an interrupted snapshot write left in %s: %s',
                        len(self.removed), sum(n for _, n in self.removed), self.folder,
                        ', '.join(os.path.basename(p) for p, _ in self.removed))
        return self

    def release(self):
        """Remove the lock file (and the folder, if acquire made it and no snapshot was written), then unlock."""
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
            if self.made_folder:
                os.rmdir(self.folder)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def _read_pid(fd):
    try:
        text = os.pread(fd, 32, 0).decode(errors='replace').strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


# -- the data layers' sample order -----------------------------------------------------------------------------------

def python_layers(net):
    """The Python-layer objects of a net (runtime.Net keeps each in its layer's `impl`)."""
    return [l.impl for l in getattr(net, 'layers', []) if getattr(l, 'impl', None) is not None]


def layer_state(impl):
    """A Python layer's sample-order state: ('custom', its get_state()), ('stream', its stream's get_state()),
    or None when it has neither."""
    if hasattr(impl, 'get_state'):
        return ('custom', impl.get_state())
    stream = getattr(impl, 'stream', None)
    if hasattr(stream, 'get_state'):
        return ('stream', stream.get_state())
    return None


def set_layer_state(impl, state):
    """Give a layer back what layer_state() took from it."""
    if state is None:
        return
    kind = state[0]
    if kind == 'custom':
        impl.set_state(state[1])
        return
    # ('stream', state), or the first sidecars' ('stream', order rng, order position, pending indices)
    st = state[1] if len(state) == 2 else {'order': {'rng': state[1], 'next': state[2]}, 'pending': state[3]}
    impl.stream.set_state(st)
    if st['pending'] and hasattr(impl, 'idx'):
        impl.idx = st['pending'][0]


def restore_layer_states(net, states, path):
    layers = python_layers(net)
    if len(layers) != len(states):
        log.warning('%s: %d data-layer states for %d Python layers; their order is not restored',
                    path, len(states), len(layers))
        return
    for impl, state in zip(layers, states):
        set_layer_state(impl, state)


# -- the sidecar -----------------------------------------------------------------------------------------------------

def write_rngstate(path, iteration, net):
    """The random states as an .npz (arrays plus one JSON document; no pickle, so loading it runs no code)."""
    np_state = np.random.get_state()
    doc = {'format': RNGSTATE_FORMAT, 'iter': iteration,
           'numpy': [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
           'python': _jsonable(random.getstate()),
           'layers': _jsonable([layer_state(l) for l in python_layers(net)])}
    arrays = {'torch': torch.get_rng_state().numpy(), 'numpy_keys': np_state[1]}
    if torch.cuda.is_available():
        for i, st in enumerate(torch.cuda.get_rng_state_all()):
            arrays[f'cuda_{i}'] = st.numpy()
    with atomic_file(path, 'solver RNG state') as f:
        np.savez(f, doc=np.array(json.dumps(doc)), **arrays)


def read_rngstate(path):
    """Set the torch/numpy/Python (and CUDA) random states from a sidecar; returns its data-layer states.
    A sidecar that is not one (truncated, tampered with, another format) is a ValueError naming it, raised before
    any random state is changed."""
    try:
        with np.load(path, allow_pickle=False) as z:
            doc = json.loads(str(z['doc']))
            torch_state = torch.from_numpy(np.array(z['torch'], dtype=np.uint8))
            name, pos, has_gauss, cached = doc['numpy']
            np_state = (name, np.array(z['numpy_keys'], dtype=np.uint32), int(pos), int(has_gauss), float(cached))
            cuda = [torch.from_numpy(np.array(z[k], dtype=np.uint8))
                    for k in sorted((k for k in z.files if k.startswith('cuda_')), key=lambda k: int(k[5:]))]
        py_state = _tuples(doc['python'])
        layers = _tuples(doc['layers'])
        if doc.get('format') != RNGSTATE_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {RNGSTATE_FORMAT!r}")
        # set each state on a scratch generator first, so that a bad one changes nothing
        torch.Generator().set_state(torch_state)
        np.random.RandomState().set_state(np_state)
        random.Random().setstate(py_state)
    except OSError as e:
        raise ValueError(f'{path}: cannot read the random-state sidecar: {e.strerror or e}') from None
    except (ValueError, KeyError, TypeError, RuntimeError, AttributeError, zipfile.BadZipFile) as e:
        raise ValueError(f'{path}: not a valid random-state sidecar (.rngstate, written with the snapshot): '
                         f'{type(e).__name__}: {e}') from None
    torch.set_rng_state(torch_state)
    np.random.set_state(np_state)
    random.setstate(py_state)
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    return layers


def _jsonable(x):
    """Random and layer states as JSON, losslessly: tuples tagged {"__tuple__": [...]}, dict keys strings."""
    if isinstance(x, tuple):
        return {'__tuple__': [_jsonable(v) for v in x]}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        if not all(isinstance(k, str) for k in x):
            raise TypeError(f'a layer state dict needs string keys to be saved: {list(x)[:5]}')
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    return x


def _tuples(x):
    """The inverse of _jsonable."""
    if isinstance(x, dict):
        if set(x) == {'__tuple__'}:
            return tuple(_tuples(v) for v in x['__tuple__'])
        return {k: _tuples(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_tuples(v) for v in x]
    return x
