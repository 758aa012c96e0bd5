"""The runtime's speed against a hand-written nn.Module of the same net (full-width VGG16 FCN-8s), same weights.

Used by tools/bench.py. Both models run the same torch kernels on the same memory layout, so the ratio measures what
the Net adds over plain PyTorch code; GFLOP/s (convolutions and deconvolutions, multiply-adds counted as 2) is set
against a large-GEMM peak measured on the same machine.
"""
import json
import subprocess
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from netspec import caffe_pb2, write_text
from netspec.models import make_folder
from .net import Net
from .state import with_inputs

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


def conv_flops(net, backward=False):
    """Multiply-adds x 2 of every Convolution and Deconvolution; with backward, plus the input gradients (not for
    the first layer, whose input needs none) and the weight gradients of learnable weights."""
    total = 0
    first = True
    shapes = {k: tuple(v.shape) for k, v in net.blobs.items() if v is not None} or net.blob_shapes
    for layer, lp in zip(net.layers, net.net_param.layer):
        if lp.type not in ('Convolution', 'Deconvolution'):
            continue
        w = layer.weight
        spatial = shapes[lp.top[0]] if lp.type == 'Convolution' else shapes[lp.bottom[0]]
        n = shapes[lp.bottom[0]][0]
        f = 2 * w.numel() * spatial[2] * spatial[3] * n
        total += f
        if backward:
            total += 0 if first else f
            total += f if w.requires_grad else 0
        first = False
    return total


def gemm_peak(n=2048, repeat=3):
    """GFLOP/s of a large float32 matrix product (the best of `repeat`)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float('inf')
    for _ in range(repeat):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def _time(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def run(size=500, repeat=2, seed=0, log=print):
    """Time the runtime and the hand-written module, forward (TEST, no gradient) and forward+backward (TRAIN).
    Returns a dict of the measurements."""
    torch.manual_seed(seed)
    folder = make_folder('voc-fcn8s')
    shapes = {'data': (1, 3, size, size), 'label': (1, 1, size, size)}
    rng = np.random.RandomState(seed)
    data = (rng.randn(*shapes['data']) * 50).astype(np.float32)
    label = rng.randint(0, 21, shapes['label']).astype(np.float32)
    results = {}
    peak_before = gemm_peak()

    test_net = Net(folder['deploy.prototxt'], phase='test')
    with torch.no_grad():
        for ps in test_net.params.values():
            for p in ps:
                p.normal_(0, 0.01)
    hand = HandFCN8s(test_net)
    test_net.forward(data=data)
    x = test_net.blobs['data']
    log(f'forward, {size}x{size}, TEST phase (no gradient), {repeat} runs each after a warm-up:')
    with torch.no_grad():
        hand(x)
        ours, theirs = [], []
        for _ in range(repeat):
            ours += _time(lambda: test_net.forward(data=data), 1)
            theirs += _time(lambda: hand(x), 1)
        ref = hand(x)
    out = test_net.forward(data=data)['score']
    results['forward_max_abs_diff'] = float((out - ref).abs().max())
    results['forward'] = (min(ours), min(theirs))
    fwd_flops = conv_flops(test_net)
    del test_net, hand, out, ref

    train_param = with_inputs(folder['train.prototxt'], shapes)
    train_net = Net(train_param, phase='train')
    with torch.no_grad():
        for ps in train_net.params.values():
            for p in ps:
                p.normal_(0, 0.01)
    hand = HandFCN8s(train_net)
    train_net.forward(data=data, label=label)
    xd, xl = train_net.blobs['data'], train_net.blobs['label']

    def ours_step():
        train_net.forward(data=data, label=label)
        train_net.backward()

    def hand_step():
        hand(xd, xl).backward()

    log(f'forward+backward, {size}x{size}, TRAIN phase:')
    hand_step()
    ours_step()
    ours, theirs = [], []
    for _ in range(repeat):
        ours += _time(ours_step, 1)
        theirs += _time(hand_step, 1)
    results['forward_backward'] = (min(ours), min(theirs))
    bwd_flops = conv_flops(train_net, backward=True)
    peak = max(peak_before, gemm_peak())      # the machine may be shared: the better of two measurements
    results['peak_gflops'] = peak
    results['flops'] = (fwd_flops, bwd_flops)
    return results


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
