"""Solver state files: .solverstate (binary SolverState) and .solverstate.h5 (Caffe's HDF5 state layout).

Binary: SolverState {iter 1, learned_net 2, history 3 (BlobProto with shape + float data), current_step 4}, as
SGDSolver::SnapshotSolverStateToBinaryProto writes it. HDF5: datasets `iter` and `current_step` (int32, shape (1,)),
`learned_net` (a scalar null-terminated string), group `history` with datasets "0".."n-1" shaped like the params.
"""
import dataclasses
import os

import h5py
import numpy as np

from netspec import caffe_pb2

from . import fields, wire
from .atomic import atomic_file, atomic_path
from .caffemodel import _Reader, as_float32, blob_header_and_tail, write_blob
from .fields import wire_type_ok
from .errors import WeightsError
from .hdf5 import open_h5, read_indexed_group, to_numpy


@dataclasses.dataclass
class SolverState:
    """What a Caffe snapshot of the solver holds.

    iter: the iteration count; learned_net: the path of the .caffemodel[.h5] written with it (Caffe loads it on
    restore, relative to the working directory); history: one float32 array per learnable parameter, in the net's
    learnable-params order (SGD momentum history; Caffe checks the count on restore); current_step: the step index
    of the "step"/"multistep" lr policies.
    """
    iter: int = 0
    learned_net: str = ''
    history: list = dataclasses.field(default_factory=list)
    current_step: int = 0


def _int32(v):
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def _read_binary(path):
    try:
        src = wire.Source(path)
    except OSError as e:
        raise WeightsError(f'{path}: cannot read solver state: {e.strerror}') from None
    state = SolverState()
    desc = caffe_pb2.SolverState.DESCRIPTOR
    with src:
        reader = _Reader(src, kind='solver state (binary SolverState)')
        buf, end, pos = src.buf, src.size, 0
        try:
            while pos < end:
                num, wt, val, pos = wire.next_field(buf, pos, end)
                if not wire_type_ok(desc, num, wt):
                    raise wire.Malformed(f'SolverState field {num} has wire type {wt}')
                if num == fields.STATE_ITER:
                    state.iter = _int32(val)
                elif num == fields.STATE_LEARNED_NET:
                    try:
                        state.learned_net = src.bytes(*val).decode('utf-8')
                    except UnicodeDecodeError:
                        raise wire.Malformed('learned_net is not UTF-8 text') from None
                elif num == fields.STATE_HISTORY:
                    state.history.append(reader.blob(val[0], val[1], 'history', len(state.history)))
                elif num == fields.STATE_CURRENT_STEP:
                    state.current_step = _int32(val)
        except wire.Malformed as e:
            raise reader.fail(str(e), e.truncated) from None
    return state


def _write_binary(path, state):
    with atomic_file(path, 'solver state') as f:
        f.write(wire.key(fields.STATE_ITER, wire.VARINT) + wire.encode_varint(int(state.iter) & ((1 << 64) - 1)))
        name = os.fspath(state.learned_net or '').encode('utf-8')
        f.write(wire.len_header(fields.STATE_LEARNED_NET, len(name)) + name)
        for h in state.history:
            h = as_float32(h)
            head, tail, _ = blob_header_and_tail(h, fields.STATE_HISTORY)
            write_blob(f, h, head, tail)
        f.write(wire.key(fields.STATE_CURRENT_STEP, wire.VARINT)
                + wire.encode_varint(int(state.current_step) & ((1 << 64) - 1)))


def _read_h5(path):
    with open_h5(path, 'solver state') as f:
        missing = [k for k in ('iter', 'history') if k not in f]
        if missing:
            raise WeightsError(f'{path}: not Caffe\'s HDF5 solver-state layout: missing {missing} '
                               f'(top level holds {sorted(f.keys())})')
        state = SolverState()
        state.iter = int(np.asarray(f['iter'][()]).reshape(-1)[0])
        if 'current_step' in f:
            state.current_step = int(np.asarray(f['current_step'][()]).reshape(-1)[0])
        if 'learned_net' in f:
            v = f['learned_net'][()]
            v = v.reshape(-1)[0] if isinstance(v, np.ndarray) else v
            state.learned_net = (v.rstrip(b'\0').decode('utf-8') if isinstance(v, bytes) else str(v))
        if not isinstance(f['history'], h5py.Group):
            raise WeightsError(f'{path}: "history" is a dataset, expected a group of blobs 0..n-1')
        state.history = read_indexed_group(f['history'], path, 'group "history"')
    return state


def _h5_string(loc, name, text):
    """A scalar fixed-length null-terminated string dataset, as H5LTmake_dataset_string makes it."""
    raw = text.encode('utf-8') + b'\0'
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(len(raw))
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    space = h5py.h5s.create(h5py.h5s.SCALAR)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)  # reproducible files, as h5py's create_dataset makes them
    ds = h5py.h5d.create(loc.id, name.encode(), tid, space, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array(raw, dtype=f'S{len(raw)}'), mtype=tid)


def _write_h5(path, state):
    with atomic_path(path, 'solver state') as tmp:
        with h5py.File(tmp, 'w') as f:
            f.create_dataset('iter', data=np.array([state.iter], dtype=np.int32))
            _h5_string(f, 'learned_net', os.fspath(state.learned_net or ''))
            f.create_dataset('current_step', data=np.array([state.current_step], dtype=np.int32))
            g = f.create_group('history')
            for i, h in enumerate(state.history):
                g.create_dataset(str(i), data=np.ascontiguousarray(to_numpy(h), dtype=np.float32))


def read_solverstate(path):
    """SolverState from a .solverstate (binary) or .solverstate.h5 (HDF5) file, chosen by extension as Caffe does."""
    path = os.fspath(path)
    return _read_h5(path) if path.endswith('.h5') else _read_binary(path)


def write_solverstate(path, state):
    """Write a SolverState (or a dict with its fields) atomically; .h5 gives Caffe's HDF5 layout, else binary."""
    path = os.fspath(path)
    if isinstance(state, dict):
        state = SolverState(**state)
    if path.endswith('.h5'):
        _write_h5(path, state)
    else:
        _write_binary(path, state)
