"""Helpers shared by the solver tests: the thin FCN of thin_fcn.prototxt (optionally with a Dropout layer), its
golden initial weights, a random-order feed, solver.prototxt files in a temporary folder."""
import collections
import os
import pathlib
import random

import numpy as np

from netspec import caffe_pb2, read_net, write_text

SPECS = collections.OrderedDict([('conv1', [(1, 1), (2, 0)]), ('conv2', [(0.5, 2), (0, 1)]),
                                 ('score', [(1, 1), (2, 0)]), ('upscore', [(0, 1)])])
SHAPES = {'conv1': [(4, 3, 3, 3), (4,)], 'conv2': [(6, 4, 3, 3), (6,)], 'score': [(3, 6, 1, 1), (3,)],
          'upscore': [(3, 3, 4, 4)]}

GOLD = pathlib.Path(__file__).resolve().parent


def net_path(folder, dropout=True):
    """thin_fcn.prototxt, with a Dropout layer after relu2 when `dropout` (so resume must restore the torch RNG)."""
    net = read_net(str(GOLD / 'thin_fcn.prototxt'))
    if dropout:
        out = caffe_pb2.NetParameter()
        out.CopyFrom(net)
        del out.layer[:]
        for layer in net.layer:
            out.layer.add().CopyFrom(layer)
            if layer.name == 'relu2':
                d = out.layer.add(name='drop2', type='Dropout', bottom=['conv2'], top=['conv2'])
                d.dropout_param.dropout_ratio = 0.5
        net = out
    path = os.path.join(folder, 'thin_fcn_drop.prototxt' if dropout else 'thin_fcn.prototxt')
    write_text(net, path)
    return path


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
    s = dict(net=net_path(folder, settings.pop('dropout', True)), base_lr=1e-3, momentum=0.99, lr_policy='fixed', weight_decay=5e-4,
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


def make_solver(path, **kw):
    from solvers import get_solver
    s = get_solver(path, **kw)
    s.net.load_arrays(init_arrays(), source='golden init')
    s.feed = random_feed(*pool())
    return s


def subprocess_env():
    """The environment for a child Python that must import the project from this checkout."""
    env = dict(os.environ)
    root = GOLD.parents[2]
    paths = [str(root), str(root / 'tests')]          # the project, and the tests' helpers (golden.solvers.testkit)
    env['PYTHONPATH'] = os.pathsep.join(paths + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    return env
