"""How a net learns: Caffe's SGD-family solvers, exactly as Caffe's sources define them.

    from solvers import get_solver, SGDSolver
    s = get_solver('solver.prototxt')        # the type the prototxt names; SGDSolver(...) forces SGD
    s.net, s.test_nets, s.iter
    s.step(n); s.solve(); s.snapshot(); s.restore('snapshot/train_iter_4000.solverstate')

Data: the train net's own data layers, or Input blobs set pycaffe-style (`s.net.set_input('data', x)`; they keep
their values), or `s.feed` = {input: array} or a callable feed(solver, pass_index) -> {input: array}.

The reference training loop (tools/solve.py) is an application over this package, fcnapps.recipe:

    from fcnapps.recipe import train
    solver, history = train('voc-fcn32s', weights='vgg16-fcn.caffemodel', data='data', iters=100000,
                            score_every=4000, device='cuda', out='runs/voc-fcn32s')
    # history: [(iteration, {gt blob: {'overall_acc', 'mean_acc', 'mean_iu', 'fwavacc', 'loss', 'hist'}})]

Modules: rules (the update rules on tensors), lr_policy (GetLearningRate), param (solver.prototxt), solver (the
Solver object: step in named phases, test, solve), snapshots (Caffe's snapshot pair, the .rngstate sidecar, exact
resume), signals (SIGINT/SIGHUP requests during step), feeds (Solver.feed from in-memory arrays), logs (Caffe-format
logging), logparse (reading such logs back as Caffe's parse_log.py does), distributed (Caffe's multi-GPU meaning on
torch.distributed).
"""
from .lr_policy import LearningRate, learning_rate
from .param import SolverParamError, load_param
from .rules import TYPES, Learnable, apply_update, history_sets, new_history
from .solver import (AdaDeltaSolver, AdaGradSolver, AdamSolver, LossNotFinite, NesterovSolver, RMSPropSolver,
                     SGDSolver, Solver, StopRequested, get_solver)
from .logs import setup_logging

__all__ = ['get_solver', 'Solver', 'SGDSolver', 'NesterovSolver', 'AdaGradSolver', 'RMSPropSolver',
           'AdaDeltaSolver', 'AdamSolver', 'LossNotFinite', 'StopRequested', 'LearningRate', 'learning_rate',
           'load_param', 'SolverParamError', 'TYPES', 'Learnable', 'apply_update', 'history_sets', 'new_history', 'setup_logging']
