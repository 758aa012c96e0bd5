"""The solver object, pycaffe-like: `s = get_solver('solver.prototxt'); s.step(n); s.solve(); s.snapshot()`.

Solver::Step as Caffe runs it, per iteration (Solver.step, one method per phase): clear the diffs; test if
test_interval says so; iter_size forward/backward passes (the loss averaged over them); the processes agree on
the loss and on stop requests (distributed); a non-finite loss stops training; the smoothed loss (average_loss)
and the display; the gradients all-reduced across processes; ApplyUpdate (rules.apply_update, with the rate of
lr_policy.LearningRate); iter += 1; a snapshot every `snapshot` iterations or when a signal asked for one
(signals.py), and a stop when one asked for it.

Snapshots and exact resume (Caffe's file pair plus a sidecar of random and data-order states) are snapshots.py.
"""
import contextlib
import math
import os
import random
import time

import numpy as np
import torch

from netspec import caffe_pb2, read_net
from runtime import Net, parallel

from . import distributed, snapshots
from .logs import fmt, log, progress
from .lr_policy import LearningRate
from .param import load_param, net_specs, offset_python_seeds
from .rules import Learnable, apply_update, new_history
from .signals import SignalRequests, StopRequested

__all__ = ['Solver', 'SGDSolver', 'NesterovSolver', 'AdaGradSolver', 'RMSPropSolver', 'AdaDeltaSolver',
           'AdamSolver', 'LossNotFinite', 'StopRequested', 'get_solver', 'loss_weights']


class LossNotFinite(FloatingPointError):
    """Training stopped: the loss of an iteration is NaN or infinite. `last_snapshot` is the last good snapshot
    (every weight and history value finite; snapshots.non_finite), or None; `later` the snapshots written after it,
    which are not good."""

    def __init__(self, iteration, loss, last_snapshot, later=()):
        self.iteration, self.loss, self.last_snapshot, self.later = iteration, loss, last_snapshot, list(later)
        keep = f'; the last good snapshot is {last_snapshot}' if last_snapshot else '; no good snapshot was written'
        if self.later:
            keep += f' ({", ".join(self.later)} hold{"s" if len(self.later) == 1 else ""} non-finite values)'
        super().__init__(f'Iteration {iteration}, loss = {loss}: the loss is not finite, training stopped{keep}')


def loss_weights(net):
    """{top name: loss weight} of a net, as its Net assigned them (runtime.Net.loss_weights: the prototxt's
    loss_weight, else 1 on top 0 of a loss layer, by the layer type's record)."""
    return dict(net.loss_weights)


def _net_factory(device):
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
        n = distributed.world()[1]
        self.rank = parallel.solver_rank() if rank is None else rank     # Caffe::solver_rank (root_solver: 0)
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
        self.last_good_snapshot = None     # the last snapshot whose weights and history are all finite
        self._bad_snapshots = []           # snapshots written since then (non-finite values)
        self.requested_early_exit = False
        self._request = None
        self._losses, self.smoothed_loss = [], 0.0
        self._start_iter = 0
        self._timer, self._iterations_last = time.perf_counter(), 0
        self._loss_weights = loss_weights(self.net)
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
        return offset_python_seeds(read_net(net), self.rank)

    @staticmethod
    def seed(seed):
        """Caffe::set_random_seed: every generator the training uses (dropout, data order, Caffe's data layers)."""
        from runtime.caffe_data.rng import set_random_seed
        set_random_seed(seed)
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
        """Solver::UpdateSmoothedLoss, in float32 as Caffe's Dtype: the mean of the last average_loss losses."""
        avg = self.param.average_loss
        loss, smoothed = np.float32(loss), np.float32(self.smoothed_loss)
        if len(self._losses) < avg:
            self._losses.append(loss)
            n = len(self._losses)
            smoothed = (smoothed * np.float32(n - 1) + loss) / np.float32(n)
        else:
            idx = (self.iter - start_iter) % avg
            smoothed = smoothed + (loss - self._losses[idx]) / np.float32(avg)
            self._losses[idx] = loss
        self.smoothed_loss = float(np.float32(smoothed))

    def _display(self, out):
        """Caffe's display: the iteration's speed since the last display, the smoothed loss, each output value
        (weighted outputs with their loss, in float32 as Caffe computes it)."""
        lapse = np.float32(time.perf_counter() - self._timer)
        per_s = np.float32(self.iter - self._iterations_last) / (lapse if lapse else np.float32(1))
        log.info('Iteration %d (%s iter/s, %ss/%d iters), loss = %s', self.iter, fmt(per_s), fmt(lapse),
                 self.param.display, fmt(self.smoothed_loss))
        self._timer, self._iterations_last = time.perf_counter(), self.iter
        k = 0
        for name in getattr(self.net, 'outputs', list(out)):
            v = out.get(name, self.net.blobs.get(name))
            w = np.float32(self._loss_weights.get(name, 0.0))
            for x in torch.as_tensor(v).detach().float().reshape(-1).tolist():
                extra = f' (* {fmt(w)} = {fmt(w * np.float32(x))} loss)' if w else ''
                log.info('    Train net output #%d: %s = %s%s', k, name, fmt(x), extra)
                k += 1

    def step(self, iters):
        """Run `iters` iterations (Caffe's Solver::Step; max_iter is not consulted)."""
        start_iter, stop_iter = self.iter, self.iter + int(iters)
        self._start_iter = start_iter
        self._losses, self.smoothed_loss = [], 0.0
        self._timer, self._iterations_last = time.perf_counter(), self.iter
        bar = progress(iters, os.path.basename(self.param.snapshot_prefix) or 'train',
                       self.progress_bar if self.rank == 0 else False)
        with SignalRequests(self), contextlib.closing(bar):
            while self.iter < stop_iter:
                self.clear_param_diffs()
                if self._test_due():
                    self._run_tests()
                    if self.requested_early_exit:
                        break
                self._run_callbacks('on_start')
                loss, out = self._forward_backward_passes()
                loss = self._agree_across_processes(loss)
                self._stop_unless_finite(loss)
                self._update_smoothed_loss(loss, start_iter)
                self._display_if_due(out)
                self._run_callbacks('on_gradients_ready')
                self._reduce_gradients_across_processes()
                self.apply_update()
                self.iter += 1
                bar.update(1)
                if self._snapshot_and_stop_as_requested():
                    break
        return self

    # the phases of one iteration, in step's order
    def _test_due(self):
        p = self.param
        return bool(p.test_interval and self.iter % p.test_interval == 0 and (self.iter > 0 or p.test_initialization))

    def _run_tests(self):
        if self.rank == 0:
            self.test_all()

    def _run_callbacks(self, hook):
        for cb in self.callbacks:
            getattr(cb, hook, lambda: None)()

    def _forward_backward_passes(self):
        """iter_size forward/backward passes (gradients accumulate); (their mean loss, the last outputs)."""
        loss, out = 0.0, {}
        for i in range(self.param.iter_size):
            out = self.net.forward(**self._inputs(i))
            loss += self._loss(out)
            self.net.backward()
        return loss / self.param.iter_size, out

    def _agree_across_processes(self, loss):
        """Distributed: a non-finite loss anywhere becomes every process's loss, and a stop requested in one
        process (a signal) is requested in all."""
        if self.world_size <= 1:
            return loss
        total, requested = distributed.agree([loss, 1.0 if self._request else 0.0], self.world_size, self.device)
        if requested and not self._request:
            self._request = 'stop'
        return total if not math.isfinite(total) else loss

    def _stop_unless_finite(self, loss):
        if not math.isfinite(loss):
            err = LossNotFinite(self.iter, loss, self.last_good_snapshot, self._bad_snapshots)
            log.error('%s', err)
            self.requested_early_exit = True
            raise err

    def _display_if_due(self, out):
        if self.param.display and self.iter % self.param.display == 0 and self.rank == 0:
            self._display(out)

    def _reduce_gradients_across_processes(self):
        if self.world_size > 1:
            distributed.reduce_gradients([l.diff() for l in self.learnables], self.world_size)

    def _snapshot_and_stop_as_requested(self):
        """The snapshot every `snapshot` iterations or on request; True when a stop was requested (distributed:
        any request stops, after the snapshot)."""
        request, self._request = self._request, None
        if self.world_size > 1 and request:
            request = 'stop'
        if (self.param.snapshot and self.iter % self.param.snapshot == 0) or request in ('snapshot', 'stop'):
            if self.rank == 0:
                self.snapshot()
        if request == 'stop':
            log.info('Optimization stopped early (interrupt) at iteration %d.', self.iter)
            self.requested_early_exit = True
            return True
        return False

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

    def log_start(self):
        """Solve's first two lines, `Solving NAME` (Caffe's log tools take its time as the start) and the lr
        policy."""
        log.info('Solving %s', getattr(getattr(self.net, 'net_param', None), 'name', ''))
        log.info('Learning Rate Policy: %s', self.param.lr_policy)

    def snapshot_after_train(self):
        """Solve's last snapshot: unless snapshot_after_train is false or the last iteration was just
        snapshotted (`snapshot` divides it); on the root process. Returns the solverstate path or None."""
        p = self.param
        if p.snapshot_after_train and (not p.snapshot or self.iter % p.snapshot != 0) and self.rank == 0:
            return self.snapshot()
        return None

    def solve(self, resume_file=None):
        """Caffe's Solver::Solve: restore if asked, step to max_iter, snapshot, a last display and test."""
        self.log_start()
        self.requested_early_exit = False
        if resume_file:
            log.info('Restoring previous solver status from %s', resume_file)
            self.restore(resume_file)
        self.step(self.param.max_iter - self.iter)
        p = self.param
        if self.requested_early_exit:
            log.info('Optimization stopped early.')
            return self
        self.snapshot_after_train()
        if p.display and self.iter % p.display == 0:
            out = self.net.forward(**self._inputs(0))
            self._update_smoothed_loss(self._loss(out), self._start_iter)
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
        """Solver::Test: mean of each test output over test_iter forward passes, logged in Caffe's format (sums,
        means and the test loss in float32, Caffe's Dtype)."""
        log.info('Iteration %d, Testing net (#%d)', self.iter, i)
        self.share_weights()
        tn = self.test_nets[i]
        weights = loss_weights(tn)
        sums, names, loss = None, [], np.float32(0)
        n = self.param.test_iter[i]
        with torch.no_grad():
            for _ in range(n):
                out = tn.forward()
                vals = []
                iter_loss = np.float32(0)
                for name in getattr(tn, 'outputs', list(out)):
                    v = torch.as_tensor(out.get(name, tn.blobs.get(name))).detach().float().cpu().reshape(-1)
                    vals.append(v)
                    if sums is None:
                        names.extend([name] * v.numel())
                    if weights.get(name):
                        iter_loss += np.float32(weights[name]) * np.float32(float(v.double().sum()))
                loss += iter_loss
                flat = torch.cat(vals) if vals else torch.zeros(0)
                sums = flat.clone() if sums is None else sums + flat
        if self.param.test_compute_loss:
            log.info('Test loss: %s', fmt(loss / np.float32(n)))
        results = {}
        for k, name in enumerate(names):
            mean = np.float32(sums[k].item()) / np.float32(n)
            w = np.float32(weights.get(name, 0.0))
            extra = f' (* {fmt(w)} = {fmt(w * mean)} loss)' if w else ''
            log.info('    Test net output #%d: %s = %s%s', k, name, fmt(mean), extra)
            results.setdefault(name, []).append(float(mean))
        return results

    # -- snapshots (snapshots.py) ------------------------------------------------------------------------------------
    def snapshot_filename(self, extension):
        return snapshots.snapshot_stem(self.param.snapshot_prefix, self.iter) + extension

    def snapshot(self):
        """Write `<prefix>_iter_N.caffemodel` + `.solverstate` (or .h5), and the .rngstate sidecar; returns the
        solverstate path. The solverstate is written last: its presence marks a complete snapshot. A snapshot
        whose weights or history hold a NaN or an infinity is written (as Caffe writes it) with a warning, and
        is not the `last_good_snapshot` that a diverged run names. Only the root solver (rank 0) snapshots: on
        another, an error (Caffe's CHECK(Caffe::root_solver()) in Solver::Snapshot)."""
        if self.rank != 0:
            raise RuntimeError(f'Check failed: Caffe::root_solver(): solver rank {self.rank} cannot snapshot (only the '
                               'root solver, rank 0, does)')
        bad = snapshots.non_finite(self)
        self.last_snapshot = snapshots.save(self)
        if bad:
            log.warning('Snapshot %s holds non-finite values (%s): not a snapshot to resume from',
                        self.last_snapshot, bad)
            self._bad_snapshots.append(self.last_snapshot)
        else:
            self.last_good_snapshot, self._bad_snapshots = self.last_snapshot, []
        return self.last_snapshot

    def interruptible(self, fn, *args, **kwargs):
        """fn(*args, **kwargs) (a recipe's scoring between steps) under the solver's signal handling, as Caffe's
        Test runs under Solve's: a SIGINT whose effect is 'stop' interrupts it (StopRequested), then, as after a
        stop within step, the snapshot is written (unless this iteration's is already) and requested_early_exit
        is set; a SIGHUP ('snapshot') lets it finish, then snapshots. Returns fn's result, or None when stopped.
        Distributed, the stop is left pending for the next step, which stops every process after its snapshot."""
        result = None
        try:
            with SignalRequests(self, interrupt=True):
                result = fn(*args, **kwargs)
        except StopRequested:
            log.info('Iteration %d: stopped while it ran', self.iter)
        request = self._request
        if not request or self.world_size > 1:
            return result
        self._request = None
        current = snapshots.snapshot_stem(self.param.snapshot_prefix, self.iter)
        written = bool(self.last_snapshot) and self.last_snapshot.startswith(current + '.solverstate')
        if request in ('snapshot', 'stop') and self.rank == 0 and not written:
            self.snapshot()
        if request == 'stop':
            log.info('Optimization stopped early (interrupt) at iteration %d.', self.iter)
            self.requested_early_exit = True
        return result

    def restore(self, state_file):
        """Solver::Restore from a .solverstate[.h5]: iter, learned_net weights, history, current_step, plus the
        random states from the .rngstate sidecar when it is there (else a warning: data order and dropout then
        differ from an uninterrupted run)."""
        snapshots.restore(self, state_file)
        self.share_weights()
        return self

    # -- resources ------------------------------------------------------------------------------------------------
    def close(self):
        """Stop the data layers' background readers (prefetch threads/processes) of every net."""
        for net in [self.net] + list(self.test_nets):
            for impl in snapshots.python_layers(net):
                closer = getattr(impl, 'close', None) or getattr(getattr(impl, 'stream', None), 'close', None)
                if callable(closer):
                    closer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


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
