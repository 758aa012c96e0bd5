"""Caffe's learning-rate policies (SGDSolver::GetLearningRate), in Caffe's own float/double arithmetic.

Caffe's SolverParameter stores base_lr, gamma and power as float. In GetLearningRate, `pow(float, int)` (step, exp,
multistep) promotes to double and the product with base_lr is double, rounded once to the float rate; inv, poly and
sigmoid use the float overloads (powf, expf) and float products. The real Caffe agrees bit for bit at iterations
0..1000 (tests/test_solvers_oracle.py); float powf/expf are taken as the correctly rounded double result.
"""
import math

import numpy as np

f32 = np.float32


def _powf(x, y):
    """powf(x, y): float in, float out (correctly rounded)."""
    return f32(math.pow(float(f32(x)), float(f32(y))))


class LearningRate:
    """The rate at each iteration; keeps Caffe's `current_step` (saved in the solverstate) for step/multistep."""

    POLICIES = ('fixed', 'step', 'exp', 'inv', 'multistep', 'poly', 'sigmoid')

    def __init__(self, param, current_step=0):
        self.param = param
        self.policy = param.lr_policy
        if self.policy not in self.POLICIES:
            raise ValueError(f'Unknown learning rate policy: {self.policy!r} (expected one of {", ".join(self.POLICIES)})')
        self.current_step = int(current_step)
        p = param
        if self.policy == 'step' and p.stepsize <= 0:
            raise ValueError('lr_policy "step" needs stepsize > 0')
        if self.policy in ('step', 'exp', 'inv') and p.gamma < 0:
            raise ValueError(f'lr_policy "{self.policy}" needs gamma >= 0')

    def __call__(self, it):
        """The rate (a float32 value) Caffe uses at iteration `it`; updates current_step as Caffe does."""
        p = self.param
        base = f32(p.base_lr)
        gamma = f32(p.gamma)
        it = int(it)
        pol = self.policy
        if pol == 'fixed':
            rate = base
        elif pol == 'step':
            self.current_step = it // p.stepsize
            rate = f32(float(base) * math.pow(float(gamma), self.current_step))
        elif pol == 'exp':
            rate = f32(float(base) * math.pow(float(gamma), it))
        elif pol == 'inv':
            x = f32(f32(1) + f32(gamma * f32(it)))
            rate = f32(base * _powf(x, -f32(p.power)))
        elif pol == 'multistep':
            if self.current_step < len(p.stepvalue) and it >= p.stepvalue[self.current_step]:
                self.current_step += 1
            rate = f32(float(base) * math.pow(float(gamma), self.current_step))
        elif pol == 'poly':
            x = f32(f32(1) - f32(f32(it) / f32(p.max_iter)))
            rate = f32(base * _powf(x, p.power))
        else:  # sigmoid
            z = f32(-gamma * f32(f32(it) - f32(p.stepsize)))
            try:
                with np.errstate(over='ignore'):
                    e = f32(math.exp(float(z)))
            except OverflowError:
                e = f32(np.inf)
            rate = f32(base * f32(f32(1) / f32(f32(1) + e)))
        return rate


def learning_rate(param, it, current_step=0):
    """Caffe's rate for `param` (a SolverParameter) at iteration `it` (stateless form; multistep walks from 0)."""
    lr = LearningRate(param, 0 if param.lr_policy == 'multistep' else current_step)
    if param.lr_policy == 'multistep':
        r = None
        for i in range(it + 1):
            r = lr(i)
        return r
    return lr(it)
