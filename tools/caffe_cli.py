"""caffe: Caffe's command-line brew (`caffe train|test|time|device_query`) with Caffe 1.0's flags and log.

    caffe train -solver solver.prototxt [-weights a.caffemodel,b.caffemodel | -snapshot x.solverstate]
                [-gpu 0|0,1|all] [-stage s1,s2] [-level N] [-sigint_effect stop|snapshot|none]
                [-sighup_effect stop|snapshot|none]
    caffe test -model net.prototxt -weights w.caffemodel [-iterations 50] [-gpu 0] [-stage ..] [-level N]
    caffe time -model net.prototxt [-iterations 50] [-phase TRAIN|TEST] [-gpu 0] [-stage ..] [-level N]
    caffe device_query -gpu 0

Flags are written as Caffe's gflags take them: `-solver x`, `-solver=x`, `--solver x`. The log goes to stderr in
glog's format (GLOG_minloglevel=1 keeps warnings only), so Caffe's tools/extra/parse_log.py reads a `caffe train`
log. Relative paths in the solver file are relative to the working directory, as in Caffe.

Several GPUs (`-gpu 0,1` or `all`): the run is relaunched as one process per GPU through torch.distributed
(`python -m torch.distributed.run --nproc_per_node N`), with Caffe's multi-GPU meaning (solvers.distributed); a run
already started by torchrun uses its process group (on the CPU with gloo when no -gpu is given).

Exit status (tools/_cli.py): 0 done (also after SIGINT, which snapshots then stops), 2 usage (no command, an
unknown command or flag, a missing -solver/-model/-weights, -snapshot with -weights), 3 bad input (a missing or
malformed file, no such GPU), 4 the loss became NaN or infinite.
"""
import argparse
import logging
import os
import subprocess
import sys
import time

import numpy as np
import torch

from netspec import caffe_pb2
from solvers import LossNotFinite, get_solver, load_param, setup_logging
from solvers.distributed import init_from_env, leave
from solvers.logs import fmt, log
from solvers.snapshots import check_snapshot_prefix
from solvers.solver import loss_weights
from tools._cli import DIVERGED, UsageError, run

COMMANDS = {'train': 'train or finetune a model',
            'test': 'score a model',
            'device_query': 'show GPU diagnostic information',
            'time': 'benchmark model execution time'}

EFFECTS = ('stop', 'snapshot', 'none')

#: GLOG_minloglevel -> the level of the log
GLOG_LEVELS = {'0': logging.INFO, '1': logging.WARNING, '2': logging.ERROR, '3': logging.CRITICAL}


def _flag(ap, name, **kw):
    ap.add_argument(f'-{name}', f'--{name}', dest=name, **kw)


def build_parser():
    ap = argparse.ArgumentParser(
        prog='caffe', formatter_class=argparse.RawDescriptionHelpFormatter,
        description='command line brew\nusage: caffe <command> <args>\n\ncommands:\n' +
                    '\n'.join(f'  {k:<13}{v}' for k, v in COMMANDS.items()),
        epilog=__doc__.split('\n\n', 2)[2])
    ap.add_argument('command', choices=list(COMMANDS), help='train, test, time or device_query')
    _flag(ap, 'gpu', default='', help="Optional; run in GPU mode on given device IDs separated by ','. Use "
                                      "'-gpu all' to run on all available GPUs.")
    _flag(ap, 'solver', default='', help='The solver definition protocol buffer text file.')
    _flag(ap, 'model', default='', help='The model definition protocol buffer text file.')
    _flag(ap, 'phase', default='', help='Optional; network phase (TRAIN or TEST). Only used for \'time\'.')
    _flag(ap, 'level', type=int, default=0, help='Optional; network level.')
    _flag(ap, 'stage', default='', help='Optional; network stages (not to be confused with phase), separated '
                                        "by ','.")
    _flag(ap, 'snapshot', default='', help='Optional; the snapshot solver state to resume training.')
    _flag(ap, 'weights', default='', help="Optional; the pretrained weights to initialize finetuning, separated "
                                          "by ','. Cannot be set simultaneously with snapshot.")
    _flag(ap, 'iterations', type=int, default=50, help='The number of iterations to run.')
    _flag(ap, 'sigint_effect', default='stop', help='Optional; action to take when a SIGINT signal is received: '
                                                    'snapshot, stop or none.')
    _flag(ap, 'sighup_effect', default='snapshot', help='Optional; action to take when a SIGHUP signal is '
                                                        'received: snapshot, stop or none.')
    return ap


def main(argv=None):
    """Exit status as the module docstring says."""
    relaunched = []

    def body(args):
        args.argv = list(sys.argv[1:] if argv is None else argv)
        relaunched.append(brew(args))
    status = run(build_parser(), body, argv, codes=[(LossNotFinite, DIVERGED)])
    return status or (relaunched[0] if relaunched and relaunched[0] else 0)


def brew(args):
    """Run the command; returns the exit status of a per-GPU relaunch, else None."""
    setup_logging(GLOG_LEVELS.get(os.environ.get('GLOG_minloglevel', '0'), logging.INFO))
    return {'train': train, 'test': test, 'time': time_net, 'device_query': device_query}[args.command](args)


# -- devices ---------------------------------------------------------------------------------------------------------

def gpus(flag):
    """Caffe's get_gpus: [] for '', every visible CUDA device for 'all', else the listed ids (checked)."""
    if not flag:
        return []
    count = torch.cuda.device_count()
    if flag == 'all':
        if not count:
            raise OSError('-gpu all: no CUDA device is visible')
        return list(range(count))
    try:
        ids = [int(x) for x in flag.split(',')]
    except ValueError:
        raise UsageError(f'-gpu {flag}: expected device ids separated by \',\' or "all"') from None
    for i in ids:
        if not 0 <= i < count:
            raise OSError(f'-gpu {flag}: no CUDA device {i} ({count} visible)')
    return ids


def stages(args):
    return [s for s in args.stage.split(',') if s] if args.stage else []


def _phase(args, default):
    if not args.phase:
        return default
    if args.phase not in ('TRAIN', 'TEST'):
        raise UsageError(f'phase must be "TRAIN" or "TEST", not "{args.phase}"')
    return args.phase.lower()


def _device_for(ids, rank=0):
    if not ids:
        log.info('Use CPU.')
        return 'cpu'
    return f'cuda:{ids[rank % len(ids)]}'


# -- train -----------------------------------------------------------------------------------------------------------

def effect(value, flag):
    if value not in EFFECTS:
        raise UsageError(f'Invalid signal effect "{value}" was specified for -{flag} (stop, snapshot or none)')
    return value


def relaunch_per_gpu(ids, argv):
    """Run this command once per GPU under torch.distributed.run; returns its exit status."""
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={len(ids)}',
           '-m', 'tools.caffe_cli'] + list(argv)
    log.info('Using GPUs %s: one process per GPU through torch.distributed', ', '.join(map(str, ids)))
    return subprocess.call(cmd)


def train(args):
    if not args.solver:
        raise UsageError('Need a solver definition to train.')
    if args.snapshot and args.weights:
        raise UsageError('Give a snapshot to resume training or weights to finetune but not both.')
    effect(args.sigint_effect, 'sigint_effect')
    effect(args.sighup_effect, 'sighup_effect')
    param, _ = load_param(args.solver, base_dir=os.getcwd())
    param.train_state.level = args.level
    param.train_state.stage.extend(stages(args))
    flag = args.gpu
    if not flag and param.HasField('solver_mode') and param.solver_mode == caffe_pb2.SolverParameter.GPU:
        flag = str(param.device_id) if param.HasField('device_id') else '0'
    ids = gpus(flag)
    if len(ids) > 1 and 'WORLD_SIZE' not in os.environ:
        return relaunch_per_gpu(ids, args.argv)
    rank, size = init_from_env(f'cuda:{ids[0]}' if ids else 'cpu')
    if rank:
        log.setLevel(max(log.level, logging.WARNING))   # Caffe's non-root solvers log no INFO lines
    device = _device_for(ids, int(os.environ.get('LOCAL_RANK', rank)))
    if ids:
        log.info('Using GPUs %s', ', '.join(map(str, ids)))
    if rank == 0:                                   # Caffe's root solver checks it, the others do not
        check_snapshot_prefix(param)
    solver = get_solver(param, device=device)
    solver.sigint_effect, solver.sighup_effect = args.sigint_effect, args.sighup_effect
    with solver:
        if args.snapshot:
            log.info('Resuming from %s', args.snapshot)
            solver.restore(args.snapshot)
        elif args.weights:
            copy_layers(solver, args.weights)
        log.info('Starting Optimization')
        solver.solve()
        log.info('Optimization Done.')
    leave()


def copy_layers(solver, model_list):
    """caffe.cpp's CopyLayers: each comma-separated weight file into the train net and every test net."""
    for name in model_list.split(','):
        log.info('Finetuning from %s', name)
        solver.net.copy_from(name)
        for tn in solver.test_nets:
            tn.copy_from(name)
    solver.share_weights()


# -- test ------------------------------------------------------------------------------------------------------------

def _net(args, phase, device):
    from runtime import Net
    return Net(args.model, phase=phase, device=device, stages=tuple(stages(args)), level=args.level)


def test(args):
    if not args.model:
        raise UsageError('Need a model definition to score.')
    if not args.weights:
        raise UsageError('Need model weights to score.')
    ids = gpus(args.gpu)
    device = _device_for(ids[:1])
    if ids:
        log.info('Use GPU with device ID %d', ids[0])
    net = _net(args, 'test', device)
    net.copy_from(args.weights)
    log.info('Running for %d iterations.', args.iterations)
    scores, names = score_batches(net, args.iterations)
    weights = loss_weights(net)
    loss = scores['loss'] / np.float32(args.iterations)
    log.info('Loss: %s', fmt(loss))
    for total, name in zip(scores['sum'], names):
        mean = np.float32(total) / np.float32(args.iterations)
        w = np.float32(weights.get(name, 0.0))
        extra = f' (* {fmt(w)} = {fmt(w * mean)} loss)' if w else ''
        log.info('%s = %s%s', name, fmt(mean), extra)


def score_batches(net, iterations):
    """caffe test's loop: `iterations` forward passes, a `Batch i, name = value` line per output value; the float32
    sums of each value and of the loss, and each value's output name."""
    weights = loss_weights(net)
    sums, names, loss = None, [], np.float32(0)
    with torch.no_grad():
        for i in range(iterations):
            out = net.forward()
            vals, iter_loss = [], np.float32(0)
            for name in net.outputs:
                v = torch.as_tensor(out[name]).detach().float().cpu().reshape(-1)
                vals.append(v)
                if i == 0:
                    names.extend([name] * v.numel())
                if weights.get(name):
                    iter_loss += np.float32(weights[name]) * np.float32(float(v.double().sum()))
                for x in v.tolist():
                    log.info('Batch %d, %s = %s', i, name, fmt(x))
            loss += iter_loss
            flat = torch.cat(vals) if vals else torch.zeros(0)
            sums = flat.clone() if sums is None else sums + flat
    return {'sum': [] if sums is None else sums.tolist(), 'loss': loss}, names


# -- time ------------------------------------------------------------------------------------------------------------

def time_net(args):
    from fcnapps.bench import layer_times
    if not args.model:
        raise UsageError('Need a model definition to time.')
    phase = _phase(args, 'train')
    ids = gpus(args.gpu)
    device = _device_for(ids[:1])
    if ids:
        log.info('Use GPU with device ID %d', ids[0])
    net = _net(args, phase, device)
    log.info('Performing Forward')
    net.forward()
    log.info('Initial loss: %s', fmt(net_loss(net)))
    log.info('Performing Backward')
    net.backward()
    names = [name for *_, name, _ in net._plan]
    cpu = torch.device(device).type == 'cpu'
    us = (lambda t: float(int(t * 1e6))) if cpu else (lambda t: t * 1e6)   # Caffe's CPU timer: whole us / ms
    ms = (lambda t: float(int(t * 1e3))) if cpu else (lambda t: t * 1e3)
    fwd = dict.fromkeys(names, 0.0)
    bwd = dict.fromkeys(names, 0.0)
    forward_total = backward_total = 0.0
    log.info('*** Benchmark begins ***')
    log.info('Testing for %d iterations.', args.iterations)
    total_start = time.perf_counter()
    for j in range(args.iterations):
        t0 = time.perf_counter()
        times = layer_times(net, {}, backward=True, repeat=1, device=device)
        for name, (f, b) in times.items():
            fwd[name] += us(f)
            bwd[name] += us(b)
        forward_total += us(sum(f for f, _ in times.values()))
        backward_total += us(sum(b for _, b in times.values()))
        log.info('Iteration: %d forward-backward time: %s ms.', j + 1, fmt(ms(time.perf_counter() - t0)))
    total_ms = ms(time.perf_counter() - total_start)
    n = max(args.iterations, 1)
    log.info('Average time per layer: ')
    for name in names:
        log.info('%10s\tforward: %s ms.', name, fmt(fwd[name] / 1000 / n))
        log.info('%10s\tbackward: %s ms.', name, fmt(bwd[name] / 1000 / n))
    log.info('Average Forward pass: %s ms.', fmt(forward_total / 1000 / n))
    log.info('Average Backward pass: %s ms.', fmt(backward_total / 1000 / n))
    log.info('Average Forward-Backward: %s ms.', fmt(total_ms / n))
    log.info('Total Time: %s ms.', fmt(total_ms))
    log.info('*** Benchmark ends ***')


def net_loss(net):
    """Net::Forward's loss: the float32 sum of the weighted loss outputs."""
    loss = np.float32(0)
    for name, w in loss_weights(net).items():
        v = net.blobs.get(name)
        if v is not None:
            loss += np.float32(w) * np.float32(float(torch.as_tensor(v).detach().double().sum()))
    return loss


# -- device_query ----------------------------------------------------------------------------------------------------

#: Caffe::DeviceQuery's lines that torch's device properties answer
DEVICE_LINES = [('Major revision number', 'major'), ('Minor revision number', 'minor'), ('Name', 'name'),
                ('Total global memory', 'total_memory'), ('Warp size', 'warp_size'),
                ('Number of multiprocessors', 'multi_processor_count')]


def device_query(args):
    if not args.gpu:
        raise UsageError('Need a device ID to query.')
    ids = gpus(args.gpu)
    log.info('Querying GPUs %s', args.gpu)
    for i in ids:
        prop = torch.cuda.get_device_properties(i)
        log.info('Device id:                     %d', i)
        for label, attr in DEVICE_LINES:
            if hasattr(prop, attr):
                log.info('%-30s %s', label + ':', getattr(prop, attr))


if __name__ == '__main__':
    sys.exit(main())
