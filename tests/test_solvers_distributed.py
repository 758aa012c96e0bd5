"""Caffe's multi-GPU meaning: N processes of batch 1 (gradients summed, scaled by 1/N) update exactly like one
process with iter_size N. Two CPU processes on gloo, joined through the environment as torchrun sets it."""
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from netspec import caffe_pb2
from solvers.param import offset_python_seeds

from golden.solvers import testkit as kit

STEPS = 3

WORKER = textwrap.dedent('''
    import sys, numpy as np, torch
    torch.set_num_threads(1)
    from golden.solvers import testkit as kit
    from solvers import distributed
    rank, size = distributed.init_from_env()
    s = kit.make_solver(sys.argv[1])
    assert (s.rank, s.world_size) == (rank, size) == (rank, 2)
    xs, ys = kit.pool()
    s.feed = lambda solver, i: {'data': xs[2 * solver.iter + rank], 'label': ys[2 * solver.iter + rank]}
    s.step(int(sys.argv[2]))
    if rank == 0:
        np.savez(sys.argv[3], *[p.detach().numpy() for v in s.net.params.values() for p in v])
    torch.distributed.destroy_process_group()
''')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_processes_update_exactly_like_one_with_iter_size_2(tmp_path):
    path = kit.write_solver(tmp_path, type='Nesterov', momentum=0.99, base_lr=1e-3, dropout=False)
    out = tmp_path / 'ddp.npz'
    env = dict(kit.subprocess_env(), MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()), WORLD_SIZE='2')
    procs = [subprocess.Popen([sys.executable, '-c', WORKER, path, str(STEPS), str(out)],
                              env=dict(env, RANK=str(r), LOCAL_RANK=str(r)), cwd=tmp_path) for r in range(2)]
    try:
        assert [p.wait(timeout=180) for p in procs] == [0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = kit.make_solver(kit.write_solver(tmp_path, type='Nesterov', momentum=0.99, base_lr=1e-3,
                                                  iter_size=2, dropout=False))
        xs, ys = kit.pool()
        single.feed = lambda solver, i: {'data': xs[2 * solver.iter + i], 'label': ys[2 * solver.iter + i]}
        single.step(STEPS)
    finally:
        torch.set_num_threads(n)
    r = np.load(out)
    ours = [p.detach().numpy() for v in single.net.params.values() for p in v]
    for i, w in enumerate(ours):
        np.testing.assert_array_equal(r[f'arr_{i}'], w)
    assert not np.array_equal(ours[0], kit.init_arrays()['conv1'][0])


def test_each_process_draws_its_own_data_order():
    net = caffe_pb2.NetParameter()
    layer = net.layer.add(name='data', type='Python')
    layer.python_param.param_str = "{'split': 'train', 'seed': 1337, 'mean': (104.0, 116.7, 122.7)}"
    other = net.layer.add(name='other', type='Python')
    other.python_param.param_str = 'not a dict'
    assert offset_python_seeds(net, 0).layer[0].python_param.param_str == layer.python_param.param_str
    shifted = offset_python_seeds(net, 3)
    assert eval(shifted.layer[0].python_param.param_str)['seed'] == 1340
    assert shifted.layer[1].python_param.param_str == 'not a dict'
