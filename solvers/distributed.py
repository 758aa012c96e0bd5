"""Caffe's multi-GPU meaning on torch.distributed: gradients summed over the N processes, then scaled by 1/N.

Caffe's NCCL solver all-reduces (sums) the diffs after each process's iter_size forward/backward passes and scales
them by 1/solver_count before ApplyUpdate, so N processes of batch 1 update exactly like one process with
iter_size N (with clip_gradients off: Caffe clips each process's mean, while one process clips the sum before its
1/iter_size normalization). Launch with `torchrun --nproc_per_node N tools/solve.py ...`; `init_from_env` joins
the process group that torchrun describes in the environment.
"""
import os

import torch
import torch.distributed as dist


def world():
    """(rank, world size) of the current process group, (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device='cpu'):
    """Join the process group torchrun set up (RANK/WORLD_SIZE/MASTER_ADDR in the environment); (rank, size)."""
    if 'WORLD_SIZE' not in os.environ or int(os.environ['WORLD_SIZE']) <= 1:
        return world()
    if not dist.is_initialized():
        backend = 'nccl' if str(device).startswith('cuda') and dist.is_nccl_available() else 'gloo'
        dist.init_process_group(backend)
    return world()


def leave():
    """The end of a distributed run: wait for every process, then close the process group. A process that exits
    while its group is alive (one rank ends before the root's last test and snapshot) can abort in the backend's
    threads ("terminate called without an active exception"), failing the whole torchrun."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def reduce_gradients(diffs, world_size):
    """Sum the diffs over all processes (one flat all-reduce) and scale by 1/world_size, in place."""
    if world_size <= 1 or not diffs:
        return
    flat = torch.cat([d.reshape(-1) for d in diffs])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.mul_(float(1.0 / world_size))
    off = 0
    for d in diffs:
        n = d.numel()
        d.copy_(flat[off:off + n].view_as(d))
        off += n


def agree(values, world_size, device='cpu'):
    """All-reduce (sum) a few floats across processes: the loss (NaN anywhere spreads) and stop requests.
    `device`: where the backend wants its tensors (CUDA for NCCL)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if world_size > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()
