"""A Net-like stand-in for tests/golden/solvers/thin_fcn.prototxt in plain torch, used by the solver tests only
while runtime.Net cannot run that prototxt: conv1 pad 10 -> relu -> max pool 2/2 (ceil) -> conv2 pad 1 -> relu ->
[dropout when dropout=True] -> score 1x1 -> upscore deconv 4/2 (no bias) -> crop offset 9 -> SoftmaxWithLoss
(ignore 255, normalize false). It offers the part of the runtime contract the solvers use."""
import collections

import numpy as np
import torch
import torch.nn.functional as F

from netspec import caffe_pb2, read_net

SPECS = collections.OrderedDict([('conv1', [(1, 1), (2, 0)]), ('conv2', [(0.5, 2), (0, 1)]),
                                 ('score', [(1, 1), (2, 0)]), ('upscore', [(0, 1)])])
SHAPES = {'conv1': [(4, 3, 3, 3), (4,)], 'conv2': [(6, 4, 3, 3), (6,)], 'score': [(3, 6, 1, 1), (3,)],
          'upscore': [(3, 3, 4, 4)]}


class StandinNet:
    def __init__(self, proto, phase='train', dropout=False, **_):
        self.net_param = read_net(proto) if not isinstance(proto, caffe_pb2.NetParameter) else proto
        self.params = collections.OrderedDict(
            (k, [torch.nn.Parameter(torch.zeros(s)) for s in SHAPES[k]]) for k in SPECS)
        self.param_specs = SPECS
        self.outputs = ['loss']
        self.blobs = collections.OrderedDict()
        self.dropout = dropout
        self.phase = phase
        self._loss = None

    def forward(self, data=None, label=None):
        x = torch.as_tensor(np.asarray(data, np.float32)) if data is not None else self.blobs['data']
        y = torch.as_tensor(np.asarray(label, np.float32)) if label is not None else self.blobs['label']
        P = self.params
        h = F.relu(F.conv2d(x, P['conv1'][0], P['conv1'][1], padding=10))
        h = F.max_pool2d(h, 2, 2, ceil_mode=True)
        h = F.relu(F.conv2d(h, P['conv2'][0], P['conv2'][1], padding=1))
        if self.dropout and self.phase == 'train':
            h = h * (torch.rand_like(h) >= 0.5).float() * 2.0
        h = F.conv2d(h, P['score'][0], P['score'][1])
        h = F.conv_transpose2d(h, P['upscore'][0].detach(), stride=2)
        h = h[:, :, 9:9 + x.shape[2], 9:9 + x.shape[3]]
        loss = F.cross_entropy(h, y[:, 0].long(), ignore_index=255, reduction='sum') / x.shape[0]
        self.blobs.update(data=x, label=y, score=h.detach(), loss=loss.detach())
        self._loss = loss
        return {'loss': loss.detach()}

    def backward(self):
        self._loss.backward()

    def to_arrays(self):
        return collections.OrderedDict((k, [p.detach().numpy().copy() for p in v]) for k, v in self.params.items())

    def load_arrays(self, arrays, source='<arrays>'):
        for k, v in arrays.items():
            if k in self.params:
                for p, a in zip(self.params[k], v):
                    p.data.copy_(torch.as_tensor(np.asarray(a)).reshape(p.shape))

    def copy_from(self, path):
        from weights import read_weights
        self.load_arrays(read_weights(path), source=path)


def factory(dropout=False):
    def make(proto, phase, state):
        return StandinNet(proto, phase='train' if phase == caffe_pb2.TRAIN else 'test', dropout=dropout)
    return make


# -- helpers shared by the solver tests ------------------------------------------------------------------------------
import os  # noqa: E402
import pathlib  # noqa: E402
import random  # noqa: E402

GOLD = pathlib.Path(__file__).resolve().parent


def runtime_net_available():
    try:
        from runtime import Net  # noqa: F401
        return True
    except ImportError:
        return False


def net_factory(dropout=False):
    """None (runtime.Net) once the runtime landed; the stand-in before."""
    return None if runtime_net_available() else factory(dropout)


def pool(n=6, seed=99):
    """A fixed pool of (data, label) samples; `random_feed` draws from it with Python's `random`, as the reference
    data layers draw their sample order."""
    rng = np.random.RandomState(seed)
    xs = (rng.randn(n, 1, 3, 16, 16) * 2).astype(np.float32)
    ys = rng.randint(0, 3, size=(n, 1, 1, 16, 16)).astype(np.float32)
    return xs, ys


def random_feed(xs, ys):
    def feed(solver, i):
        k = random.randint(0, len(xs) - 1)
        return {'data': xs[k], 'label': ys[k]}
    return feed


def write_solver(folder, **settings):
    """A solver.prototxt in `folder` for the thin FCN (net given by absolute path)."""
    s = dict(net=str(GOLD / 'thin_fcn.prototxt'), base_lr=1e-3, momentum=0.99, lr_policy='fixed', weight_decay=5e-4,
             display=0, max_iter=1000, snapshot_prefix='snap/train', random_seed=7, type='SGD', iter_size=1)
    s.update(settings)
    lines = []
    for k, v in s.items():
        if isinstance(v, str) and k not in ('snapshot_format',):
            lines.append(f'{k}: "{v}"')
        elif isinstance(v, bool):
            lines.append(f'{k}: {"true" if v else "false"}')
        elif isinstance(v, (list, tuple)):
            lines += [f'{k}: {x}' for x in v]
        else:
            lines.append(f'{k}: {v}')
    path = os.path.join(folder, 'solver.prototxt')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def init_arrays():
    g = np.load(GOLD / 'solvers.npz')
    return collections.OrderedDict((k, [g[f'init/{k}/{i}'] for i in range(len(SHAPES[k]))]) for k in SPECS)


def make_solver(path, dropout=True, **kw):
    from solvers import get_solver
    s = get_solver(path, net_factory=net_factory(dropout), **kw)
    s.net.load_arrays(init_arrays(), source='golden init')
    s.feed = random_feed(*pool())
    return s


def subprocess_env():
    """The environment for a child Python that must import the project from this checkout."""
    env = dict(os.environ)
    root = str(GOLD.parents[2])
    env['PYTHONPATH'] = root + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    return env
