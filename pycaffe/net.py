"""caffe.Net: pycaffe's Net (python/caffe/_caffe.cpp + pycaffe.py) over runtime.Net.

The layer and blob lists are Caffe's, Split layers included (runtime.backward.CaffeGraph names them as Caffe's
InsertSplits does); layer indices (forward(start=...), _top_ids(i)) count them too. A Split top's `.data` is its
source blob's array, as Caffe's Split shares the memory; its `.diff` is the diff of that one reader.
"""
import os
from collections import OrderedDict
from itertools import zip_longest

import numpy as np
import torch

import runtime
from netspec import caffe_pb2, sizes
from netspec.layertypes import LAYER_TYPES
from weights import read_h5, write_caffemodel, write_h5

from . import _mode, _sync
from .blob import NetBlob, ParamBlob
from .callbacks import NetCallbacks


def check_file(path):
    """Caffe's CheckFile: a file that cannot be opened is an error before anything else happens."""
    try:
        with open(path, 'rb'):
            pass
    except (OSError, TypeError):
        raise RuntimeError(f'Could not open file {path}') from None


def _phase_name(phase, where):
    if isinstance(phase, bool) or not isinstance(phase, (int, np.integer)) or int(phase) not in (0, 1):
        raise TypeError(f'{where}: phase must be caffe.TRAIN ({caffe_pb2.TRAIN}) or caffe.TEST ({caffe_pb2.TEST}), '
                        f'not {phase!r}')
    return 'train' if int(phase) == caffe_pb2.TRAIN else 'test'


def _net_args(args, kwargs):
    """Caffe's two constructors: Net(network_file, phase, level=0, stages=None, weights=None) and the legacy
    Net(network_file, pretrained_file, phase)."""
    if len(args) == 3 and isinstance(args[1], (str, os.PathLike)) and not kwargs:
        return args[0], args[2], 0, None, args[1]
    names = ('network_file', 'phase', 'level', 'stages', 'weights')
    if len(args) > len(names):
        raise TypeError(f'caffe.Net takes at most {len(names)} arguments ({len(args)} given)')
    values = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise TypeError(f'caffe.Net got an unexpected keyword argument {k!r}')
        if k in values:
            raise TypeError(f'caffe.Net got multiple values for argument {k!r}')
        values[k] = v
    for k in ('network_file', 'phase'):
        if k not in values:
            raise TypeError(f'caffe.Net needs {k!r}: Net(network_file, phase, level=0, stages=None, weights=None) '
                            'or Net(network_file, pretrained_file, phase)')
    return values['network_file'], values['phase'], values.get('level', 0), values.get('stages'), \
        values.get('weights')


class LayerView:
    """An element of net.layers for a layer Caffe implements in C++: its type, its parameter blobs, and setup /
    reshape (Caffe's Layer::LayerSetUp / Layer::Reshape, as _caffe.cpp exposes them) over lists of Blobs."""

    def __init__(self, name, type_name, blobs, net=None, index=None):
        self.name, self._type, self._blobs = name, type_name, blobs
        self._net, self._index = net, index

    @property
    def type(self):
        return self._type

    @property
    def blobs(self):
        return self._blobs

    def _layer(self):
        if self._net is None or self._index is None:
            raise RuntimeError(f'layer {self.name!r} ({self._type}) belongs to no net here (a Split layer)')
        return self._net._rt_net().layers[self._index]

    def _check(self, bottom, what):
        """The bottoms' shapes, checked against the layer's parameters by its type's record (Caffe's CHECKs in
        LayerSetUp / Reshape: the blobs these bottoms need must be the blobs the layer has)."""
        layer = self._layer()
        shapes = [tuple(int(d) for d in b.shape) for b in bottom]
        record = LAYER_TYPES.get(self._type)
        if record is None or record.tops is None:
            return layer, shapes, None
        try:
            tops = sizes.top_shapes(layer.lp, shapes)
            want = record.blobs(layer.lp, shapes) if record.owns_blobs else []
        except sizes.ShapeError as e:
            raise ValueError(f'caffe Layer.{what} of layer {self.name!r} ({self._type}): {e}') from None
        for i, (w, have) in enumerate(zip(want, layer.expected)):
            if tuple(w) != tuple(have):
                raise ValueError(f'caffe Layer.{what} of layer {self.name!r} ({self._type}): bottom shapes {shapes} '
                                 f'need parameter blob {i} of shape {tuple(w)}, the layer has {tuple(have)} (Caffe: '
                                 '"Incorrect weight shape" / "Input size incompatible")')
        return layer, shapes, tops

    def setup(self, bottom, top):
        """Layer::LayerSetUp(bottom, top): the layer's settings checked for these bottoms; its parameter blobs exist
        already, so they are kept (Caffe skips their initialization); the tops are not touched."""
        self._check(list(bottom), 'setup')

    def reshape(self, bottom, top):
        """Layer::Reshape(bottom, top): each top blob takes the shape the layer's type gives for these bottoms
        (netspec.layertypes' rule). Data layers, whose tops come from their source, reshape nothing (Caffe's
        data layers' Reshape is empty)."""
        bottom, top = list(bottom), list(top)
        _, _, tops = self._check(bottom, 'reshape')
        if tops is None:
            return
        if len(top) != len(tops):
            raise ValueError(f'caffe Layer.reshape of layer {self.name!r} ({self._type}): {len(tops)} top(s) '
                             f'expected, {len(top)} given')
        for t, shape in zip(top, tops):
            t.reshape(*shape)

    def __repr__(self):
        return f'<caffe Layer {self.name!r} ({self._type})>'


class Net:
    """caffe.Net(network_file, phase, level=0, stages=None, weights=None), or the legacy
    caffe.Net(network_file, pretrained_file, phase)."""

    def __init__(self, *args, **kwargs):
        network_file, phase, level, stages, weights = _net_args(args, kwargs)
        check_file(network_file)
        phase = _phase_name(phase, 'caffe.Net')
        rt = runtime.Net(os.fspath(network_file), phase=phase, device=_mode.device(),
                         stages=tuple(stages or ()), level=int(level), memory_format='contiguous')
        self._attach(rt)
        if weights is not None:
            check_file(weights)
            self.copy_from(weights)

    @classmethod
    def _wrap(cls, rt, solver=None):
        """The pycaffe face of a runtime net a solver built."""
        self = cls.__new__(cls)
        self._attach(rt, solver)
        return self

    def _attach(self, rt, solver=None):
        self._rt = rt
        self._solver = solver
        rt.keep_blob_diffs = True
        g = rt.caffe_graph
        self._g = g
        self._split_src = {t: src for t, (src, _, _) in g.split_sources.items()}
        self._input_names = [t for t in rt.inputs]
        self._acts = {}          # blob -> host array of a layer top (refreshed after each call that runs the net)
        self._diffs = {}         # blob -> host array of its diff
        self._pending = {}       # blob -> diff tensor of the last backward, not copied yet
        self._reshaped = {}      # blob -> shape given by reshape() until the next forward
        self._shared_from = []   # nets whose parameters this net uses (share_with)
        self._input_copies = {}  # Input blob -> HostCopy (CUDA)
        self._blob_dict = OrderedDict((n, NetBlob(self, n)) for n in g.blob_names)
        params = OrderedDict()
        for name, ps in rt.params.items():
            params[name] = [ParamBlob(self, name, i) for i in range(len(ps))]
        self._params = params
        layers = []
        for L in g.layers:
            if L.index is None:
                layers.append(LayerView(L.name, 'Split', []))
                continue
            impl = getattr(rt.layers[L.index], 'impl', None)
            layers.append(impl if impl is not None else LayerView(L.name, L.type, params.get(L.name, []), self,
                                                                  L.index))
        self._layers = layers
        self._loss_weight = {}
        for L in g.layers:
            for t, w in zip(L.tops, L.loss):
                self._loss_weight[t] = w
        self._callbacks = NetCallbacks(self)

    # ------------------------------------------------------------------------------------------ callbacks
    def before_forward(self, run):
        """Net::add_before_forward: run(i) before layer i of every forward (Caffe layer indices, Split layers
        included; pycaffe.callbacks)."""
        self._callbacks.add('before_forward', run)

    def after_forward(self, run):
        """Net::add_after_forward: run(i) after layer i of every forward, its tops computed."""
        self._callbacks.add('after_forward', run)

    def before_backward(self, run):
        """Net::add_before_backward: run(i) before layer i of every backward (every layer of the range, whether
        or not it needs backward)."""
        self._callbacks.add('before_backward', run)

    def after_backward(self, run):
        """Net::add_after_backward: run(i) after layer i of every backward, its bottoms' diffs written. Any object
        is taken, as Caffe's binding takes it; a caffe.NCCL too (a build without NCCL has no Net_add_nccl overload
        for it), and calling it then fails as in Caffe: an NCCL object is not callable."""
        self._callbacks.add('after_backward', run)

    # ------------------------------------------------------------------------------------------ the runtime net
    def _rt_net(self):
        return self._rt

    def _ready(self):
        """Follow the mode: a net built in one mode runs on the device of the current one."""
        dev = _mode.device()
        if self._rt.device == dev:
            return
        if self._solver is not None:
            raise RuntimeError(f'the mode changed to {dev} after the solver was built on {self._rt.device}: a '
                               'solver stays on the device it was built on here (call caffe.set_mode_gpu() / '
                               'set_mode_cpu() before building it)')
        _sync.before_call()
        self._rt.to(dev)
        for src in self._shared_from:
            src._ready()
            self._share_params(src)
        _sync.after_call()

    # ------------------------------------------------------------------------------------------ lists
    @property
    def _blob_names(self):
        return list(self._g.blob_names)

    @property
    def _layer_names(self):
        return [L.name for L in self._g.layers]

    @property
    def blobs(self):
        """OrderedDict (input to output) of the net's blobs by name, Split tops included."""
        return self._blob_dict

    @property
    def _blobs(self):
        """The blobs in order (pycaffe's BlobVec)."""
        return list(self._blob_dict.values())

    @property
    def params(self):
        """OrderedDict (input to output) of [weights, bias, ...] Blobs by layer name, for layers that have any."""
        return self._params

    @property
    def layers(self):
        """The layers in order: Python layers are the objects of their classes; others show .type and .blobs."""
        return list(self._layers)

    @property
    def layer_dict(self):
        return OrderedDict(zip(self._layer_names, self._layers))

    @property
    def _inputs(self):
        names = self._blob_names
        return [names.index(n) for n in self._input_names]

    @property
    def inputs(self):
        return list(self._input_names)

    @property
    def _outputs(self):
        names = self._blob_names
        return [names.index(n) for n in self.outputs]

    @property
    def outputs(self):
        """The blobs no layer reads, in name order (Caffe keeps them in a std::set)."""
        available = set()
        for L in self._g.layers:
            for b in L.bottoms:
                available.discard(b)
            available.update(L.tops)
        return sorted(available)

    def _top_ids(self, i):
        names = self._blob_names
        return [names.index(t) for t in self._g.layers[i].tops]

    def _bottom_ids(self, i):
        names = self._blob_names
        return [names.index(b) for b in self._g.layers[i].bottoms]

    @property
    def top_names(self):
        return OrderedDict((L.name, list(L.tops)) for L in self._g.layers)

    @property
    def bottom_names(self):
        return OrderedDict((L.name, list(L.bottoms)) for L in self._g.layers)

    @property
    def _blob_loss_weights(self):
        return [float(self._loss_weight.get(n, 0.0)) for n in self._g.blob_names]

    @property
    def blob_loss_weights(self):
        return OrderedDict(zip(self._g.blob_names, self._blob_loss_weights))

    # ------------------------------------------------------------------------------------------ blob memory
    def _value(self, name):
        """The tensor blob `name` holds now (None before it is first computed)."""
        if name in self._input_names:
            return self._rt.input_value(name)
        return self._rt.blobs.get(name)

    def _blob_shape(self, name):
        name = self._split_src.get(name, name)
        if name in self._input_names:
            return tuple(self._rt.input_value(name).shape)
        if name in self._reshaped:
            return self._reshaped[name]
        v = self._rt.blobs.get(name)
        return tuple(v.shape) if v is not None else tuple(self._rt.blob_shapes[name])

    def _blob_data(self, name):
        if name not in self._blob_dict:
            raise KeyError(name)
        name = self._split_src.get(name, name)
        if name in self._input_names:
            t = self._rt.input_value(name)
            if _sync.shares_memory(t):
                return t.detach().numpy()
            copy = self._input_copies.get(name)
            if copy is None:
                copy = self._input_copies[name] = _sync.HostCopy(lambda n=name: self._rt.input_value(n))
            return copy.get()
        arr = self._acts.get(name)
        if arr is None:
            arr = self._acts[name] = self._host_value(name)
        return arr

    def _host_value(self, name):
        v = self._rt.blobs.get(name)
        if v is None or name in self._reshaped:
            return np.zeros(self._blob_shape(name), dtype=np.float32)
        return np.array(v.detach().to('cpu', torch.float32).numpy(), dtype=np.float32, copy=True)

    def _refresh(self):
        """After a call that ran the net: the kept arrays of layer tops take the new values (in place when the
        shape is unchanged, so arrays handed out before see them)."""
        for name, arr in list(self._acts.items()):
            v = self._rt.blobs.get(name)
            if v is None:
                continue
            if tuple(v.shape) == arr.shape:
                np.copyto(arr, v.detach().to('cpu', torch.float32).numpy())
            else:
                self._acts[name] = self._host_value(name)

    def _blob_diff(self, name):
        if name not in self._blob_dict:
            raise KeyError(name)
        shape = self._blob_shape(name)
        arr = self._diffs.get(name)
        if arr is None or arr.shape != shape:
            arr = np.zeros(shape, dtype=np.float32)
            w = self._loss_weight.get(name, 0.0)
            if w:
                arr.fill(w)       # Caffe's SetLossWeights: a loss top's diff is its loss weight
            self._diffs[name] = arr
        t = self._pending.pop(name, None)
        if t is not None:
            self._copy_diff(name, t)
        return self._diffs[name]

    def _copy_diff(self, name, t):
        host = t.detach().to('cpu', torch.float32).numpy()
        arr = self._diffs.get(name)
        if arr is not None and arr.shape == host.shape:
            np.copyto(arr, host)
        else:
            self._diffs[name] = np.array(host, dtype=np.float32, copy=True)

    def _take_diffs(self, written):
        """The diffs the last backward wrote (Caffe names in `written`) become the blobs' diffs."""
        got = self._rt.blob_diffs
        for name in written:
            t = got.get(name)
            if t is None:
                continue
            if name in self._diffs:
                self._pending.pop(name, None)
                self._copy_diff(name, t)
            else:
                self._pending[name] = t

    def _reshape_blob(self, name, shape):
        if name in self._split_src:
            raise NotImplementedError(f'caffe Blob.reshape of the Split top {name!r} is not served by this project '
                                      f'(reshape its source {self._split_src[name]!r})')
        if name in self._input_names:
            if tuple(self._rt.input_value(name).shape) != shape:
                self._rt.set_input(name, np.zeros(shape, dtype=np.float32))
            return
        self._reshaped[name] = shape
        self._acts[name] = np.zeros(shape, dtype=np.float32)
        self._rt.set_blob(name, torch.zeros(shape, dtype=torch.float32, device=self._rt.device))

    # ------------------------------------------------------------------------------------------ running
    def _real_range(self, lo, hi):
        """Runtime layer indices of the non-Split layers among Caffe layers lo..hi (None if there are none)."""
        idx = [L.index for L in self._g.layers[lo:hi + 1] if L.index is not None]
        return (idx[0], idx[-1]) if idx else None

    def _layer_index(self, name, what):
        names = self._layer_names
        if name not in names:
            raise ValueError(f'{what}={name!r}: the net has no layer of that name')
        return names.index(name)

    def forward(self, blobs=None, start=None, end=None, **kwargs):
        """Forward pass: inputs from kwargs (Input blob name -> array of the blob's batch size) or the data layers;
        layers `start`..`end` (names, inclusive). Returns {blob name: its data array} for the outputs (or the tops
        of `end`) and `blobs`."""
        blobs = list(blobs or [])
        start_ind = 0 if start is None else self._layer_index(start, 'start')
        if end is not None:
            end_ind = self._layer_index(end, 'end')
            outputs = set(self.top_names[end] + blobs)
        else:
            end_ind = len(self._g.layers) - 1
            outputs = set(self.outputs + blobs)
        if kwargs:
            if set(kwargs) != set(self.inputs):
                raise Exception('Input blob arguments do not match net inputs.')
            for name, value in kwargs.items():
                if value.shape[0] != self.blobs[name].shape[0]:
                    raise Exception('Input is not batch sized')
                self.blobs[name].data[...] = value
        self._forward(start_ind, end_ind)
        return {out: self.blobs[out].data for out in outputs}

    def _forward(self, start, end):
        self._ready()
        rng = self._real_range(start, end)
        if self._rt.stepper is not None:
            if rng is None:
                self._callbacks.run_forward_splits(start, end)
                return
            self._callbacks.forward_override = (start, end)
        _sync.before_call()
        try:
            if rng is not None:
                lo, hi = rng
                if lo == 0 and hi == len(self._rt.layers) - 1:
                    self._rt.forward()
                else:
                    self._write_back_entries(lo, hi)
                    self._rt.forward_range(lo, hi)
                self._reshaped = {}
        finally:
            self._callbacks.forward_override = None
            _sync.after_call()
            self._refresh()

    def _write_back_entries(self, lo, hi):
        """A forward that starts inside the net reads the blobs made before it as their arrays hold them."""
        made = set()
        for i in range(lo, hi + 1):
            lp = self._rt.net_param.layer[i]
            for b in lp.bottom:
                if b not in made and b in self._acts and b not in self._input_names:
                    self._rt.set_blob(b, torch.from_numpy(self._acts[b].copy()).to(self._rt.device))
                    made.add(b)
            made.update(lp.top)

    def backward(self, diffs=None, start=None, end=None, **kwargs):
        """Backward pass: top diffs from kwargs (output blob name -> array) or as the blobs hold them (a loss top
        holds its loss weight); layers `start` down to `end`. Returns {blob name: its diff array} for the inputs
        (or the bottoms of `end`) and `diffs`."""
        diffs = list(diffs or [])
        start_ind = len(self._g.layers) - 1 if start is None else self._layer_index(start, 'start')
        if end is not None:
            end_ind = self._layer_index(end, 'end')
            outputs = set(self.bottom_names[end] + diffs)
        else:
            end_ind = 0
            outputs = set(self.inputs + diffs)
        if kwargs:
            if set(kwargs) != set(self.outputs):
                raise Exception('Top diff arguments do not match net outputs.')
            for name, value in kwargs.items():
                if value.shape[0] != self.blobs[name].shape[0]:
                    raise Exception('Diff is not batch sized')
                self.blobs[name].diff[...] = value
        self._backward(start_ind, end_ind)
        return {out: self.blobs[out].diff for out in outputs}

    def _backward(self, start, end):
        """Caffe's BackwardFromTo(start, end): each running layer reads its tops' diffs; the diffs no layer of the
        range writes (the outputs', those the user set) are where the gradient starts."""
        self._ready()
        if self._callbacks.steps_backward():
            self._callbacks.run_backward(start, end)
            return
        g = self._g
        written = g.written(end, start)
        seeds = {}
        covered = set()
        for i in range(start, end - 1, -1):
            if not g.layer_need[i]:
                continue
            for t in g.layers[i].tops:
                if t in covered or t in seeds:
                    continue
                d = self._blob_diff(t)
                if np.any(d):
                    src = self._split_src.get(t, t)
                    seeds[src] = seeds[src] + d if src in seeds else d.copy()
            for b, nb in zip(g.layers[i].bottoms, g.bottom_need[i]):
                if nb:
                    covered.add(b)
        rng = self._real_range(end, start)
        if not seeds and rng is not None and self._python_in(end, start):
            # zero diffs everywhere, yet Caffe runs each layer's Backward: a Python layer's may write diffs itself
            for i in range(start, end - 1, -1):
                if g.layer_need[i] and g.layers[i].tops:
                    t = g.layers[i].tops[0]
                    seeds[self._split_src.get(t, t)] = np.zeros(self._blob_shape(t), np.float32)
                    break
        _sync.before_call()
        try:
            if seeds and rng is not None:
                lo, hi = rng
                self._rt.backward(top_diffs=seeds, start=hi, end=lo)
                self._take_diffs(written)
            else:
                for name in written:       # nothing reaches them: Caffe computes zeros
                    self._pending[name] = torch.zeros(self._blob_shape(name))
                    if name in self._diffs:
                        self._copy_diff(name, self._pending.pop(name))
        finally:
            _sync.after_call()

    def _python_in(self, end, start):
        """Whether Caffe layers end..start include a Python layer that runs its backward."""
        g = self._g
        return any(g.layer_need[i] and g.layers[i].type == 'Python' for i in range(end, start + 1))

    def forward_all(self, blobs=None, **kwargs):
        """Run forward in batches of the net's batch size over the kwargs' arrays; {blob: array of all outputs}."""
        all_outs = {out: [] for out in set(self.outputs + (blobs or []))}
        for batch in self._batch(kwargs):
            outs = self.forward(blobs=blobs, **batch)
            for out, arr in outs.items():
                all_outs[out].extend(arr.copy())
        for out in all_outs:
            all_outs[out] = np.asarray(all_outs[out])
        pad = len(next(iter(all_outs.values()))) - len(next(iter(kwargs.values())))
        if pad:
            for out in all_outs:
                all_outs[out] = all_outs[out][:-pad]
        return all_outs

    def forward_backward_all(self, blobs=None, diffs=None, **kwargs):
        """forward_all and backward in batches: ({blob: outputs}, {blob: diffs})."""
        all_outs = {out: [] for out in set(self.outputs + (blobs or []))}
        all_diffs = {d: [] for d in set(self.inputs + (diffs or []))}
        forward_batches = self._batch({n: kwargs[n] for n in self.inputs if n in kwargs})
        backward_batches = self._batch({n: kwargs[n] for n in self.outputs if n in kwargs})
        for fb, bb in zip_longest(forward_batches, backward_batches, fillvalue={}):
            batch_blobs = self.forward(blobs=blobs, **fb)
            batch_diffs = self.backward(diffs=diffs, **bb)
            for out, arr in batch_blobs.items():
                all_outs[out].extend(arr.copy())
            for d, arr in batch_diffs.items():
                all_diffs[d].extend(arr.copy())
        for out, d in zip(all_outs, all_diffs):
            all_outs[out] = np.asarray(all_outs[out])
            all_diffs[d] = np.asarray(all_diffs[d])
        pad = len(next(iter(all_outs.values()))) - len(next(iter(kwargs.values())))
        if pad:
            for out, d in zip(all_outs, all_diffs):
                all_outs[out] = all_outs[out][:-pad]
                all_diffs[d] = all_diffs[d][:-pad]
        return all_outs, all_diffs

    def _batch(self, blobs):
        """Split {name: arrays} into batches of the net's batch size; the last one padded with zeros."""
        if not blobs:
            return
        num = len(next(iter(blobs.values())))
        batch_size = next(iter(self.blobs.values())).shape[0]
        remainder = num % batch_size
        for b in range(num // batch_size):
            i = b * batch_size
            yield {name: blobs[name][i:i + batch_size] for name in blobs}
        if remainder > 0:
            padded = {}
            for name in blobs:
                padding = np.zeros((batch_size - remainder,) + blobs[name].shape[1:])
                padded[name] = np.concatenate([blobs[name][-remainder:], padding])
            yield padded

    def reshape(self):
        """Caffe's Net::Reshape: every blob takes the shape its layer gives for the current input shapes."""
        shapes = {}
        for i, lp in enumerate(self._rt.net_param.layer):
            layer = self._rt.layers[i]
            if lp.type == 'Input':
                tops = [tuple(self._rt.input_value(t).shape) for t in lp.top]
            else:
                tops = layer.top_shapes([shapes[b] for b in lp.bottom])
            for t, s in zip(lp.top, tops):
                shapes[t] = tuple(int(x) for x in s)
        for name, shape in shapes.items():
            if name in self._input_names:
                continue
            v = self._rt.blobs.get(name)
            if v is None or tuple(v.shape) != shape:
                self._reshaped[name] = shape
                if name in self._acts:
                    self._acts[name] = np.zeros(shape, dtype=np.float32)

    def clear_param_diffs(self):
        """Net::ClearParamDiffs: every parameter's diff becomes 0."""
        _sync.before_call()
        for ps in self._rt.params.values():
            for p in ps:
                if p.grad is not None:
                    p.grad.zero_()
        _sync.after_call()

    # ------------------------------------------------------------------------------------------ weights
    def copy_from(self, filename):
        """Net::CopyTrainedLayersFrom: weights by layer name from a .caffemodel (or .h5) file; layers the net
        lacks are ignored, layers the file lacks keep their values, a shape mismatch is an error."""
        _sync.before_call()
        try:
            self._rt.copy_from(os.fspath(filename))
        finally:
            _sync.after_call()

    def share_with(self, other):
        """Net::ShareTrainedLayersWith: by layer name, this net's parameters become `other`'s (one memory)."""
        if not isinstance(other, Net):
            raise TypeError(f'share_with needs a caffe.Net, not {type(other).__name__}')
        _sync.before_call()
        try:
            if other._rt.device != self._rt.device:
                self._rt.to(other._rt.device)
            self._share_params(other)
            if other not in self._shared_from:
                self._shared_from.append(other)
        finally:
            _sync.after_call()

    def _share_params(self, other):
        mine = self._rt.params
        for layer, src in other._rt.params.items():
            if layer not in mine:
                continue
            dst = mine[layer]
            if len(dst) != len(src):
                raise RuntimeError(f'Incompatible number of blobs for layer {layer}')
            for j, (t, s) in enumerate(zip(dst, src)):
                if t.shape != s.shape:
                    raise RuntimeError(f"Cannot share param {j} weights from layer '{layer}'; shape mismatch.  "
                                       f'Source param shape is {_shape_string(s.shape)}; target param shape is '
                                       f'{_shape_string(t.shape)}')
                t.data = s.data

    def save(self, filename):
        """Net_Save: the weights as a binary .caffemodel (whatever the extension)."""
        _sync.before_call()
        write_caffemodel(os.fspath(filename), self._rt.to_arrays(), self._rt.net_param)

    def save_hdf5(self, filename):
        """Net::ToHDF5: the weights in Caffe's HDF5 layout (whatever the extension)."""
        _sync.before_call()
        write_h5(os.fspath(filename), self._rt.to_arrays(), self._rt.net_param)

    def load_hdf5(self, filename):
        """Net::CopyTrainedLayersFromHDF5."""
        _sync.before_call()
        try:
            self._rt.load_arrays(read_h5(os.fspath(filename)), source=os.fspath(filename))
        finally:
            _sync.after_call()

    def set_input_arrays(self, data, labels):
        """_Net_set_input_arrays: 1-D labels become N x 1 x 1 x 1, then _set_input_arrays."""
        if labels.ndim == 1:
            labels = np.ascontiguousarray(labels[:, np.newaxis, np.newaxis, np.newaxis])
        return self._set_input_arrays(data, labels)

    def _set_input_arrays(self, data, labels):
        """Net_SetInputArrays: the first layer, a MemoryData layer, reads batches from these arrays (kept, not
        copied: later writes into them are read, as in Caffe); Caffe's checks and messages."""
        layers = self._rt.layers
        md = layers[0] if layers else None
        if not isinstance(md, runtime.layers.native_data.MemoryData):
            raise RuntimeError('set_input_arrays may only be called if the first layer is a MemoryDataLayer')
        src = md.source
        _check_contiguous(data, 'data array', src.channels, src.height, src.width)
        _check_contiguous(labels, 'labels array', 1, 1, 1)
        if data.shape[0] != labels.shape[0]:
            raise RuntimeError('data and labels must have the same first dimension')
        if data.shape[0] % src.batch_size != 0:
            raise RuntimeError('first dimensions of input arrays must be a multiple of batch size')
        md.reset(data, labels, data.shape[0])
        self._input_arrays = (data, labels)     # the custodians Caffe's binding keeps

    def __repr__(self):
        return f'<caffe.Net {self._rt.name!r} ({self._rt.extra_repr()})>'


def _check_contiguous(arr, name, channels, height, width):
    """pycaffe's CheckContiguousArray."""
    if not isinstance(arr, np.ndarray) or not arr.flags['C_CONTIGUOUS']:
        raise RuntimeError(f'{name} must be C contiguous')
    if arr.ndim != 4:
        raise RuntimeError(f'{name} must be 4-d')
    if arr.dtype != np.float32:
        raise RuntimeError(f'{name} must be float32')
    for axis, (want, what) in enumerate(((channels, 'number of channels'), (height, 'height'), (width, 'width')), 1):
        if arr.shape[axis] != want:
            raise RuntimeError(f'{name} has wrong {what}')


def _shape_string(shape):
    return ' '.join(str(int(s)) for s in shape) + f' ({int(np.prod(shape))})'
