"""Snapshots and exact resume: Caffe's file pair plus the random states Caffe's files do not hold.

A snapshot is `<prefix>_iter_N.caffemodel` + `.solverstate` (or, with snapshot_format HDF5, the .h5 pair), which
the real Caffe reads, plus `<prefix>_iter_N.rngstate`, a small sidecar (an .npz ignored by Caffe) holding the
torch/numpy/Python random states (dropout) and each Python data layer's sample order: what a layer's own
get_state() returns, or, for a layer without one, its `stream`'s get_state() (a datalayers SampleStream: the
order's generator, its position and the indices already drawn ahead), JSON-able, given back to the matching
set_state(). Test nets' sequential position is not saved (scoring runs whole splits, which returns them to the
start). The solverstate is written last, so a snapshot whose .solverstate exists is complete; each file is written
atomically (weights.atomic), so a crash or a full disk never destroys the previous snapshot.
"""
import collections
import json
import os
import random

import numpy as np
import torch

from netspec import caffe_pb2
from weights import SolverState, read_solverstate, write_solverstate, write_weights
from weights.atomic import atomic_file

from .logs import log
from .rules import history_sets

__all__ = ['SnapshotFiles', 'snapshot_stem', 'snapshot_files', 'rngstate_path', 'save', 'restore', 'python_layers',
           'layer_state', 'set_layer_state', 'restore_layer_states', 'write_rngstate', 'read_rngstate']

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
    """Set the torch/numpy/Python (and CUDA) random states from a sidecar; returns its data-layer states."""
    with np.load(path, allow_pickle=False) as z:
        doc = json.loads(str(z['doc']))
        torch.set_rng_state(torch.from_numpy(z['torch'].copy()))
        name, pos, has_gauss, cached = doc['numpy']
        np.random.set_state((name, z['numpy_keys'].copy(), pos, has_gauss, cached))
        cuda = [torch.from_numpy(z[k].copy()) for k in sorted((k for k in z.files if k.startswith('cuda_')),
                                                              key=lambda k: int(k[5:]))]
    random.setstate(_tuples(doc['python']))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    return _tuples(doc['layers'])


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
