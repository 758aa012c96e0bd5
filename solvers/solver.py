"""The solver object, pycaffe-like: `s = get_solver('solver.prototxt'); s.step(n); s.solve(); s.snapshot()`.

Solver::Step as Caffe runs it, per iteration: clear the diffs; test if test_interval says so; iter_size
forward/backward passes (the loss averaged over them); the smoothed loss (average_loss) and the display; the
gradients all-reduced across processes (distributed); ApplyUpdate (rules.apply_update, with the rate of
lr_policy.LearningRate); iter += 1; a snapshot every `snapshot` iterations or when Ctrl-C asked for one.

Exact resume: a snapshot is `<prefix>_iter_N.caffemodel` + `.solverstate` (or the .h5 pair), which the real Caffe
reads, plus `<prefix>_iter_N.rngstate`, a small sidecar (an .npz ignored by Caffe) holding what Caffe's files do not: the
torch/numpy/Python random states (dropout) and each Python data layer's sample order (a datalayers SampleStream's,
or what a layer's own get_state() returns, JSON-able, given back to its set_state()). Test nets' sequential
position is not saved (scoring runs whole splits, which returns them to the start). The solverstate is written last, so a snapshot whose .solverstate exists
is complete; each file is written atomically (weights.atomic), so a crash or a full disk never destroys the
previous snapshot.
"""
import json
import math
import os
import random
import signal
import threading

import numpy as np
import torch

from netspec import caffe_pb2

from . import distributed
from .logs import fmt, log, progress
from .lr_policy import LearningRate
from .param import load_param, net_specs, offset_python_seeds
from .rules import Learnable, apply_update, history_sets, new_history


def _jsonable(x):
    """Random and layer states as JSON, losslessly: tuples tagged {"__tuple__": [...]}, dict keys strings."""
    if isinstance(x, tuple):
        return {'__tuple__': [_jsonable(v) for v in x]}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        if not all(isinstance(k, str) for k in x):
            raise TypeError(f'a layer state dict needs string keys to be saved: {list(x)[:5]}')
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    return x


def _tuples(x):
    """The inverse of _jsonable."""
    if isinstance(x, dict):
        if set(x) == {'__tuple__'}:
            return tuple(_tuples(v) for v in x['__tuple__'])
        return {k: _tuples(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_tuples(v) for v in x]
    return x


class LossNotFinite(FloatingPointError):
    """Training stopped: the loss of an iteration is NaN or infinite. The last good snapshot is kept."""

    def __init__(self, iteration, loss, last_snapshot):
        self.iteration, self.loss, self.last_snapshot = iteration, loss, last_snapshot
        keep = f'; the last good snapshot is {last_snapshot}' if last_snapshot else '; no snapshot was written'
        super().__init__(f'Iteration {iteration}, loss = {loss}: the loss is not finite, training stopped{keep}')


def loss_weights(net_param):
    """{top name: loss weight} as Caffe's Net assigns them (Loss layers weigh their first top 1 by default)."""
    out = {}
    for layer in net_param.layer:
        for i, top in enumerate(layer.top):
            if i < len(layer.loss_weight):
                w = layer.loss_weight[i]
            else:
                w = 1.0 if ('Loss' in layer.type and i == 0) else 0.0
            if w:
                out[top] = out.get(top, 0.0) + w
    return out


def _net_factory(device):
    from runtime import Net

    def make(proto, phase, state):
        return Net(proto, phase='train' if phase == caffe_pb2.TRAIN else 'test', device=device,
                   stages=tuple(state.stage), level=state.level)
    return make


class Solver:
    """Caffe's Solver with one of the SGD-family update rules (`type`: SGD, Nesterov, AdaGrad, RMSProp, AdaDelta,
    Adam, from the solver.prototxt unless a subclass fixes it)."""

    type = None

    def __init__(self, param, device='cpu', net_factory=None, rank=None, world_size=None, progress_bar=None):
        self.param, self.base_dir = load_param(param)
        if self.type is not None and self.param.type != self.type:
            self.param.type = self.type
        self.type = self.param.type
        self.device = torch.device(device)
        r, n = distributed.world()
        self.rank = r if rank is None else rank
        self.world_size = n if world_size is None else world_size
        if self.param.random_seed >= 0:
            self.seed(self.param.random_seed + self.rank)
        make = net_factory or _net_factory(self.device)
        (phase, train, state), tests = net_specs(self.param)
        self.net = make(self._offset(train), phase, state)
        self.test_nets = [make(t, ph, st) for ph, t, st in tests] if self.rank == 0 else []
        self.learnables = self._learnables(self.net)
        self.history = new_history(self.learnables, self.type)
        self.lr = LearningRate(self.param)
        self.iter = 0
        self.feed = None            # None: the net's data layers; a dict of Input arrays; or feed(solver, pass) -> dict
        self.sigint_effect = 'stop'  # Caffe's default: snapshot, then stop
        self.sighup_effect = 'snapshot'
        self.progress_bar = progress_bar
        self.last_snapshot = None
        self.requested_early_exit = False
        self._request = None
        self._losses, self.smoothed_loss = [], 0.0
        self._loss_weights = loss_weights(getattr(self.net, 'net_param', caffe_pb2.NetParameter()))
        self.callbacks = []
        for w in self.param.weights:  # Caffe master's SolverParameter.weights: initial weights, train and test nets
            log.info('Loading weights from %s', w)
            for n in [self.net] + self.test_nets:
                n.copy_from(w)
        self.share_weights()

    # -- construction helpers -------------------------------------------------------------------------------------
    def _offset(self, net):
        if not self.rank:
            return net
        from netspec import read_net
        return offset_python_seeds(read_net(net), self.rank)

    @staticmethod
    def seed(seed):
        """Caffe::set_random_seed: every generator the training uses (dropout, data order)."""
        torch.manual_seed(seed)
        np.random.seed(seed % (1 << 32))
        random.seed(seed)

    @staticmethod
    def _learnables(net):
        """Caffe's learnable_params: every parameter blob (frozen ones too) once, in layer then blob order."""
        out, seen = [], set()
        specs = getattr(net, 'param_specs', {})
        for layer, blobs in net.params.items():
            spec = specs.get(layer, [])
            for i, p in enumerate(blobs):
                if id(p) in seen:
                    continue
                seen.add(id(p))
                lr_mult, decay_mult = spec[i] if i < len(spec) else (1.0, 1.0)
                out.append(Learnable(layer, i, p, lr_mult, decay_mult))
        return out

    def share_weights(self):
        """Net::ShareTrainedLayersWith: the test nets use the train net's blobs (same storage), by layer name."""
        for tn in self.test_nets:
            for layer, blobs in tn.params.items():
                src = self.net.params.get(layer)
                if not src:
                    continue
                for t, s in zip(blobs, src):
                    if t.shape != s.shape:
                        raise ValueError(f'Cannot share param blobs of layer {layer}: shapes {tuple(s.shape)} '
                                         f'(train net) and {tuple(t.shape)} (test net) differ')
                    t.data = s.data

    # -- training -------------------------------------------------------------------------------------------------
    def _inputs(self, i):
        f = self.feed
        if f is None:
            return {}
        if callable(f):
            return f(self, i) or {}
        return f

    def forward_backward(self, i=0):
        """One forward and backward pass of the train net; returns Caffe's loss (sum of weighted loss outputs)."""
        out = self.net.forward(**self._inputs(i))
        self.net.backward()
        return self._loss(out)

    def _loss(self, out):
        loss = 0.0
        for name, w in self._loss_weights.items():
            v = out.get(name) if name in out else self.net.blobs.get(name)
            if v is not None:
                loss += w * float(torch.as_tensor(v).detach().double().sum())
        return loss

    def clear_param_diffs(self):
        for l in self.learnables:
            if l.param.grad is not None:
                l.param.grad.zero_()

    def _update_smoothed_loss(self, loss, start_iter):
        avg = self.param.average_loss
        if len(self._losses) < avg:
            self._losses.append(loss)
            n = len(self._losses)
            self.smoothed_loss = (self.smoothed_loss * (n - 1) + loss) / n
        else:
            idx = (self.iter - start_iter) % avg
            self.smoothed_loss += (loss - self._losses[idx]) / avg
            self._losses[idx] = loss

    def _display(self, out):
        log.info('Iteration %d, loss = %s', self.iter, fmt(self.smoothed_loss))
        k = 0
        for name in getattr(self.net, 'outputs', list(out)):
            v = out.get(name, self.net.blobs.get(name))
            w = self._loss_weights.get(name, 0.0)
            for x in torch.as_tensor(v).detach().reshape(-1).tolist():
                extra = f' (* {fmt(w)} = {fmt(w * x)} loss)' if w else ''
                log.info('    Train net output #%d: %s = %s%s', k, name, fmt(x), extra)
                k += 1

    def step(self, iters):
        """Run `iters` iterations (Caffe's Solver::Step; max_iter is not consulted)."""
        start_iter, stop_iter = self.iter, self.iter + int(iters)
        self._losses, self.smoothed_loss = [], 0.0
        bar = progress(iters, os.path.basename(self.param.snapshot_prefix) or 'train',
                       self.progress_bar if self.rank == 0 else False)
        p = self.param
        with self._signals():
            try:
                while self.iter < stop_iter:
                    self.clear_param_diffs()
                    if p.test_interval and self.iter % p.test_interval == 0 and (self.iter > 0 or p.test_initialization):
                        if self.rank == 0:
                            self.test_all()
                        if self.requested_early_exit:
                            break
                    for cb in self.callbacks:
                        getattr(cb, 'on_start', lambda: None)()
                    display = p.display and self.iter % p.display == 0
                    loss, out = 0.0, {}
                    for i in range(p.iter_size):
                        out = self.net.forward(**self._inputs(i))
                        loss += self._loss(out)
                        self.net.backward()
                    loss /= p.iter_size
                    if self.world_size > 1:
                        tot, req = distributed.agree([loss, 1.0 if self._request else 0.0], self.world_size,
                                                      self.device)
                        if not math.isfinite(tot):
                            loss = tot
                        if req and not self._request:
                            self._request = 'stop'
                    if not math.isfinite(loss):
                        err = LossNotFinite(self.iter, loss, self.last_snapshot)
                        log.error('%s', err)
                        self.requested_early_exit = True
                        raise err
                    self._update_smoothed_loss(loss, start_iter)
                    if display and self.rank == 0:
                        self._display(out)
                    for cb in self.callbacks:
                        getattr(cb, 'on_gradients_ready', lambda: None)()
                    if self.world_size > 1:
                        distributed.reduce_gradients([l.diff() for l in self.learnables], self.world_size)
                    self.apply_update()
                    self.iter += 1
                    bar.update(1)
                    request, self._request = self._request, None
                    if self.world_size > 1 and request:
                        request = 'stop'
                    if (p.snapshot and self.iter % p.snapshot == 0) or request in ('snapshot', 'stop'):
                        if self.rank == 0:
                            self.snapshot()
                    if request == 'stop':
                        log.info('Optimization stopped early (interrupt) at iteration %d.', self.iter)
                        self.requested_early_exit = True
                        break
            finally:
                bar.close()
        return self

    def apply_update(self):
        """SGDSolver::ApplyUpdate: the rate, its display, clipping, and the update rule; then Net::Update."""
        rate = self.lr(self.iter)
        if self.param.display and self.iter % self.param.display == 0 and self.rank == 0:
            log.info('Iteration %d, lr = %s', self.iter, fmt(rate))
        norm, scale = apply_update(self.type, self.learnables, self.history, rate, self.param, self.iter)
        if scale is not None:
            log.info('Gradient clipping: scaling down gradients (L2 norm %s > %s) by scale factor %s',
                     fmt(norm), fmt(self.param.clip_gradients), fmt(scale))
        return rate

    def solve(self, resume_file=None):
        """Caffe's Solver::Solve: restore if asked, step to max_iter, snapshot, a last display and test."""
        log.info('Solving %s', getattr(getattr(self.net, 'net_param', None), 'name', '') or 'net')
        log.info('Learning Rate Policy: %s', self.param.lr_policy)
        self.requested_early_exit = False
        if resume_file:
            log.info('Restoring previous solver status from %s', resume_file)
            self.restore(resume_file)
        self.step(self.param.max_iter - self.iter)
        p = self.param
        if self.requested_early_exit:
            log.info('Optimization stopped early.')
            return self
        if p.snapshot_after_train and (not p.snapshot or self.iter % p.snapshot != 0) and self.rank == 0:
            self.snapshot()
        if p.display and self.iter % p.display == 0:
            out = self.net.forward(**self._inputs(0))
            self._update_smoothed_loss(self._loss(out), self.iter)
            log.info('Iteration %d, loss = %s', self.iter, fmt(self.smoothed_loss))
        if p.test_interval and self.iter % p.test_interval == 0 and self.rank == 0:
            self.test_all()
        log.info('Optimization Done.')
        return self

    # -- testing --------------------------------------------------------------------------------------------------
    def test_all(self):
        for i in range(len(self.test_nets)):
            self.test(i)

    def test(self, i=0):
        """Solver::Test: mean of each test output over test_iter forward passes, logged in Caffe's format."""
        log.info('Iteration %d, Testing net (#%d)', self.iter, i)
        self.share_weights()
        tn = self.test_nets[i]
        weights = loss_weights(getattr(tn, 'net_param', caffe_pb2.NetParameter()))
        sums, names, loss = None, [], 0.0
        n = self.param.test_iter[i]
        with torch.no_grad():
            for _ in range(n):
                out = tn.forward()
                vals = []
                for name in getattr(tn, 'outputs', list(out)):
                    v = torch.as_tensor(out.get(name, tn.blobs.get(name))).detach().double().reshape(-1)
                    vals.append(v)
                    if sums is None:
                        names.extend([name] * v.numel())
                    loss += weights.get(name, 0.0) * float(v.sum())
                flat = torch.cat(vals) if vals else torch.zeros(0, dtype=torch.float64)
                sums = flat if sums is None else sums + flat
        if self.param.test_compute_loss:
            log.info('Test loss: %s', fmt(loss / n))
        results = {}
        for k, name in enumerate(names):
            mean = float(sums[k]) / n
            w = weights.get(name, 0.0)
            extra = f' (* {fmt(w)} = {fmt(w * mean)} loss)' if w else ''
            log.info('    Test net output #%d: %s = %s%s', k, name, fmt(mean), extra)
            results.setdefault(name, []).append(mean)
        return results

    # -- snapshots ------------------------------------------------------------------------------------------------
    def snapshot_filename(self, extension):
        return f'{self.param.snapshot_prefix}_iter_{self.iter}{extension}'

    def snapshot(self):
        """Write `<prefix>_iter_N.caffemodel` + `.solverstate` (or .h5), and the .rngstate sidecar; returns the
        solverstate path. The solverstate is written last: its presence marks a complete snapshot."""
        from weights import SolverState, write_solverstate, write_weights
        h5 = self.param.snapshot_format == caffe_pb2.SolverParameter.HDF5
        model = self.snapshot_filename('.caffemodel.h5' if h5 else '.caffemodel')
        state_path = self.snapshot_filename('.solverstate.h5' if h5 else '.solverstate')
        kind = 'HDF5 file' if h5 else 'binary proto file'
        log.info('Snapshotting to %s %s', kind, model)
        write_weights(model, self.net.to_arrays(), net_param=getattr(self.net, 'net_param', None))
        self._write_rngstate(self.snapshot_filename('.rngstate'))
        log.info('Snapshotting solver state to %s %s', kind, state_path)
        write_solverstate(state_path, SolverState(iter=self.iter, learned_net=model,
                                                  history=[h.detach().cpu().numpy() for h in self.history],
                                                  current_step=self.lr.current_step))
        self.last_snapshot = state_path
        return state_path

    @staticmethod
    def _python_layers(net):
        """The Python-layer objects of a net (runtime.Net keeps each in its layer's `impl`)."""
        return [l.impl for l in getattr(net, 'layers', []) if getattr(l, 'impl', None) is not None]

    @staticmethod
    def _layer_state(impl):
        """A data layer's sample-order state: its own get_state(), or that of a datalayers SampleStream (the
        order's generator, its position and the indices already drawn ahead); None when it has none."""
        if hasattr(impl, 'get_state'):
            return ('custom', impl.get_state())
        stream = getattr(impl, 'stream', None)
        order = getattr(stream, 'order', None)
        if order is not None and hasattr(order, '_rng') and hasattr(stream, '_pending'):
            rng = order._rng.getstate() if order._rng is not None else None
            return ('stream', rng, getattr(order, '_next', 0), [i for i, _ in stream._pending])
        return None

    @staticmethod
    def _set_layer_state(impl, state):
        import collections
        if state is None:
            return
        if state[0] == 'custom':
            impl.set_state(state[1])
            return
        _, rng, nxt, pending = state
        stream = impl.stream
        if rng is not None:
            stream.order._rng.setstate(rng)
        stream.order._next = nxt
        for _, job in stream._pending:
            if job is not None and hasattr(job, 'cancel'):
                job.cancel()
        stream._pending = collections.deque((i, None) for i in pending)
        if pending and hasattr(impl, 'idx'):
            impl.idx = pending[0]

    def _write_rngstate(self, path):
        """The random states as an .npz (arrays plus one JSON document; no pickle, so loading it runs no code)."""
        from weights.atomic import atomic_file
        np_state = np.random.get_state()
        doc = {'format': 'fcn-solvers-rngstate-1', 'iter': self.iter,
               'numpy': [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
               'python': _jsonable(random.getstate()),
               'layers': _jsonable([self._layer_state(l) for l in self._python_layers(self.net)])}
        arrays = {'torch': torch.get_rng_state().numpy(), 'numpy_keys': np_state[1]}
        if torch.cuda.is_available():
            for i, st in enumerate(torch.cuda.get_rng_state_all()):
                arrays[f'cuda_{i}'] = st.numpy()
        with atomic_file(path, 'solver RNG state') as f:
            np.savez(f, doc=np.array(json.dumps(doc)), **arrays)

    def _read_rngstate(self, path):
        with np.load(path, allow_pickle=False) as z:
            doc = json.loads(str(z['doc']))
            torch.set_rng_state(torch.from_numpy(z['torch'].copy()))
            name, pos, has_gauss, cached = doc['numpy']
            np.random.set_state((name, z['numpy_keys'].copy(), pos, has_gauss, cached))
            cuda = [torch.from_numpy(z[k].copy()) for k in sorted((k for k in z.files if k.startswith('cuda_')),
                                                                  key=lambda k: int(k[5:]))]
        random.setstate(_tuples(doc['python']))
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda)
        return _tuples(doc['layers'])

    def restore(self, state_file):
        """Solver::Restore from a .solverstate[.h5]: iter, learned_net weights, history, current_step, plus the
        random states from the .rngstate sidecar when it is there (else a warning: data order and dropout then
        differ from an uninterrupted run)."""
        from weights import read_solverstate
        state_file = os.fspath(state_file)
        st = read_solverstate(state_file)
        if len(st.history) != len(self.history):
            raise ValueError(f'{state_file}: Incorrect length of history blobs: {len(st.history)} in the file, '
                             f'{len(self.history)} expected ({len(self.learnables)} learnable blobs x '
                             f'{history_sets(self.type)} for {self.type})')
        if st.learned_net:
            model = st.learned_net
            if not os.path.exists(model):
                alt = os.path.join(os.path.dirname(os.path.abspath(state_file)), os.path.basename(model))
                if os.path.exists(alt):
                    model = alt
            self.net.copy_from(model)
        for i, (h, a) in enumerate(zip(self.history, st.history)):
            a = np.asarray(a, np.float32)
            if a.size != h.numel():
                raise ValueError(f'{state_file}: history blob {i} has {a.size} values, expected {h.numel()} '
                                 f'({tuple(h.shape)})')
            h.copy_(torch.from_numpy(a.reshape(tuple(h.shape))))
        self.iter = st.iter
        self.lr.current_step = st.current_step
        base = state_file[:-len('.h5')] if state_file.endswith('.h5') else state_file
        base = base[:-len('.solverstate')] if base.endswith('.solverstate') else base
        rng = base + '.rngstate'
        if os.path.exists(rng):
            states = self._read_rngstate(rng)
            layers = self._python_layers(self.net)
            if len(layers) != len(states):
                log.warning('%s: %d data-layer states for %d Python layers; their order is not restored',
                            rng, len(states), len(layers))
            else:
                for impl, ls in zip(layers, states):
                    self._set_layer_state(impl, ls)
        else:
            log.warning('%s not found: random states (dropout, data order) are not restored', rng)
        self.share_weights()
        return self

    # -- resources ------------------------------------------------------------------------------------------------
    def close(self):
        """Stop the data layers' background readers (prefetch threads/processes) of every net."""
        for net in [self.net] + list(self.test_nets):
            for impl in self._python_layers(net):
                closer = getattr(impl, 'close', None) or getattr(getattr(impl, 'stream', None), 'close', None)
                if callable(closer):
                    closer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- signals --------------------------------------------------------------------------------------------------
    def _signals(self):
        solver = self

        class _Ctx:
            def __enter__(self):
                self.old = {}
                if threading.current_thread() is not threading.main_thread():
                    return self
                for sig, effect in ((signal.SIGINT, solver.sigint_effect),
                                    (getattr(signal, 'SIGHUP', None), solver.sighup_effect)):
                    if sig is None or effect == 'none':
                        continue
                    self.old[sig] = signal.signal(sig, self.handler(sig, effect))
                return self

            @staticmethod
            def handler(sig, effect):
                def h(signum, frame):
                    if solver._request == effect and sig == signal.SIGINT:
                        raise KeyboardInterrupt  # a second Ctrl-C: stop now
                    log.info('Caught signal %d: %s requested', signum, effect)
                    solver._request = effect
                return h

            def __exit__(self, *exc):
                for sig, old in self.old.items():
                    signal.signal(sig, old)
                return False
        return _Ctx()


def _typed(name):
    return type(f'{name}Solver', (Solver,), {'type': name, '__doc__': f"Caffe's {name}Solver."})


SGDSolver = _typed('SGD')
NesterovSolver = _typed('Nesterov')
AdaGradSolver = _typed('AdaGrad')
RMSPropSolver = _typed('RMSProp')
AdaDeltaSolver = _typed('AdaDelta')
AdamSolver = _typed('Adam')


def get_solver(param, **kwargs):
    """A solver of the type the solver.prototxt names (caffe.get_solver); kwargs go to Solver (device, ...)."""
    return Solver(param, **kwargs)
