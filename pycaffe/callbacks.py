"""Net callbacks (net.before_forward / after_forward / before_backward / after_backward): Caffe 1.0's
Net::ForwardFromTo and Net::BackwardFromTo call each registered callable with the Caffe layer index i (Split layers
included, as net.layers lists them) before and after layer i of the range.

Without callbacks nothing here runs. With them, the net's runtime steps its layers (runtime.Net.stepper):
- forward: around each layer the pycaffe arrays are refreshed from the blobs computed so far, so a callback reads
  what Caffe's blobs hold at that moment; a write by before_forward(i) into the data of a bottom of layer i is
  what layer i reads (the gradient still flows to the blob's producer, as Caffe's backward ignores such writes);
- backward: Caffe's loop, for every i from start down to end, each layer that needs backward running alone
  (its tops' diffs, as the blobs' diff arrays hold them, back-propagated through the graph its forward recorded)
  into its bottoms' diff arrays and its parameters' diffs; a callback reads and writes those arrays as Caffe's.
The values are those of a run without callbacks (tests/test_pycaffe_callbacks.py).
"""
import numpy as np
import torch

from . import _sync

KINDS = ('before_forward', 'after_forward', 'before_backward', 'after_backward')


class _Overwrite(torch.autograd.Function):
    """A blob whose data a callback overwrote: the new values forward, the gradient passed to the old unchanged."""

    @staticmethod
    def forward(ctx, old, new):
        return new.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class NetCallbacks:
    """The callbacks of one pycaffe Net, and the stepper its runtime net calls (runtime.Net.stepper)."""

    def __init__(self, net):
        self._net = net
        self.lists = {k: [] for k in KINDS}
        self.forward_override = None     # the Caffe range of the pycaffe forward under way (it may start at a Split)

    def add(self, kind, fn):
        self.lists[kind].append(fn)
        self._net._rt.stepper = self

    def _fire(self, kind, i):
        for fn in self.lists[kind]:
            fn(i)

    # ------------------------------------------------------------------------------------------ positions
    def _positions(self, lo, hi):
        """The Caffe positions of runtime layers lo..hi: from lo's to the last Split after hi's."""
        g = self._net._g
        first, last = g.position(lo), g.position(hi)
        while last + 1 < len(g.layers) and g.layers[last + 1].index is None:
            last += 1
        return first, last

    # ------------------------------------------------------------------------------------------ forward
    def forward_steps(self, lo, hi):
        """The step function for a runtime forward of layers lo..hi (runtime.Net.forward_range)."""
        net = self._net
        g = net._g
        first, last = self.forward_override or self._positions(lo, hi)
        self.forward_override = None
        cursor = [first]
        pos = {L.index: c for c, L in enumerate(g.layers) if L.index is not None}

        def sync(blobs):
            _sync.after_call()
            net._refresh()

        def step(when, i, blobs):
            if when == 'end':
                sync(blobs)
                for c in range(cursor[0], last + 1):
                    self._split_forward(c)
                _sync.before_call()
                return
            p = pos[i]
            sync(blobs)
            if when == 'before':
                for c in range(cursor[0], p):
                    self._split_forward(c)
                self._fire('before_forward', p)
                self._take_writes(i, blobs)
            else:
                for t in g.layers[p].tops:
                    net._reshaped.pop(t, None)
                net._refresh()
                self._fire('after_forward', p)
                cursor[0] = p + 1
            _sync.before_call()
        return step

    def _split_forward(self, c):
        """A Split layer's forward: its tops are its bottom's memory, nothing to compute."""
        self._fire('before_forward', c)
        self._fire('after_forward', c)

    def _take_writes(self, i, blobs):
        """Bottoms of runtime layer i whose arrays a callback changed: layer i reads the new values."""
        net, rt = self._net, self._net._rt
        for name in rt.net_param.layer[i].bottom:
            arr = net._acts.get(name)
            if arr is None or name in net._input_names:
                continue
            slot = rt.blob_slot(name)
            old = blobs[slot]
            if old is None:
                continue
            cur = old.detach().to('cpu', torch.float32).numpy()
            if cur.shape == arr.shape and np.array_equal(cur, arr):
                continue
            new = torch.from_numpy(arr.copy()).to(device=old.device, dtype=old.dtype)
            blobs[slot] = _Overwrite.apply(old, new.reshape(old.shape)) if old.requires_grad else new

    def run_forward_splits(self, start, end):
        """A forward whose range holds Split layers only: their callbacks."""
        for c in range(start, end + 1):
            self._split_forward(c)

    # ------------------------------------------------------------------------------------------ backward
    def steps_backward(self):
        return bool(self.lists['before_backward'] or self.lists['after_backward'])

    def backward(self, start, end):
        """runtime.Net.backward's delegate (a solver's backward): Caffe's loop when backward callbacks exist."""
        if not self.steps_backward():
            return False
        rt = self._net._rt
        last = len(rt.layers) - 1
        first, _ = self._positions(0 if end is None else end, 0 if end is None else end)
        _, top = self._positions(last if start is None else start, last if start is None else start)
        _sync.after_call()
        try:
            self.run_backward(top, first)
        finally:
            _sync.before_call()
        return True

    def run_backward(self, start, end):
        """Caffe's BackwardFromTo(start, end) over Caffe positions, callbacks around each layer."""
        net = self._net
        g, rt = net._g, net._rt
        real = net._real_range(end, start)
        need = any(g.layer_need[c] and g.layers[c].index is not None for c in range(end, start + 1))
        _sync.before_call()
        io = rt.layer_graph(*real) if real is not None and need else {}
        _sync.after_call()
        try:
            for c in range(start, end - 1, -1):
                self._fire('before_backward', c)
                if g.layer_need[c]:
                    _sync.before_call()
                    try:
                        self._layer_backward(c, io)
                    finally:
                        _sync.after_call()
                self._fire('after_backward', c)
        finally:
            rt.backward_done()

    def _layer_backward(self, c, io):
        net = self._net
        g, rt = net._g, net._rt
        L, need = g.layers[c], g.bottom_need[c]
        if L.index is None:                      # Split: the bottom's diff is the sum of the tops' diffs
            if need[0]:
                diffs = [net._blob_diff(t) for t in L.tops]
                total = diffs[0].copy() if len(diffs) == 1 else diffs[0] + diffs[1]
                for d in diffs[2:]:
                    total += d
                np.copyto(net._blob_diff(L.bottoms[0]), total)
            return
        bottoms, tops = io[L.index]
        outs, grads = [], []
        for name, o in zip(L.tops, tops):
            if isinstance(o, torch.Tensor) and o.requires_grad:
                d = net._blob_diff(name).copy()
                outs.append(o)
                grads.append(torch.from_numpy(d).to(device=o.device, dtype=o.dtype).reshape(o.shape))
        wanted = [k for k, b in enumerate(bottoms) if need[k] and isinstance(b, torch.Tensor) and b.requires_grad]
        params = [p for p in rt.layers[L.index].blobs if p.requires_grad]
        targets = [bottoms[k] for k in wanted] + params
        got = [None] * len(targets)
        if outs and targets:
            got = torch.autograd.grad(outs, targets, grads, retain_graph=True, allow_unused=True)
        by_bottom = dict(zip(wanted, got[:len(wanted)]))
        for k, name in enumerate(L.bottoms):
            if not need[k]:
                continue
            arr = net._blob_diff(name)
            r = by_bottom.get(k)
            if r is None:
                arr.fill(0)
            else:
                np.copyto(arr, r.detach().to('cpu', torch.float32).numpy().reshape(arr.shape))
        with torch.no_grad():
            for p, r in zip(params, got[len(wanted):]):
                if r is None:
                    continue
                if p.grad is None:
                    p.grad = r.detach().clone(memory_format=torch.contiguous_format)
                else:
                    p.grad.add_(r.to(p.grad.dtype))
