"""A stand-in for the thin FCN of tests/golden/solvers/thin_fcn.prototxt in plain torch (used until runtime.Net runs
it): conv1 pad 10 -> relu -> max pool 2/2 (ceil) -> conv2 pad 1 -> relu -> score 1x1 -> upscore deconv 4/2 (no bias)
-> crop offset 9 to the input -> SoftmaxWithLoss(ignore 255, normalize false)."""
import collections

import torch
import torch.nn.functional as F

SPECS = collections.OrderedDict([('conv1', [(1, 1), (2, 0)]), ('conv2', [(0.5, 2), (0, 1)]),
                                 ('score', [(1, 1), (2, 0)]), ('upscore', [(0, 1)])])


class ThinFCN:
    def __init__(self, arrays):
        self.params = collections.OrderedDict(
            (k, [torch.nn.Parameter(torch.tensor(a)) for a in arrays[k]]) for k in SPECS)
        self.param_specs = SPECS
        for k, spec in SPECS.items():
            for p, (lr, _) in zip(self.params[k], spec):
                p.requires_grad_(lr != 0)

    def loss(self, x, y):
        P = self.params
        h = F.relu(F.conv2d(x, P['conv1'][0], P['conv1'][1], padding=10))
        h = F.max_pool2d(h, 2, 2, ceil_mode=True)
        h = F.relu(F.conv2d(h, P['conv2'][0], P['conv2'][1], padding=1))
        h = F.conv2d(h, P['score'][0], P['score'][1])
        h = F.conv_transpose2d(h, P['upscore'][0], stride=2)
        h = h[:, :, 9:9 + x.shape[2], 9:9 + x.shape[3]]
        lab = y[:, 0].long()
        return F.cross_entropy(h, lab, ignore_index=255, reduction='sum') / x.shape[0]

    def forward_backward(self, x, y):
        loss = self.loss(torch.as_tensor(x), torch.as_tensor(y))
        loss.backward()
        return float(loss)
