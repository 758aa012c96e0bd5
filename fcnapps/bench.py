"""The runtime's speed against a hand-written nn.Module of the same net (full-width VGG16 FCN-8s), same weights.

Used by tools/bench.py. The hand-written module computes with the Net's own parameter tensors in plain PyTorch
(torch's convolutions in the parameters' layout, dense deconvolutions), so the ratio measures what the Net's layer
choices and bookkeeping gain or cost over straightforward PyTorch code. GFLOP/s (convolutions and deconvolutions,
multiply-adds counted as 2, layer_flops) is set against a large-GEMM peak measured in the same run. Also: a per-layer
profile (layer_times), the tensors saved for backward (saved_bytes) and the peak memory of a training iteration.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from netspec import caffe_pb2, write_text
from netspec.models import make_folder
from runtime import Net, precision as precision_mod
from runtime.state import with_inputs
from weights.surgery import deconv_layers, interp

VGG = [('conv1_1', 3, 64, 100), ('conv1_2', 64, 64, 1), 'pool1',
       ('conv2_1', 64, 128, 1), ('conv2_2', 128, 128, 1), 'pool2',
       ('conv3_1', 128, 256, 1), ('conv3_2', 256, 256, 1), ('conv3_3', 256, 256, 1), 'pool3',
       ('conv4_1', 256, 512, 1), ('conv4_2', 512, 512, 1), ('conv4_3', 512, 512, 1), 'pool4',
       ('conv5_1', 512, 512, 1), ('conv5_2', 512, 512, 1), ('conv5_3', 512, 512, 1), 'pool5']


class HandFCN8s(nn.Module):
    """FCN-8s (VGG16) written directly in PyTorch, as one would without a Caffe runtime; its parameters are the
    Net's own tensors (shared, not copied), so both compute with the same weights."""

    def __init__(self, net):
        super().__init__()
        p = net.params
        self.w = {name: p[name] for name in p}
        self.train_phase = net.phase == caffe_pb2.TRAIN

    def _conv(self, name, x, pad=0):
        w = self.w[name]
        return F.conv2d(x, w[0], w[1] if len(w) > 1 else None, 1, pad)

    def forward(self, data, label=None):
        x = data
        feats = {}
        for item in VGG:
            if isinstance(item, str):
                x = F.max_pool2d(x, 2, 2, 0, 1, True)
                feats[item] = x
            else:
                x = F.relu(self._conv(item[0], x, item[3]), inplace=True)
        x = F.relu(self._conv('fc6', x), inplace=True)
        if self.train_phase:
            x = F.dropout(x, 0.5, True)
        x = F.relu(self._conv('fc7', x), inplace=True)
        if self.train_phase:
            x = F.dropout(x, 0.5, True)
        x = self._conv('score_fr', x)
        up2 = F.conv_transpose2d(x, self.w['upscore2'][0], None, 2)
        sp4 = self._conv('score_pool4', feats['pool4'])
        x = up2 + sp4[:, :, 5:5 + up2.shape[2], 5:5 + up2.shape[3]]
        up4 = F.conv_transpose2d(x, self.w['upscore_pool4'][0], None, 2)
        sp3 = self._conv('score_pool3', feats['pool3'])
        x = up4 + sp3[:, :, 9:9 + up4.shape[2], 9:9 + up4.shape[3]]
        x = F.conv_transpose2d(x, self.w['upscore8'][0], None, 8)
        score = x[:, :, 31:31 + data.shape[2], 31:31 + data.shape[3]]
        if label is None:
            return score
        return F.cross_entropy(score, label[:, 0].long(), ignore_index=255, reduction='sum')


def _diagonal_deconv(layer):
    """Whether a Deconvolution layer computes per channel (a frozen diagonal weight, layers.conv.Deconvolution)."""
    return getattr(layer, '_diagonal_candidate', False) and not layer.weight.requires_grad and \
        layer.weight.device.type != 'meta' and layer._diagonal(layer.weight) is not None


def layer_flops(net):
    """{layer name: (forward FLOPs, backward FLOPs)} of every Convolution and Deconvolution: multiply-adds x 2 of
    the work the layer has to do. Backward: the bottom diff (not for a bottom that needs none, e.g. the data) plus
    the weight diff (only for a weight that learns). A frozen bilinear deconvolution counts its per-channel work."""
    out = {}
    shapes = {k: tuple(v.shape) for k, v in net.blobs.items() if v is not None} or net.blob_shapes
    needs_diff = set()     # blobs whose diff someone computes: downstream of a learnable parameter
    for layer, lp in zip(net.layers, net.net_param.layer):
        learns = any(p.requires_grad for p in layer.blobs) or any(b in needs_diff for b in lp.bottom)
        if learns:
            needs_diff.update(lp.top)
        if lp.type not in ('Convolution', 'Deconvolution'):
            continue
        w = layer.weight
        spatial = shapes[lp.top[0]] if lp.type == 'Convolution' else shapes[lp.bottom[0]]
        per_channel = lp.type == 'Deconvolution' and _diagonal_deconv(layer)
        numel = w.numel() // (w.shape[0] if per_channel else 1)
        f = 2 * numel * spatial[2] * spatial[3] * shapes[lp.bottom[0]][0]
        bwd = (f if lp.bottom[0] in needs_diff else 0) + (f if w.requires_grad else 0)
        out[lp.name] = (f, bwd)
    return out


def conv_flops(net, backward=False):
    """The total of layer_flops: forward, or forward + backward."""
    return sum(f + (b if backward else 0) for f, b in layer_flops(net).values())


def gemm_peak(n=2048, repeat=3, device='cpu'):
    """GFLOP/s of a large float32 matrix product (the best of `repeat`)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    best = float('inf')
    for _ in range(repeat):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def _sync(device):
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def _time(fn, repeat, device='cpu'):
    times = []
    for _ in range(repeat):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return times


def fill_like_fcn(net, seed=0):
    """Weights as a trained FCN has them in shape: small random values, and bilinear kernels on the diagonal of the
    frozen upsampling layers (weights.surgery.interp), so the runtime takes the paths it takes in FCN training."""
    gen = torch.Generator().manual_seed(seed)
    frozen = set(deconv_layers(net))      # zero (Caffe's default filler) before interp writes their diagonal
    with torch.no_grad():
        for name, ps in net.params.items():
            for p in ps:
                if name in frozen:
                    p.zero_()
                elif p.device.type == 'cpu':
                    p.normal_(0, 0.01, generator=gen)        # in place: no temporary as large as fc6
                else:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.01)
    interp(net)


def layer_times(net, feed, backward=True, repeat=1, device='cpu'):
    """Per-layer wall time of forward and (if `backward`) backward: {layer name: [forward s, backward s]}, the best
    of `repeat` iterations. A layer's backward is the time from the first autograd node of its tops until the next
    layer's (torch runs one node at a time on the CPU, latest-created first), which includes the accumulation of
    its parameter gradients."""
    plan = net._plan
    fwd, marks = {}, []

    def timed(fn, name):
        def run(*bottoms):
            _sync(device)
            t = time.perf_counter()
            outs = fn(*bottoms)
            _sync(device)
            fwd[name] = fwd.get(name, 0.0) + time.perf_counter() - t
            for o in outs:
                if isinstance(o, torch.Tensor) and o.grad_fn is not None:
                    o.grad_fn.register_prehook(lambda g, name=name: marks.append((_now(device), name)))
            return outs
        return run

    best = {name: [float('inf'), float('inf') if backward else 0.0] for *_, name, _ in plan}
    net._plan = [(timed(fn, name), bs, ts, name, typ) for fn, bs, ts, name, typ in plan]
    try:
        for _ in range(repeat):
            fwd.clear()
            marks.clear()
            net.forward(**feed)
            if backward:
                net.backward()
                marks.append((_now(device), None))
            bwd = {}
            for (t, name), (t_next, _) in zip(marks, marks[1:]):
                bwd[name] = bwd.get(name, 0.0) + t_next - t
            for name in best:
                best[name][0] = min(best[name][0], fwd.get(name, 0.0))
                if backward:
                    best[name][1] = min(best[name][1], bwd.get(name, 0.0))
    finally:
        net._plan = plan
    return best


def _now(device):
    _sync(device)
    return time.perf_counter()


def saved_bytes(net, feed):
    """Bytes of the tensors one forward saves for backward (each storage once; parameters not counted), by layer:
    ({layer: bytes}, total). A storage saved by several layers counts for the first."""
    params = {p.untyped_storage().data_ptr() for p in net.parameters()}
    seen, by_layer, current = set(), {}, [None]

    def pack(t):
        st = t.untyped_storage()
        key = st.data_ptr()
        if key not in params and key not in seen and st.nbytes():
            seen.add(key)
            by_layer[current[0]] = by_layer.get(current[0], 0) + st.nbytes()
        return t

    def tagged(fn, name):
        def run(*bottoms):
            current[0] = name
            return fn(*bottoms)
        return run

    plan = net._plan
    net._plan = [(tagged(fn, name), bs, ts, name, typ) for fn, bs, ts, name, typ in plan]
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            net.forward(**feed)
    finally:
        net._plan = plan
    return by_layer, sum(by_layer.values())


def blob_bytes(net):
    """Bytes of the last forward's blobs (each storage once)."""
    seen = {}
    for v in net.blobs.values():
        if v is not None:
            st = v.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
    return sum(seen.values())


_RSS_SNIPPET = r'''
import sys, torch
from fcnapps import bench
torch.set_num_threads(int(sys.argv[2]))
net, feed = bench.training_net(int(sys.argv[1]), width=float(sys.argv[3]))
def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key + ':'):
            return int(line.split()[1])
before = status('VmRSS')
with open('/proc/self/clear_refs', 'w') as f:      # resets the peak (VmHWM) to the current RSS
    f.write('5')
net.forward(**feed); net.backward()
print('RSS_KB', before, status('VmHWM'))
'''


def iteration_peak_rss(size=500, threads=1, width=1.0):
    """(RSS after building the net, peak RSS during one training iteration) in bytes, measured in a fresh Linux
    process (the difference is what one forward + backward holds at its peak on top of the parameters)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    res = subprocess.run([sys.executable, '-c', _RSS_SNIPPET, str(size), str(threads), str(width)],
                         capture_output=True, text=True, env=env)
    for line in res.stdout.splitlines():
        if line.startswith('RSS_KB '):
            before, after = (int(v) * 1024 for v in line.split()[1:])
            return before, after
    raise RuntimeError(f'the RSS measurement failed (exit {res.returncode}): {res.stderr[-2000:]}')


def training_net(size=500, device='cpu', precision='fp32', memory_format='auto', seed=0, width=1.0):
    """FCN-8s (voc-fcn8s train net, its data layers replaced by inputs; `width` scales the channels) with
    fill_like_fcn weights, and a seeded input image and label: (net, feed)."""
    folder = make_folder('voc-fcn8s', width=width)
    shapes = {'data': (1, 3, size, size), 'label': (1, 1, size, size)}
    torch.manual_seed(seed)
    net = Net(with_inputs(folder['train.prototxt'], shapes), phase='train', device=device, precision=precision,
              memory_format=memory_format)
    fill_like_fcn(net, seed)
    return net, _feed(shapes, seed)


def _feed(shapes, seed):
    rng = np.random.RandomState(seed)
    feed = {'data': (rng.randn(*shapes['data']) * 50).astype(np.float32)}
    if 'label' in shapes:
        feed['label'] = rng.randint(0, 21, shapes['label']).astype(np.float32)
    return feed


def run(size=500, repeat=2, seed=0, log=print, device='cpu', precision='fp32', memory_format='auto',
        profile=False, memory=True, width=1.0, gemm_n=2048):
    """Time the runtime and the hand-written module, forward (TEST, no gradient) and forward+backward (TRAIN), with
    the large-GEMM peak measured before, between and after (the best counts: on a shared machine the ratios are
    then conservative). Optionally a per-layer profile (layer_times) and memory figures. Returns a dict."""
    torch.manual_seed(seed)
    folder = make_folder('voc-fcn8s', width=width)
    shapes = {'data': (1, 3, size, size), 'label': (1, 1, size, size)}
    results = {'device': str(device), 'precision': precision, 'threads': torch.get_num_threads()}
    peaks = [gemm_peak(gemm_n, device=device)]

    test_net = Net(folder['deploy.prototxt'], phase='test', device=device, precision=precision,
                   memory_format=memory_format)
    fill_like_fcn(test_net, seed)
    data = _feed(shapes, seed)['data']
    hand = HandFCN8s(test_net)
    test_net.forward(data=data)
    x = test_net.blobs['data']
    log(f'forward, {size}x{size}, TEST phase (no gradient), {repeat} runs each after a warm-up:')
    hand = _in_precision(hand, precision, device)
    with torch.no_grad():
        hand(x)
        ours, theirs = [], []
        for _ in range(repeat):
            ours += _time(lambda: test_net.forward(data=data), 1, device)
            theirs += _time(lambda: hand(x), 1, device)
        ref = hand(x)
        out = test_net.forward(data=data)['score']
        results['forward_max_abs_diff'] = float((out.float() - ref.float()).abs().max())
    results['forward'] = (min(ours), min(theirs))
    results['forward_layers'] = layer_flops(test_net)
    if profile:
        with torch.no_grad():
            results['forward_profile'] = layer_times(test_net, {'data': data}, backward=False, repeat=repeat,
                                                     device=device)
    del test_net, hand, out, ref
    peaks.append(gemm_peak(gemm_n, device=device))

    train_net, feed = training_net(size, device, precision, memory_format, seed, width)
    hand = _in_precision(HandFCN8s(train_net), precision, device)
    train_net.forward(**feed)
    xd, xl = train_net.blobs['data'], train_net.blobs['label']

    def ours_step():
        train_net.forward(**feed)
        train_net.backward()

    def hand_step():
        hand(xd, xl).backward()

    log(f'forward+backward, {size}x{size}, TRAIN phase:')
    hand_step()
    ours_step()
    ours, theirs = [], []
    for _ in range(repeat):
        ours += _time(ours_step, 1, device)
        theirs += _time(hand_step, 1, device)
    results['forward_backward'] = (min(ours), min(theirs))
    results['train_layers'] = layer_flops(train_net)
    if profile:
        results['train_profile'] = layer_times(train_net, feed, backward=True, repeat=repeat, device=device)
    if memory:
        results['memory'] = memory_figures(train_net, feed, size, device, width)
    peaks.append(gemm_peak(gemm_n, device=device))
    results['peaks_gflops'] = peaks
    results['peak_gflops'] = max(peaks)      # the machine may be shared: the best measurement
    results['flops'] = (conv_flops_of(results['forward_layers']), conv_flops_of(results['train_layers'], True))
    return results


def _in_precision(module, precision, device):
    """The hand-written module's forward in the same precision context as the Net's (runtime.precision)."""

    def run(*args):
        with precision_mod.context(precision, device):
            return module(*args)
    return run


def conv_flops_of(layers, backward=False):
    return sum(f + (b if backward else 0) for f, b in layers.values())


def memory_figures(net, feed, size, device='cpu', width=1.0):
    """Memory of one training iteration: bytes saved for backward (by layer), bytes of the blobs, of the parameters
    and their gradients; on CUDA the peak allocated during forward + backward, on the CPU the peak RSS growth of an
    iteration in a fresh process."""
    by_layer, saved = saved_bytes(net, feed)
    figures = {'saved_for_backward': saved, 'saved_by_layer': by_layer, 'blobs': blob_bytes(net),
               'params': sum(p.numel() * p.element_size() for p in net.parameters())}
    net.backward()
    figures['param_grads'] = sum(p.grad.numel() * p.grad.element_size() for p in net.parameters()
                                 if p.grad is not None)
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        net.forward(**feed)
        net.backward()
        torch.cuda.synchronize(device)
        figures['cuda_peak_allocated'] = torch.cuda.max_memory_allocated(device)
        figures['cuda_allocated_before'] = base
    elif torch.device(device).type == 'cpu' and os.path.exists('/proc/self/clear_refs'):
        before, after = iteration_peak_rss(size, threads=1, width=width)
        figures['rss_after_build'], figures['rss_peak_iteration'] = before, after
    return figures


# Runs inside the Caffe oracle's own Python (never imports this project): times pycaffe on the same nets.
_CAFFE_SNIPPET = r'''
import json, sys, time
import numpy as np
import caffe
caffe.set_mode_cpu()
folder, size, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.RandomState(0)
out = {}
for key, name, phase in (('forward', 'deploy.prototxt', caffe.TEST), ('forward_backward', 'train.prototxt', caffe.TRAIN)):
    net = caffe.Net(folder + '/' + name, phase)
    for blobs in net.params.values():
        for b in blobs:
            b.data[...] = rng.randn(*b.data.shape) * 0.01
    net.blobs['data'].data[...] = rng.randn(*net.blobs['data'].data.shape) * 50
    if 'label' in net.blobs:
        net.blobs['label'].data[...] = rng.randint(0, 21, net.blobs['label'].data.shape)
    times = []
    for i in range(repeat + 1):
        t = time.perf_counter()
        net.forward()
        if phase == caffe.TRAIN:
            net.backward()
        times.append(time.perf_counter() - t)
    out[key] = min(times[1:])
    del net
print('CAFFE_TIMES ' + json.dumps(out))
'''


def caffe_times(env_sh, size=500, repeat=1, log=print):
    """Caffe's own forward and forward+backward times for the same FCN-8s nets, run by the oracle build sourced
    from `env_sh` in a separate process (its protobuf and numpy differ from this project's)."""
    nets = make_folder('voc-fcn8s')
    shapes = {'data': (1, 3, size, size), 'label': (1, 1, size, size)}
    with tempfile.TemporaryDirectory() as tmp:
        deploy = caffe_pb2.NetParameter()
        deploy.CopyFrom(nets['deploy.prototxt'])
        for lp in deploy.layer:
            if lp.type == 'Input':
                del lp.input_param.shape[:]
                lp.input_param.shape.add().dim.extend(shapes['data'])
        write_text(deploy, f'{tmp}/deploy.prototxt')
        write_text(with_inputs(nets['train.prototxt'], shapes), f'{tmp}/train.prototxt')
        script = f'{tmp}/caffe_bench.py'
        with open(script, 'w') as f:
            f.write(_CAFFE_SNIPPET)
        cmd = f'source {env_sh} && python {script} {tmp} {size} {repeat}'
        log(f'Caffe (oracle from {env_sh}), {size}x{size}, {repeat} timed run(s) after a warm-up:')
        res = subprocess.run(['bash', '-c', cmd], capture_output=True, text=True)
        for line in res.stdout.splitlines():
            if line.startswith('CAFFE_TIMES '):
                return json.loads(line[len('CAFFE_TIMES '):])
        raise RuntimeError(f'the Caffe run failed (exit {res.returncode}): {res.stderr[-2000:]}')
