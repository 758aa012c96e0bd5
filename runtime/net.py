"""Net: a Caffe NetParameter as a torch nn.Module whose forward and backward are Caffe's.

The layer list is built once (each layer from its LayerParameter and its bottoms' shapes, as Caffe's Net::Init
does); forward is a straight loop over prebuilt (layer, bottom slots, top slots) steps over a list of blob slots,
one slot per blob name, so an in-place layer's top replaces its bottom's value (net.blobs shows the last value).
"""
import os
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from netspec import read_net
from weights import read_weights, write_weights
from .layers import layer_class
from .backward import CaffeGraph, LayerFacts
from .layers.base import LayerError
from .layers.data import Input
from .memory import check_blob
from . import precision as precision_mod
from .phase import TRAIN, phase_of
from .state import filter_net, make_state, upgrade_net


class _Context:
    """What every layer of one net shares."""

    def __init__(self, phase, device, dtype, force_backward=False, channels_last=False, source='<net>'):
        self.phase, self.device, self.dtype = phase, device, dtype
        self.source = source           # the net's file (or name), for errors
        self.force_backward = force_backward
        self.channels_last = channels_last
        self.param_names = {}      # ParamSpec.name -> (owner layer, blob index, lr_mult given, decay_mult given)
        self.replaying = False     # Net._replay is running the layers again for a backward

    def layout(self, t):
        """A 4-axis tensor in the net's memory layout (channels_last speeds up CPU convolutions; values and
        shapes are unchanged)."""
        if self.channels_last and t.dim() == 4:
            return t.contiguous(memory_format=torch.channels_last)
        return t


def _detaching(fn, indices):
    """fn with the bottoms at `indices` detached (propagate_down: false)."""
    def run(*bottoms):
        bottoms = list(bottoms)
        for i in indices:
            bottoms[i] = bottoms[i].detach()
        return fn(*bottoms)
    return run


class _NoBackward(torch.autograd.Function):
    """The top of a layer Caffe has no backward for: reaching it in a backward is Caffe's NOT_IMPLEMENTED."""

    @staticmethod
    def forward(ctx, where, top, *bottoms):
        ctx.where = where
        return top.clone()

    @staticmethod
    def backward(ctx, grad):
        raise LayerError(f'{ctx.where} has no backward in Caffe (NOT_IMPLEMENTED), yet the loss depends on its '
                         'top through bottoms that need a diff')


def _refusing_backward(fn, where):
    """fn whose floating-point tops, when a bottom records a gradient, refuse to be back-propagated."""
    def run(*bottoms):
        tops = fn(*bottoms)
        if not (torch.is_grad_enabled() and any(b.requires_grad for b in bottoms)):
            return tops
        return tuple(_NoBackward.apply(where, t, *bottoms) if t.is_floating_point() else t for t in tops)
    return run


def _store(capture, key):
    """A gradient hook that keeps the gradient under `key`."""
    def hook(grad):
        capture[key] = grad
    return hook


def _legacy_match(src, dst):
    """Caffe's BlobProto legacy-shape rule: a 4-D stored shape matches a blob of <= 4 axes padded with 1s on the
    left (an InnerProduct weight stored 1x1xMxN fits M x N)."""
    return len(src) == 4 and len(dst) <= 4 and tuple(src) == (1,) * (4 - len(dst)) + tuple(dst)


class Copied(list):
    """The names of the layers a weight file's arrays were copied into (Net.load_arrays, Net.copy_from), and what
    did not fit: `ignored`, the source's layers with blobs that the net has no layer with parameters of that name
    for (Caffe logs "Ignoring source layer" for each), and `kept`, the net's layers with parameters that the source
    lacks (they keep their values: in a new net, their fillers')."""

    def __init__(self, source):
        super().__init__()
        self.source, self.ignored, self.kept = source, [], []

    def mismatch(self):
        """One line naming the layers that did not fit, or None when every layer on both sides was copied."""
        parts = []
        if self.kept:
            parts.append(f"the net's layers not in the file, left at their fillers: {', '.join(self.kept)}")
        if self.ignored:
            parts.append(f"the file's layers not in the net, ignored: {', '.join(self.ignored)}")
        return f'{self.source} does not fit the net in full: ' + '; '.join(parts) if parts else None


class Net(nn.Module):
    """A Caffe net in PyTorch; the package docstring (runtime/__init__.py) describes its interface."""

    def __init__(self, proto, weights=None, phase='test', device='cpu', stages=(), level=0, memory_format='auto',
                 precision='fp32', source=None):
        super().__init__()
        src = proto if isinstance(proto, (str, os.PathLike)) and '\n' not in str(proto) else '<net>'
        where = str(src) if src != '<net>' else (getattr(proto, 'name', '') or '<net>')
        where = os.fspath(source) if source is not None else where   # the file a NetParameter was read from
        net_param = upgrade_net(read_net(proto), where)
        self.phase = phase_of(phase)
        state = make_state(self.phase, list(net_param.state.stage) + list(stages), level)
        self.net_param = filter_net(net_param, state, where)
        self.name = self.net_param.name
        self.source = where
        device = torch.device(device)
        if memory_format not in ('auto', 'channels_last', 'contiguous'):
            raise ValueError(f"memory_format must be 'auto', 'channels_last' or 'contiguous', not {memory_format!r}")
        # 'auto' on the CPU: channels_last throughout for nets that only run forward (TEST phase, no force_backward);
        # nets that record gradients keep NCHW blobs and parameters and let each convolution pick its layout
        # (layers.conv.compute_layout: channels_last on large maps, where its backward is faster too).
        forward_only = self.phase != TRAIN and not self.net_param.force_backward
        channels_last = memory_format == 'channels_last' or (
            memory_format == 'auto' and device.type == 'cpu' and forward_only)
        self._ctx = _Context(self.phase, device, torch.float32, self.net_param.force_backward, channels_last,
                             source=where)
        self._ctx.mixed_layout = memory_format == 'auto' and device.type == 'cpu' and not forward_only
        self._build()
        self._blob_values = [None] * len(self._blob_names)
        self._loss_values = []
        self.precision = precision
        self.record_graph = False     # set True to record the graph at forward (TRAIN nets always do)
        self.keep_blob_diffs = False  # set True to keep every blob's diff at backward (net.blob_diffs)
        self.blob_diffs = OrderedDict()
        self._last_run = None         # (start, end) of the last forward
        self._graph = False           # the last forward recorded a graph that no backward has used yet
        self._capture = {}            # the recorded forward's blob-gradient hooks write here
        self._sources = {}            # layer index -> outputs of a bottomless (data) layer at its last run
        self._rng = None              # the random state before the last forward (replays draw the same masks)
        self.last_copy = None         # what the last load_arrays / copy_from copied (a Copied list)
        self.stepper = None           # per-layer callbacks (Caffe's Net callbacks): see forward_range / backward
        self._layer_io = {}           # layer index -> (bottoms read, tops made) of the last forward with a stepper
        if weights is not None:
            self.copy_from(weights)

    # ---------------------------------------------------------------- building
    def _build(self):
        ctx = self._ctx
        slots = OrderedDict()          # blob name -> slot index
        shapes = OrderedDict()         # blob name -> shape (build-time inference)
        self.layers, self.layer_dict = [], OrderedDict()
        self._plan, self._loss_slots, self._inputs = [], [], []
        self._input_layers = []
        facts = []
        for li, lp in enumerate(self.net_param.layer):
            name = lp.name or f'layer{li}'
            if name in self.layer_dict:
                raise LayerError(f'{self.source}: two layers are named {name!r}')
            bslots, bshapes = [], []
            for bi, b in enumerate(lp.bottom):
                if b not in slots:
                    raise LayerError(f'{self.source}: unknown bottom blob {b!r} (layer {name!r}, bottom index {bi})')
                bslots.append(slots[b])
                bshapes.append(shapes[b])
            cls = layer_class(lp)
            layer = cls(lp, bshapes, ctx)
            if layer.record is not None and not layer.record.in_place and set(lp.top) & set(lp.bottom):
                raise layer.error('this layer does not allow in-place computation (a top is also a bottom), '
                                  'as in Caffe')
            tshapes = [tuple(int(d) for d in s) for s in layer.top_shapes(bshapes)]
            if len(tshapes) != len(lp.top):
                raise layer.error(f'produces {len(tshapes)} tops but the prototxt names {len(lp.top)}')
            for t, shape in zip(lp.top, tshapes):   # a top the device could never hold fails here, not at forward
                check_blob(shape, ctx.dtype, ctx.device, f'{self.source}: layer {name!r} (type {lp.type}) top {t!r}')
            tslots = []
            for ti, t in enumerate(lp.top):
                if t in slots and t not in lp.bottom:
                    raise LayerError(f'{self.source}: top blob {t!r} of layer {name!r} is produced by multiple '
                                     'sources')
                if t not in slots:
                    slots[t] = len(slots)
                shapes[t] = tshapes[ti]
                tslots.append(slots[t])
            # loss weights: given once per top, or Caffe's default (1 on top 0 of a loss layer)
            if len(lp.loss_weight) and len(lp.loss_weight) != len(lp.top):
                raise layer.error(f'loss_weight must be given once per top ({len(lp.top)} tops, '
                                  f'{len(lp.loss_weight)} weights)')
            weights = list(lp.loss_weight) if len(lp.loss_weight) else \
                [1.0 if (layer.loss_by_default and i == 0) else 0.0 for i in range(len(lp.top))]
            for s, w in zip(tslots, weights):
                if w != 0:
                    self._loss_slots.append((s, float(w), name))
            no_diff = layer.record.no_diff if layer.record is not None else ((1,) if layer.loss_by_default else ())
            facts.append(LayerFacts(name, lp.type, list(lp.bottom), list(lp.top), list(lp.loss_weight),
                                    layer.loss_by_default, [lr for lr, _ in layer.specs], list(lp.propagate_down),
                                    [k not in no_diff for k in range(len(lp.bottom))]))
            # propagate_down: false detaches that bottom
            if len(lp.propagate_down) and len(lp.propagate_down) != len(lp.bottom):
                raise layer.error(f'propagate_down must be given once per bottom ({len(lp.bottom)} bottoms, '
                                  f'{len(lp.propagate_down)} values)')
            fn = layer.run
            # (force_backward overrides it, as in Caffe's Net::Init)
            stop = [] if self.net_param.force_backward else [i for i, pd in enumerate(lp.propagate_down) if not pd]
            if stop:
                fn = _detaching(fn, stop)
            if layer.record is not None and not layer.record.backward and lp.bottom:
                fn = _refusing_backward(fn, f'layer {name!r} (type {lp.type})')
            if isinstance(layer, Input):
                self._input_layers.append((layer, tslots))
                for ti, t in enumerate(lp.top):
                    self._inputs.append((t, layer, ti))
            if getattr(layer, 'can_run_in_place', False) and lp.top[0] == lp.bottom[0]:
                layer.in_place = self._fresh(lp.bottom[0], li)
            self.layers.append(layer)
            self.layer_dict[name] = layer
            self.add_module(self._module_name(name, li), layer)
            self._plan.append((fn, tuple(bslots), tuple(tslots), name, lp.type))
        self._blob_names = list(slots)
        self._slots = dict(slots)
        self.blob_shapes = shapes
        self._output_names = self._outputs()
        self.caffe_graph = CaffeGraph.of(facts, self.net_param.force_backward)
        self._layer_index = {name: i for i, name in enumerate(self.layer_dict)}
        self._random = self.phase == TRAIN and any(lp.type == 'Dropout' for lp in self.net_param.layer)
        self._split_reads = {(i, k) for _, i, k in self.caffe_graph.split_sources.values() if i is not None}
        if self.net_param.force_backward:
            # Caffe's force_backward gives every parameter a diff, lr_mult 0 ones included
            for p in self.parameters():
                p.requires_grad_(True)

    def _fresh(self, blob, index):
        """Whether layer `index` may overwrite `blob` in place: its current value was made by a layer whose class
        says `fresh_top` (a new tensor that no saved-for-backward state refers to) and nothing else has read it
        since (so no other layer's backward needs the old values)."""
        for i in range(index - 1, -1, -1):
            lp = self.net_param.layer[i]
            if blob in lp.top:
                return self.layers[i].fresh_top and blob not in lp.bottom
            if blob in lp.bottom:
                return False
        return False

    def _outputs(self):
        available = set()
        for lp in self.net_param.layer:
            for b in lp.bottom:
                available.discard(b)
            available.update(lp.top)
        return sorted(available)           # Caffe keeps them in a std::set

    @staticmethod
    def _module_name(name, index):
        safe = ''.join(c if c.isalnum() or c == '_' else '_' for c in name)
        return f'{index:03d}_{safe}'

    def _apply(self, fn, *args, **kwargs):
        """Moving the net (.to, .cuda, .cpu) moves the Input blobs too and makes new blobs follow."""
        super()._apply(fn, *args, **kwargs)
        for layer, _ in getattr(self, '_input_layers', []):
            layer.values = [fn(v) for v in layer.values]
        for layer, _ in getattr(self, '_input_layers', []):
            if layer.values:
                self._ctx.device = layer.values[0].device
                break
        else:
            for p in self.parameters():
                self._ctx.device = p.device
                break
        return self

    # ---------------------------------------------------------------- running
    @property
    def inputs(self):
        return [t for t, _, _ in self._inputs]

    @property
    def outputs(self):
        return list(self._output_names)

    @property
    def device(self):
        return self._ctx.device

    @property
    def precision(self):
        """'fp32' (Caffe's float32 arithmetic, the default) or an opt-in fast mode, 'tf32' or 'bf16'
        (runtime.precision); may be changed between forwards."""
        return self._precision

    @precision.setter
    def precision(self, value):
        self._precision = precision_mod.check(value)

    def set_input(self, name, value):
        """Give an Input blob its value (kept until the next one, as a pycaffe blob keeps its data)."""
        for t, layer, i in self._inputs:
            if t == name:
                layer.set(i, value)
                return
        raise KeyError(f'{self.source}: {name!r} is not an Input blob of this net (inputs: {self.inputs})')

    def input_value(self, name):
        """The tensor an Input blob holds now (kept between forwards; writing into it changes the next forward)."""
        for t, layer, i in self._inputs:
            if t == name:
                return layer.values[i]
        raise KeyError(f'{self.source}: {name!r} is not an Input blob of this net (inputs: {self.inputs})')

    def blob_slot(self, name):
        """The index of blob `name` in the slot list that forward_range's step function sees."""
        return self._slots[name]

    def set_blob(self, name, value):
        """Give blob `name` a value (a tensor on the net's device), as the next partial forward reads it."""
        if name not in self._slots:
            raise KeyError(f'{self.source}: no blob named {name!r}')
        self._blob_values[self._slots[name]] = value

    def forward(self, **inputs):
        """Run every layer; `inputs` give Input blobs new values. Returns {output blob name: tensor}.

        Gradients are recorded in the TRAIN phase (or with force_backward, or when `record_graph` is set)
        unless torch.no_grad is active; backward() works either way."""
        for name, value in inputs.items():
            self.set_input(name, value)
        # drop the last forward's blobs first, so their memory can serve this one (as Caffe reuses its blobs);
        # a stepper's callbacks see them until each is computed again, as Caffe's blobs keep their values
        if self.stepper is None:
            self._blob_values = [None] * len(self._blob_names)
        self.forward_range(0, len(self._plan) - 1)
        blobs, slots = self._blob_values, self._slots
        return OrderedDict((n, blobs[slots[n]]) for n in self._output_names)

    def forward_range(self, start=0, end=None):
        """Caffe's ForwardFromTo(start, end): run layers start..end (indices, inclusive) on the blobs' current
        values; the other blobs keep theirs.

        With a `stepper` set (an object with forward_steps(start, end) and backward(start, end)), the run calls
        forward_steps' function step(when, i, blobs) with when 'before' / 'after' around each layer i and 'end'
        after the last (blobs: the slot list being computed, which 'before' may change), runs in-place layers out
        of place, and keeps each layer's bottoms and tops (layer_graph). The values are the same."""
        start, end = self._range(start, end)
        record = (self.phase == TRAIN or self.net_param.force_backward or self.record_graph) \
            and torch.is_grad_enabled()
        if self._random:
            self._rng = self._rng_state()
        blobs = list(self._blob_values)
        capture = {} if (record and self.keep_blob_diffs) else None
        step = self.stepper.forward_steps(start, end) if self.stepper is not None else None
        io = {} if step is not None and record else None
        self._layer_io = {}
        if step is not None:
            self._blob_values = blobs         # net.blobs shows the blobs computed so far to the step function
        with torch.set_grad_enabled(record):
            self._run(start, end, blobs, capture, keep_sources=True, step=step, layer_io=io)
        self._layer_io = io or {}
        if step is not None:
            step('end', None, blobs)
        self._blob_values = blobs
        self._last_run = (start, end)
        self._graph = record
        self._capture = capture if capture is not None else {}
        self._loss_values = [(blobs[s], w) for s, w, _ in self._loss_slots if blobs[s] is not None]

    def _range(self, start, end):
        last = len(self._plan) - 1
        end = last if end is None else end
        if not 0 <= start <= end <= last:
            raise IndexError(f'{self.source}: layer range {start}..{end} is outside 0..{last}')
        return start, end

    def _run(self, start, end, blobs, capture=None, keep_sources=False, sources=None, step=None, layer_io=None):
        """Run layers start..end over `blobs` (slot list, updated in place). `capture`: a dict the gradient hooks
        fill ({slot: grad} for each blob's first value, {(layer, bottom): grad} for reads of shared blobs);
        `sources`: {layer: outputs} reused for bottomless layers instead of running them; `step`: called as
        step('before', i, blobs) and step('after', i, blobs) around layer i; `layer_io`: a dict that gets
        {i: (bottoms read, tops made)} (in-place layers then run out of place, so each tensor stays what it was)."""
        i = start
        stepping = False          # the step function (a user's callback) is running: its errors are its own
        hooked_views = set()      # blobs whose hooked first value is a view: modified in place, it loses the hook
        try:
            with precision_mod.context(self.precision, self._ctx.device):
                for i in range(start, end + 1):
                    fn, bs, ts, name, _ = self._plan[i]
                    if step is not None:
                        stepping = True
                        step('before', i, blobs)
                        stepping = False
                    if sources is not None and i in sources:
                        outs = sources[i]
                    else:
                        args = [blobs[b] for b in bs]
                        for k, a in enumerate(args):
                            if a is None:
                                raise LayerError(f'{self.source}: layer {name!r} reads blob '
                                                 f'{self._blob_names[bs[k]]!r}, which no forward has computed yet')
                        if capture is not None:
                            for k in range(len(args)):
                                if (i, k) in self._split_reads and args[k].requires_grad:
                                    args[k] = args[k].view_as(args[k])
                                    args[k].register_hook(_store(capture, (i, k)))
                        layer = self.layers[i]
                        if getattr(layer, 'in_place', False) and (
                                layer_io is not None or (capture is not None and bs[0] in hooked_views)):
                            layer.in_place = False
                            try:
                                outs = fn(*args)
                            finally:
                                layer.in_place = True
                        else:
                            outs = fn(*args)
                        if keep_sources and not bs:
                            self._sources[i] = list(outs)
                        if layer_io is not None:
                            layer_io[i] = (args, list(outs))
                    for t, o in zip(ts, outs):
                        if capture is not None and t not in bs and o.requires_grad and not o.is_leaf:
                            o.register_hook(_store(capture, t))
                            if o._base is not None:
                                hooked_views.add(t)
                        blobs[t] = o
                    if step is not None:
                        stepping = True
                        step('after', i, blobs)
                        stepping = False
            if self.precision == 'bf16':     # the outputs in float32, as callers (and numpy) expect
                for n in self._output_names:
                    v = blobs[self._slots[n]]
                    if v is not None and v.is_floating_point() and v.dtype != torch.float32:
                        blobs[self._slots[n]] = v.float()
        except LayerError:
            raise
        except Exception as e:
            if stepping:
                raise
            _, _, _, name, typ = self._plan[i]
            raise LayerError(f'layer {name!r} (type {typ}) failed in forward: {type(e).__name__}: {e}') from e
        return blobs

    @property
    def loss_weights(self):
        """{top name: loss weight} of the tops that weigh in the net's loss, as Caffe's Net assigns them (the
        prototxt's loss_weight, else 1 on top 0 of a loss layer); the solvers read them from here."""
        out = OrderedDict()
        for slot, w, _ in self._loss_slots:
            name = self._blob_names[slot]
            out[name] = out.get(name, 0.0) + w
        return out

    def loss(self):
        """The weighted sum of the loss tops of the last forward (Caffe's net loss), as a float."""
        return float(sum(w * float(v.detach().sum()) for v, w in self._loss_values))

    def backward(self, top_diffs=None, start=None, end=None):
        """Caffe's BackwardFromTo(start, end) (layer indices; default: every layer): the loss tops, each with
        diff = its loss_weight (or `top_diffs` = {blob name: diff} as the tops' diffs), back-propagated into the
        parameters' .grad (accumulating, as Caffe's diffs accumulate until the solver clears them), the Input
        blobs' .grad (force_backward) and, with keep_blob_diffs, every blob Caffe writes (net.blob_diffs).

        In any phase: when the last forward recorded no graph (TEST nets run forward-only) or its graph was used
        by an earlier backward, the layers are run again, graph recorded, from the blobs' current values (data
        layers give the outputs of their last run, random layers the same draws), then back-propagated. Before
        any forward the blobs hold what Caffe's hold then: zeros, the Input blobs their values."""
        if self.stepper is not None and top_diffs is None and self.stepper.backward(start, end):
            return       # the stepper ran Caffe's per-layer backward (with its callbacks)
        last = len(self._plan) - 1
        if self._last_run is None:
            self._blobs_as_allocated()
        start = last if start is None else start
        end = 0 if end is None else end
        if not 0 <= end <= start <= last:
            raise IndexError(f'{self.source}: backward range {start}..{end} is outside {last}..0')
        run_start, run_end = self._last_run
        leaves = {}
        if self._graph and end == 0 and run_start == 0 and start >= run_end:
            blobs, capture = self._blob_values, self._capture
        else:
            blobs, capture, leaves = self._replay(end, start)
        if top_diffs is None:
            lo = 0 if blobs is self._blob_values else end
            seeds = [(blobs[s], torch.full_like(blobs[s], w)) for s, w, name in self._loss_slots
                     if lo <= self._layer_index[name] <= start and blobs[s] is not None]
        else:
            seeds = []
            for name, d in top_diffs.items():
                v = blobs[self._slots[name]]
                if v is None:
                    continue
                g = d if isinstance(d, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(d, np.float32))
                seeds.append((v, g.to(device=v.device, dtype=v.dtype).reshape(v.shape)))
        seeds = [(v, g) for v, g in seeds if v.requires_grad]
        # Caffe overwrites the input blobs' diffs on each backward (only parameter diffs accumulate)
        for layer, _ in self._input_layers:
            for v in layer.values:
                v.grad = None
        if seeds:
            with precision_mod.context(self.precision, self._ctx.device, forward=False):
                torch.autograd.backward([v for v, _ in seeds], [g for _, g in seeds])
        self._graph = False
        self._capture = {}
        self._layer_io = {}
        if self.keep_blob_diffs:
            self.blob_diffs = self._blob_diffs(end, start, blobs, capture, leaves)

    def layer_graph(self, lo, hi):
        """{i: (bottoms read, tops made)} for layers lo..hi with their graph recorded, for a backward that runs
        layer by layer: the last forward's, when it kept them for these layers and no backward used its graph
        yet; else the layers run again as backward() runs them (data layers give their last outputs, random
        layers the same draws)."""
        last = len(self._plan) - 1
        if not 0 <= lo <= hi <= last:
            raise IndexError(f'{self.source}: backward range {hi}..{lo} is outside {last}..0')
        if self._last_run is None:
            self._blobs_as_allocated()
        io = self._layer_io
        if self._graph and all(i in io for i in range(lo, hi + 1)):
            return dict(io)
        io = {}
        self._replay(lo, hi, layer_io=io)
        return io

    def backward_done(self):
        """A backward that ran outside backward() (layer by layer, over layer_graph) used the recorded graph."""
        self._graph = False
        self._capture = {}
        self._layer_io = {}
        self.blob_diffs = OrderedDict()

    def _blobs_as_allocated(self):
        """Before any forward, Caffe's blobs hold zeros (the Input blobs their values), and a backward runs on
        them: give every blob that value, and data layers those tops, as if a forward had left them."""
        ctx = self._ctx
        values = self._blob_values
        for k, name in enumerate(self._blob_names):
            if values[k] is None:
                values[k] = torch.zeros(self.blob_shapes[name], dtype=ctx.dtype, device=ctx.device)
        for layer, slots in self._input_layers:
            for s, v in zip(slots, layer.values):
                values[s] = v
        for i, (_, bs, ts, _, _) in enumerate(self._plan):
            if not bs:
                self._sources.setdefault(i, [values[t] for t in ts])
        self._last_run = (0, len(self._plan) - 1)
        self._graph = False

    def _replay(self, lo, hi, layer_io=None):
        """Run layers lo..hi again with the graph recorded, from the blobs' current values: the blobs they read
        from before lo become leaves (their gradients are those blobs' diffs); data layers give their last outputs;
        random layers repeat the last forward's draws when the replay starts where it started."""
        blobs = list(self._blob_values)
        leaves = {}
        written = set()
        need = self._need_slots()
        for i in range(lo, hi + 1):
            _, bs, ts, _, _ = self._plan[i]
            for b in bs:
                if b not in written and b not in leaves and blobs[b] is not None and need.get(b, False):
                    leaf = blobs[b].detach().requires_grad_(True)
                    leaves[b] = leaf
                    blobs[b] = leaf.clone()
            written.update(ts)
        inputs = {id(layer): layer.values for layer, _ in self._input_layers}
        sources = {}
        for i in range(lo, hi + 1):
            layer = self.layers[i]
            if not self._plan[i][1] and not len(layer.blobs):
                # Input blobs as they are now; data layers as their last run left them (a Parameter layer, whose
                # top is its blob, runs again)
                sources[i] = inputs.get(id(layer)) or self._sources.get(i) or [blobs[t] for t in self._plan[i][2]]
        capture = {} if self.keep_blob_diffs else None
        rng = self._rng_state() if self._random else None
        try:
            if self._random and self._rng is not None and lo == self._last_run[0]:
                self._set_rng_state(self._rng)
            self._ctx.replaying = True      # layers that update state in their forward (BatchNorm) leave it be
            with torch.enable_grad():
                self._run(lo, hi, blobs, capture, sources=sources, layer_io=layer_io)
        finally:
            self._ctx.replaying = False
            if rng is not None:
                self._set_rng_state(rng)
        return blobs, capture, leaves

    def _need_slots(self):
        g = self.caffe_graph
        return {self._slots[n]: g.blob_need.get(n, False) for n in self._blob_names}

    def _blob_diffs(self, lo, hi, blobs, capture, leaves):
        """{Caffe blob name: diff tensor} for the blobs Caffe's BackwardFromTo(hi, lo) writes: the gradient w.r.t.
        each blob's first value in the range (an in-place chain's diff is its producer's top diff); zeros where no
        gradient reached a blob Caffe computes (its value then is 0 too)."""
        g = self.caffe_graph
        out = OrderedDict()
        glo, ghi = g.position(lo), g.position(hi)
        while ghi + 1 < len(g.layers) and g.layers[ghi + 1].index is None:
            ghi += 1                                    # the Split layers after layer hi run with it
        inputs = {t: layer.values[i] for t, layer, i in self._inputs}
        for name in g.written(glo, ghi):
            if name in g.split_sources:
                _, i, k = g.split_sources[name]
                grad = capture.get((i, k)) if capture else None
                ref = blobs[self._plan[i][1][k]]
            else:
                s = self._slots[name]
                grad = None
                if s in leaves:
                    grad = leaves[s].grad
                elif capture and s in capture:
                    grad = capture[s]
                elif name in inputs and inputs[name].requires_grad:
                    grad = inputs[name].grad
                ref = blobs[s]
            if grad is None and ref is not None:
                grad = torch.zeros_like(ref)
            if grad is not None:
                out[name] = grad.detach()
        return out

    def _rng_state(self):
        dev = self._ctx.device
        return (torch.get_rng_state(), torch.cuda.get_rng_state(dev) if dev.type == 'cuda' else None)

    def _set_rng_state(self, state):
        torch.set_rng_state(state[0])
        if state[1] is not None:
            torch.cuda.set_rng_state(state[1], self._ctx.device)

    @property
    def blobs(self):
        """{blob name: tensor} of the last forward, in Caffe's blob order (an in-place blob shows its last value)."""
        return OrderedDict(zip(self._blob_names, self._blob_values))

    # ---------------------------------------------------------------- parameters
    @property
    def params(self):
        return OrderedDict((l.name, list(l.blobs)) for l in self.layers if len(l.blobs))

    @property
    def param_specs(self):
        return OrderedDict((l.name, list(l.specs)) for l in self.layers if len(l.blobs))

    def load_arrays(self, arrays, source='<arrays>'):
        """Copy {layer name: [arrays]} into the net by layer name (Caffe's CopyTrainedLayersFrom): unknown source
        layers are ignored, layers absent from the source keep their values, and a blob count or shape mismatch
        is an error naming the layer, the blob and both shapes. Returns the names of the layers copied, a
        Copied list that also names what did not fit (kept in `net.last_copy`)."""
        copied = Copied(source)
        params = self.params
        owners = {l.name: l for l in self.layers if len(l.blobs)}
        copied.ignored = [n for n, blobs in arrays.items() if n not in params and len(blobs)]
        copied.kept = [n for n in params if n not in arrays]
        self.last_copy = copied
        with torch.no_grad():
            for name, blobs in arrays.items():
                if name not in params:
                    continue
                target = params[name]
                if len(blobs) != len(target):
                    raise LayerError(f'{source}: incompatible number of blobs for layer {name!r}: the source has '
                                     f'{len(blobs)}, the net has {len(target)}')
                layer = owners[name]
                for i, (a, p) in enumerate(zip(blobs, target)):
                    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
                    dst = layer.blob_shape(i)
                    if tuple(a.shape) != dst and not _legacy_match(a.shape, dst):
                        raise LayerError(f'{source}: cannot copy blob {i} of layer {name!r}: the source shape is '
                                         f'{tuple(a.shape)}, the net expects {dst}')
                    p.copy_(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32).reshape(p.shape)))
                copied.append(name)
        return copied

    def to_arrays(self):
        """{layer name: [float32 numpy arrays]} in Caffe's blob order and shapes."""
        return OrderedDict((l.name, [np.ascontiguousarray(l.blob_view(p.detach(), i).cpu().numpy(),
                                                          dtype=np.float32).copy() for i, p in enumerate(l.blobs)])
                           for l in self.layers if len(l.blobs))

    def copy_from(self, path):
        """Load weights from a .caffemodel, .h5/.caffemodel.h5 or .pth file (through the weights package)."""
        return self.load_arrays(read_weights(path), source=os.fspath(path))

    def save(self, path):
        """Write the weights, the format chosen by the extension (through the weights package)."""
        write_weights(path, self.to_arrays(), self.net_param)

    def extra_repr(self):
        return f'name={self.name!r}, phase={"TRAIN" if self.phase == TRAIN else "TEST"}, layers={len(self.layers)}'
