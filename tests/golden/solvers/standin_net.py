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
