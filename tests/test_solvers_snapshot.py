"""Snapshots: Caffe's names and formats, atomic writes, exact resume across processes, Ctrl-C and NaN behaviour."""
import errno
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from golden.solvers import testkit as kit

pytestmark = pytest.mark.usefixtures('one_thread')

GOLD = pathlib.Path(__file__).parent / 'golden' / 'solvers'


def weights_of(s):
    return {k: [p.detach().numpy().copy() for p in v] for k, v in s.net.params.items()}


def test_snapshot_writes_caffes_file_pair_with_caffes_layout(tmp_path):
    from weights import read_solverstate, read_weights
    s = kit.make_solver(kit.write_solver(tmp_path, snapshot=2))
    s.step(3)
    snap = tmp_path / 'snap'
    assert sorted(p.name for p in snap.iterdir() if not p.name.endswith('.rngstate')) == [
        'train_iter_2.caffemodel', 'train_iter_2.solverstate']
    ours = read_solverstate(snap / 'train_iter_2.solverstate')
    caffes = read_solverstate(GOLD / 'sgd_iter_10.solverstate')
    assert ours.iter == 2 and ours.learned_net == str(snap / 'train_iter_2.caffemodel')
    assert [h.shape for h in ours.history] == [h.shape for h in caffes.history]
    def shapes(path):
        return {k: [a.shape for a in v] for k, v in read_weights(path).items() if v}
    assert shapes(snap / 'train_iter_2.caffemodel') == shapes(GOLD / 'sgd_iter_10.caffemodel')


def test_hdf5_snapshot_format_gives_the_h5_pair(tmp_path):
    from weights import read_solverstate
    s = kit.make_solver(kit.write_solver(tmp_path, snapshot_format='HDF5', type='Adam', momentum=0.9))
    s.step(2)
    path = s.snapshot()
    assert path == str(tmp_path / 'snap' / 'train_iter_2.solverstate.h5')
    assert (tmp_path / 'snap' / 'train_iter_2.caffemodel.h5').exists()
    st = read_solverstate(path)
    assert st.iter == 2 and len(st.history) == 2 * len(s.learnables)


RESUME = textwrap.dedent('''
    import sys, numpy as np, torch
    torch.set_num_threads(1)
    from golden.solvers import testkit as kit
    s = kit.make_solver(sys.argv[1])
    s.restore(sys.argv[2])
    s.step(int(sys.argv[3]))
    np.savez(sys.argv[4], iter=s.iter, *[p.detach().numpy() for v in s.net.params.values() for p in v],
             **{f'h{i}': h.numpy() for i, h in enumerate(s.history)})
''')


def test_restore_in_a_new_process_continues_bit_identically(tmp_path, solver_type='Adam'):
    """N steps, snapshot, restore in a new process, M steps == N + M uninterrupted steps (dropout and a
    random data order included, through the .rngstate sidecar; Adam: two history sets; a step lr policy)."""
    N, M = 3, 3
    path = kit.write_solver(tmp_path, type=solver_type, momentum=0.9 if solver_type == 'Adam' else 0.99,
                            base_lr=1e-3, lr_policy='step', gamma=0.5, stepsize=2)
    a = kit.make_solver(path)
    a.step(N)
    state = a.snapshot()
    out = tmp_path / 'resumed.npz'
    subprocess.run([sys.executable, '-c', RESUME, path, state, str(M), str(out)],
                   check=True, cwd=tmp_path, timeout=120, env=kit.subprocess_env())
    b = kit.make_solver(path)
    b.step(N + M)
    r = np.load(out)
    assert int(r['iter']) == N + M == b.iter
    ours = [p.detach().numpy() for v in b.net.params.values() for p in v]
    for i, w in enumerate(ours):
        np.testing.assert_array_equal(r[f'arr_{i}'], w)
    for i, h in enumerate(b.history):
        np.testing.assert_array_equal(r[f'h{i}'], h.numpy())
    assert not np.array_equal(ours[0], kit.init_arrays()['conv1'][0])
    # control: without the random states (a fresh seed instead) the same restore diverges, so the test can fail
    os.unlink(state.replace('.solverstate', '.rngstate'))
    c = kit.make_solver(path)
    c.restore(state)
    c.step(M)
    assert not np.array_equal(c.net.params['conv1'][0].detach().numpy(), ours[0])


def test_restore_without_sidecar_still_restores_weights_history_and_iter(tmp_path, caplog):
    path = kit.write_solver(tmp_path)
    a = kit.make_solver(path)
    a.step(2)
    state = a.snapshot()
    os.unlink(str(state).replace('.solverstate', '.rngstate'))
    b = kit.make_solver(path)
    with caplog.at_level('WARNING', logger='solvers'):
        b.restore(state)
    assert b.iter == 2 and 'not restored' in caplog.text
    for x, y in zip(a.history, b.history):
        assert torch.equal(x, y)
    assert all(np.array_equal(u, v) for k in weights_of(a) for u, v in zip(weights_of(a)[k], weights_of(b)[k]))


def test_restore_refuses_a_state_of_another_solver_type(tmp_path):
    a = kit.make_solver(kit.write_solver(tmp_path))
    state = a.snapshot()
    b = kit.make_solver(kit.write_solver(tmp_path, type='Adam', momentum=0.9))
    with pytest.raises(ValueError, match='Incorrect length of history blobs'):
        b.restore(state)


def test_a_failed_write_never_destroys_the_previous_snapshot(tmp_path, monkeypatch):
    from weights import read_solverstate
    s = kit.make_solver(kit.write_solver(tmp_path))
    s.step(1)
    good = s.snapshot()
    before = {p.name: p.read_bytes() for p in (tmp_path / 'snap').iterdir()}

    def disk_full(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', disk_full)
    s.step(1)
    with pytest.raises(Exception, match='No space left|cannot write'):
        s.snapshot()
    s.iter = 1  # a re-snapshot over the same name must not destroy it either
    with pytest.raises(Exception, match='No space left|cannot write'):
        s.snapshot()
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in (tmp_path / 'snap').iterdir()}
    assert after == before  # no partial files, the old snapshot byte for byte
    assert read_solverstate(good).iter == 1


def test_ctrl_c_snapshots_then_stops(tmp_path):
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN where CI starts us in the background
    s = kit.make_solver(kit.write_solver(tmp_path))
    feed = s.feed

    def interrupting_feed(solver, i):
        if solver.iter == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return feed(solver, i)
    s.feed = interrupting_feed
    s.step(10)
    assert s.iter == 3 and s.requested_early_exit
    assert (tmp_path / 'snap' / 'train_iter_3.solverstate').exists()
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_ctrl_c_in_solve_snapshots_once_and_stops(tmp_path):
    s = kit.make_solver(kit.write_solver(tmp_path, max_iter=50))
    feed = s.feed
    s.feed = lambda solver, i: (os.kill(os.getpid(), signal.SIGINT) if solver.iter == 1 else None) or feed(solver, i)
    s.solve()
    assert s.iter == 2
    assert sorted(p.name for p in (tmp_path / 'snap').glob('*.solverstate')) == ['train_iter_2.solverstate']


def test_nan_loss_stops_naming_the_iteration_and_keeps_the_last_good_snapshot(tmp_path):
    from solvers import LossNotFinite
    s = kit.make_solver(kit.write_solver(tmp_path, snapshot=2))
    feed = s.feed

    def poisoned(solver, i):
        d = feed(solver, i)
        if solver.iter == 5:
            d = dict(d, data=np.full_like(d['data'], np.nan))
        return d
    s.feed = poisoned
    with pytest.raises(LossNotFinite, match='Iteration 5, loss = nan') as e:
        s.step(10)
    assert e.value.last_snapshot == str(tmp_path / 'snap' / 'train_iter_4.solverstate')
    assert str(tmp_path / 'snap' / 'train_iter_4.solverstate') in str(e.value)
    assert s.iter == 5 and not (tmp_path / 'snap' / 'train_iter_6.solverstate').exists()
    assert all(np.isfinite(p.detach().numpy()).all() for v in s.net.params.values() for p in v)


class _Indices:
    """A dataset of ten samples whose arrays are their indices, drawn in a seeded random order."""
    ids = list(range(10))

    def order(self):
        from datalayers import SampleOrder
        return SampleOrder(len(self.ids), True, seed=5)

    def load(self, i):
        return (np.full(1, i),)


class _StreamLayer:
    """A Python layer that reads through a datalayers SampleStream but has no get_state/set_state of its own."""

    def __init__(self):
        from datalayers import SampleStream
        self.stream = SampleStream(_Indices(), prefetch=2)
        self.idx = self.stream.peek_index()

    def forward(self):
        self.stream.advance()
        self.idx = self.stream.peek_index()


@pytest.mark.parametrize('first_sidecar_format', [False, True])
def test_a_layer_without_get_state_resumes_through_its_streams_state(first_sidecar_format):
    import json
    from solvers import snapshots
    a, b = _StreamLayer(), _StreamLayer()
    for _ in range(4):
        a.forward()
    state = snapshots.layer_state(a)
    assert state[0] == 'stream'
    if first_sidecar_format:  # ('stream', order rng, order position, pending indices)
        state = ('stream', state[1]['order']['rng'], state[1]['order']['next'], state[1]['pending'])
    saved = snapshots._tuples(json.loads(json.dumps(snapshots._jsonable(state))))  # as the sidecar keeps it
    snapshots.set_layer_state(b, saved)
    seen_a, seen_b = [], []
    for layer, seen in ((a, seen_a), (b, seen_b)):
        for _ in range(6):
            seen.append((layer.idx, int(layer.stream.current()[1][0][0])))
            layer.forward()
        layer.stream.close()
    assert seen_b == seen_a
    assert len({i for i, _ in seen_a}) > 1
