"""The steps of the device check (see the package docstring); each is step(device, tiny, out) -> dict with 'ok'."""
import glob
import io
import json
import os
import re
import subprocess
import sys
import time
import traceback

import numpy as np
import torch

from fcnapps import bench as runtime_bench
from fcnapps.report import score_model
import fcndemo
from netspec import parse_text
from netspec.atomic import atomic_file
from runtime import Net
from solvers import get_solver
from weights.surgery import interp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FWD, GRAD = 1e-5, 1e-4                       # the oracle tests' tolerances, relative to a blob's largest magnitude
TINY_TESTS = ['tests/test_runtime_devices.py']
TINY_NETS = ('voc-fcn8s', 'voc-fcn-alexnet')
TARGETS_MS = {'forward': 5.0, 'forward_backward': 15.0}     # the project's targets: one modern GPU, fast mode, 500x500


def _env():
    """The environment of a child Python that imports the project from this checkout."""
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    return env


# ------------------------------------------------------------------------------------------------------ tests

def tests(device, tiny, out):
    """The pytest suite in a child process (its tests add 'cuda' cases themselves where torch sees a GPU)."""
    log_path = os.path.join(out, 'tests.log')
    every = ['tests', '-m', 'slow or not slow']     # the slow tests too (setup.cfg leaves them out by default)
    args = [sys.executable, '-m', 'pytest', '-v', '-p', 'no:cacheprovider'] + (TINY_TESTS if tiny else every)
    res = subprocess.run(args, cwd=ROOT, env=_env(), capture_output=True, text=True)
    with open(log_path, 'w') as f:
        f.write(res.stdout + res.stderr)
    lines = res.stdout.strip().splitlines()
    device_passed = sum(1 for line in lines if 'PASSED' in line and re.search(r'[\[-]cuda[\]-]', line.split(' ')[0]))
    return {'ok': res.returncode == 0, 'summary': lines[-1] if lines else res.stderr[-500:],
            'cuda_cases_passed': device_passed, 'log': log_path}


# ---------------------------------------------------------------------------------------------------- devices

def thin_net_texts(tiny):
    """(folder, size tag, prototxt text) of the thin reference nets the oracle fixtures hold."""
    for path in sorted(glob.glob(os.path.join(ROOT, 'tests', 'golden', 'runtime', 'nets_*.npz'))):
        folder = os.path.basename(path)[len('nets_'):-len('.npz')]
        if tiny and folder not in TINY_NETS:
            continue
        store = np.load(path)
        tags = sorted(k.split('/')[0] for k in store.files if k.endswith('/prototxt'))
        for tag in tags[:1] if tiny else tags:
            yield folder, tag, str(store[f'{tag}/prototxt'])


def fill_thin(net, seed):
    """Seeded weights in the oracle fixtures' manner (He-scaled weights, zero trunk biases so that the constant
    padding regions hold exact zeros and max-pooling ties cannot depend on rounding, score weights x 0.1), with
    the frozen deconvolutions bilinear on the diagonal as in FCN."""
    rng = np.random.RandomState(seed)
    types = {lp.name: lp for lp in net.net_param.layer}
    arrays = {}
    for name, ps in net.params.items():
        lp = types[name]
        blobs = []
        for i, p in enumerate(ps):
            shape = tuple(p.shape)
            if i == 0 and len(shape) >= 2:
                a = rng.randn(*shape) * np.sqrt(2.0 / max(1, int(np.prod(shape[1:]))))
            else:
                a = rng.randn(*shape) * 0.1
            if (i == 1 and name.startswith('conv')) or (lp.type == 'Deconvolution' and not p.requires_grad):
                a = np.zeros(shape)
            if i == 0 and name.startswith('score'):
                a = a * 0.1
            blobs.append(a.astype(np.float32))
        arrays[name] = blobs
    net.load_arrays(arrays)
    interp(net)


def thin_inputs(net, seed):
    """Images ~ 50 N(0, 1); each loss's label in its classes, about 10% ignored where the loss has an ignore_label."""
    rng = np.random.RandomState(seed)
    labels = {}
    for lp in net.net_param.layer:
        if lp.type == 'SoftmaxWithLoss':
            ignore = lp.loss_param.ignore_label if lp.loss_param.HasField('ignore_label') else None
            labels[lp.bottom[1]] = (net.blob_shapes[lp.bottom[0]][1], ignore)
    out = {}
    for name in sorted(net.inputs):
        shape = net.blob_shapes[name]
        if name in labels:
            classes, ignore = labels[name]
            lab = rng.randint(0, classes, size=shape)
            if ignore is not None:
                lab[rng.uniform(size=shape) < 0.1] = ignore
            out[name] = lab.astype(np.float32)
        else:
            out[name] = (rng.randn(*shape) * 50).astype(np.float32)
    return out


def run_thin(text, device, seed, memory_format='auto', precision='fp32'):
    """One TRAIN forward + backward: ({blob: array}, {layer/i: gradient array})."""
    net = Net(parse_text(text), phase='train', device=device, memory_format=memory_format, precision=precision)
    fill_thin(net, seed)
    net.forward(**thin_inputs(net, seed))
    net.backward()
    blobs = {k: v.detach().float().cpu().numpy() for k, v in net.blobs.items() if v is not None}
    grads = {f'{layer}/{i}': p.grad.detach().cpu().numpy() for layer, ps in net.params.items()
             for i, p in enumerate(ps) if p.grad is not None}
    return blobs, grads


def relative_error(ours, ref):
    ref = np.asarray(ref, dtype=np.float64)
    scale = max(float(np.abs(ref).max(initial=0.0)), 1e-30)
    return float(np.abs(np.asarray(ours, dtype=np.float64) - ref).max(initial=0.0)) / scale


def devices(device, tiny, out):
    """Every thin reference net's blobs and gradients on `device` against the CPU (in tiny mode on the CPU itself:
    every convolution in channels_last against NCHW)."""
    other = dict(device='cpu', memory_format='channels_last') if tiny else dict(device=device)
    nets, worst = {}, {'forward': 0.0, 'gradient': 0.0}
    for k, (folder, tag, text) in enumerate(thin_net_texts(tiny)):
        ref_blobs, ref_grads = run_thin(text, 'cpu', seed=k, memory_format='contiguous')
        blobs, grads = run_thin(text, seed=k, **other)
        if sorted(blobs) != sorted(ref_blobs) or sorted(grads) != sorted(ref_grads):
            raise AssertionError(f'{folder} {tag}: different blobs or gradients on the two devices')
        fwd = max(relative_error(blobs[n], ref_blobs[n]) for n in ref_blobs)
        grad = max(relative_error(grads[n], ref_grads[n]) for n in ref_grads)
        nets[f'{folder}/{tag}'] = {'forward': fwd, 'gradient': grad}
        worst = {'forward': max(worst['forward'], fwd), 'gradient': max(worst['gradient'], grad)}
    return {'ok': bool(nets) and worst['forward'] <= FWD and worst['gradient'] <= GRAD, 'worst': worst,
            'tolerance': {'forward': FWD, 'gradient': GRAD}, 'nets': nets}


# ------------------------------------------------------------------------------------------------------ bench

def bench(device, tiny, out):
    """bench.run on the device for each precision: times, % of the GEMM peak, memory; the issue's targets."""
    size, width, repeat = (48, 0.0625, 1) if tiny else (500, 1.0, 5)
    runs = {}
    variants = [('fp32', 'auto'), ('tf32', 'auto'), ('bf16', 'auto'), ('bf16', 'channels_last')]
    for precision, layout in variants[::2] if tiny else variants:
        memory = not (tiny and runs)        # tiny: the memory figures once (they start a process on the CPU)
        r = runtime_bench.run(size=size, repeat=repeat, device=device, precision=precision, width=width,
                              memory=memory, memory_format=layout, gemm_n=256 if tiny else 2048, log=lambda *a: None)
        key = precision if layout == 'auto' else f'{precision}_{layout}'
        fl = r['flops']
        runs[key] = {
            'forward_s': r['forward'][0], 'forward_hand_s': r['forward'][1],
            'train_iteration_s': r['forward_backward'][0], 'train_iteration_hand_s': r['forward_backward'][1],
            'forward_pct_of_peak': 100 * fl[0] / r['forward'][0] / 1e9 / r['peak_gflops'],
            'train_pct_of_peak': 100 * fl[1] / r['forward_backward'][0] / 1e9 / r['peak_gflops'],
            'peak_gflops': r['peak_gflops'], 'forward_max_abs_diff_to_hand': r['forward_max_abs_diff'],
            'memory': {k: v for k, v in r.get('memory', {}).items() if k != 'saved_by_layer'}}
    fast = min((runs[k] for k in runs if k.startswith('bf16')), key=lambda r: r['forward_s'])
    targets = {'forward_ms': (1e3 * fast['forward_s'], TARGETS_MS['forward']),
               'train_iteration_ms': (1e3 * fast['train_iteration_s'], TARGETS_MS['forward_backward'])}
    return {'ok': True, 'size': size, 'width': width, 'runs': runs,
            'targets_met': {k: v[0] <= v[1] for k, v in targets.items()} if not tiny else None,
            'targets_ms': targets}


# -------------------------------------------------------------------------------------------------- fast mode

def fast_mode(device, tiny, out):
    """The demo (trained on the CPU, as tools/demo.py does), then its FCN-8s scored on the device in each precision:
    the fast modes' effect on mean IU."""
    demo_out = os.path.join(out, 'demo')
    if tiny:
        cfg = fcndemo.Config.quick(out=demo_out, n_train=4, n_val=2, clf_images=16, clf_iters=2, iters=(2, 2, 2),
                                   score_every=2, n_examples=1, progress=False)
    else:
        cfg = fcndemo.Config.quick(out=demo_out, progress=False)
    results = fcndemo.run(cfg, out=io.StringIO())
    stage = results['stages'][-1]
    scores = {}
    for precision in ('fp32', 'tf32', 'bf16'):
        def factory(p, w, d, precision=precision):
            return Net(p, weights=w, phase='test', device=d, precision=precision)
        rep = score_model(stage['folder'], stage['weights'], device=device, progress=False, net_factory=factory)
        scores[precision] = {k: float(v) for k, v in rep['heads'][0]['metrics'].items()
                             if k in ('overall_acc', 'mean_acc', 'mean_iu', 'fwavacc')}
    delta = {p: 100 * (scores[p]['mean_iu'] - scores['fp32']['mean_iu']) for p in ('tf32', 'bf16')}
    return {'ok': True, 'demo_cpu_fcn8s': results['table'].get('FCN-8s'), 'scores': scores,
            'mean_iu_change_points': delta, 'val_images': cfg.n_val}


# -------------------------------------------------------------------------------------------------------- ddp

_NET = '''name: "ddp_thin"
layer { name: "input" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } shape { dim: 1 dim: 1 dim: 16 dim: 16 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 } convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "score" type: "Convolution" bottom: "pool1" top: "score" param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 } convolution_param { num_output: 3 kernel_size: 1 } }
layer { name: "upscore" type: "Deconvolution" bottom: "score" top: "upscore" param { lr_mult: 0 }
  convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }
layer { name: "crop" type: "Crop" bottom: "upscore" bottom: "data" top: "crop" crop_param { axis: 2 offset: 1 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "crop" bottom: "label" top: "loss"
  loss_param { ignore_label: 255 normalize: false } }
'''

_SOLVER = '''net: "{net}"
type: "SGD"
base_lr: 0.001
lr_policy: "fixed"
momentum: 0.9
weight_decay: 0.0005
iter_size: {iter_size}
max_iter: 100
display: 0
snapshot_prefix: "{prefix}"
random_seed: 7
'''

_WORKER = r'''
import os, sys
import numpy as np, torch, torch.distributed as dist
device, solver_path, init_path, out_path, steps = sys.argv[1:6]
rank, world = int(os.environ['RANK']), int(os.environ['WORLD_SIZE'])
torch.set_num_threads(1)
if device.startswith('cuda'):
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    n = torch.cuda.device_count()
    device = f'cuda:{rank % n}'
    torch.cuda.set_device(device)
    backend = 'nccl' if n >= world else 'gloo'   # NCCL wants one GPU per process; gloo reduces CUDA tensors too
else:
    backend = 'gloo'
dist.init_process_group(backend)
sys.path.insert(0, os.environ['DEVICECHECK_ROOT'])
from devicecheck import steps as st
s = st.ddp_solver(solver_path, device, init_path)
xs, ys = st.ddp_pool()
s.feed = lambda solver, i: {'data': xs[2 * solver.iter + rank], 'label': ys[2 * solver.iter + rank]}
s.step(int(steps))
if rank == 0:
    np.savez(out_path, *[p.detach().cpu().numpy() for v in s.net.params.values() for p in v])
dist.destroy_process_group()
print('backend', backend)
'''


def ddp_pool(n=12, seed=3):
    rng = np.random.RandomState(seed)
    xs = (rng.randn(n, 1, 3, 16, 16) * 2).astype(np.float32)
    ys = rng.randint(0, 3, size=(n, 1, 1, 16, 16)).astype(np.float32)
    return xs, ys


def ddp_solver(solver_path, device, init_path):
    s = get_solver(solver_path, device=device)
    init = np.load(init_path)
    s.net.load_arrays({name: [init[f'{name}/{i}'] for i in range(len(ps))] for name, ps in s.net.params.items()})
    return s


def ddp(device, tiny, out):
    """torchrun, 2 processes of batch 1, against one process with iter_size 2 on the same device: Caffe's meaning
    of N GPUs (gradients summed, scaled by 1/N) must give the same parameters."""
    steps = 3
    folder = os.path.abspath(os.path.join(out, 'ddp'))
    os.makedirs(folder, exist_ok=True)
    net_path = os.path.join(folder, 'net.prototxt')
    with open(net_path, 'w') as f:
        f.write(_NET)
    paths = {}
    for k in (1, 2):
        paths[k] = os.path.join(folder, f'solver_iter_size_{k}.prototxt')
        with open(paths[k], 'w') as f:
            f.write(_SOLVER.format(net=net_path, iter_size=k, prefix=os.path.join(folder, 'snap')))
    init_net = Net(parse_text(_NET), phase='train')
    fill_thin(init_net, seed=11)
    init_path = os.path.join(folder, 'init.npz')
    np.savez(init_path, **{f'{n}/{i}': p.detach().numpy() for n, ps in init_net.params.items()
                           for i, p in enumerate(ps)})
    worker = os.path.join(folder, 'worker.py')
    with open(worker, 'w') as f:
        f.write(_WORKER)
    result = os.path.join(folder, 'ddp_params.npz')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', worker,
           device, paths[1], init_path, result, str(steps)]
    res = subprocess.run(cmd, cwd=folder, env=dict(_env(), DEVICECHECK_ROOT=ROOT), capture_output=True, text=True,
                         timeout=600)
    if res.returncode != 0:
        return {'ok': False, 'error': f'torchrun exited {res.returncode}', 'stderr': res.stderr[-3000:]}
    if torch.device(device).type == 'cuda':
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = ddp_solver(paths[2], device, init_path)
        xs, ys = ddp_pool()
        single.feed = lambda solver, i: {'data': xs[2 * solver.iter + i], 'label': ys[2 * solver.iter + i]}
        single.step(steps)
    finally:
        torch.set_num_threads(threads)
    ours = [p.detach().cpu().numpy() for v in single.net.params.values() for p in v]
    theirs = np.load(result)
    theirs = [theirs[f'arr_{i}'] for i in range(len(ours))]
    moved = not np.array_equal(ours[0], np.load(init_path)['conv1/0'])
    err = max(relative_error(a, b) for a, b in zip(theirs, ours))
    return {'ok': moved and err <= 1e-6, 'identical': all(np.array_equal(a, b) for a, b in zip(theirs, ours)),
            'max_relative_difference': err, 'steps': steps, 'backend': res.stdout.strip().splitlines()[-1:]}


# -------------------------------------------------------------------------------------------------------- all

STEPS = {'tests': tests, 'devices': devices, 'bench': bench, 'fast_mode': fast_mode, 'ddp': ddp}


def environment(device):
    info = {'torch': torch.__version__, 'cuda': torch.version.cuda, 'python': sys.version.split()[0],
            'cpu_threads': torch.get_num_threads()}
    if torch.device(device).type == 'cuda' and torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(device)
        info['cudnn'] = torch.backends.cudnn.version()
    return info


class DeviceUnavailable(RuntimeError):
    """The device to check is not one torch names, or not on this machine."""


class CheckFailed(Exception):
    """A step of the check failed (tools/cuda_check.py's own exit status; summary.json says why)."""


def check_device(device):
    """torch.device(device), or DeviceUnavailable where torch does not know the name or sees no such device."""
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise DeviceUnavailable(f'device {device!r}: {e}') from None
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise DeviceUnavailable(f'device {device!r}: torch {torch.__version__} sees no CUDA device')
    return dev


def failed_steps(summary):
    """The names of the steps a summary records as failed, in the order they ran."""
    return [name for name, res in summary['steps'].items() if not res['ok']]


def run_all(device='cuda', out='cuda-check', tiny=False, steps=None, log=print):
    """Run the steps in order (each failure caught and recorded); the summary is written to out/summary.json after
    every step, so a run cut short keeps what it finished. KeyError for an unknown step name, DeviceUnavailable
    for a device this machine lacks, both before any step runs."""
    check_device(device)
    unknown = [s for s in steps or () if s not in STEPS]
    if unknown:
        raise KeyError(f'unknown steps {unknown}; known: {", ".join(STEPS)}')
    os.makedirs(out, exist_ok=True)
    summary = {'device': str(device), 'tiny': tiny, 'environment': environment(device), 'steps': {}}
    path = os.path.join(out, 'summary.json')
    for name in steps or list(STEPS):
        t = time.time()
        try:
            res = STEPS[name](device, tiny, out)
        except Exception as e:      # a failing step is recorded; the next one still runs
            res = {'ok': False, 'error': f'{type(e).__name__}: {e}', 'traceback': traceback.format_exc()[-3000:]}
        res['seconds'] = round(time.time() - t, 1)
        summary['steps'][name] = res
        summary['ok'] = all(r['ok'] for r in summary['steps'].values())
        with atomic_file(path, 'check summary', mode='w') as f:
            json.dump(summary, f, indent=1, default=str)
        log(f'{name:10s} {"ok" if res["ok"] else "FAILED"} ({res["seconds"]} s) {brief(name, res)}')
    return summary


def brief(name, res):
    """One line on a step's result."""
    if 'error' in res:
        return res['error']
    if name == 'tests':
        return f"{res['summary']}; {res['cuda_cases_passed']} cuda cases passed"
    if name == 'devices':
        w = res['worst']
        return f"{len(res['nets'])} nets, worst relative error forward {w['forward']:.2g}, gradient {w['gradient']:.2g}"
    if name == 'bench':
        return '; '.join(f"{p}: forward {1e3 * r['forward_s']:.1f} ms, iteration {1e3 * r['train_iteration_s']:.1f} ms"
                         for p, r in res['runs'].items())
    if name == 'fast_mode':
        return ', '.join(f"{p} mean IU {100 * s['mean_iu']:.2f}" for p, s in res['scores'].items())
    if name == 'ddp':
        return f"identical {res['identical']}, max relative difference {res['max_relative_difference']:.2g}"
    return ''
