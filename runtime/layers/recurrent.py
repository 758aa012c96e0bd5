"""RNN, LSTM (Caffe's RecurrentLayer, src/caffe/layers/rnn_layer.cpp, lstm_layer.cpp) and LSTMUnit
(lstm_unit_layer.cpp), computed step by step as Caffe's unrolled net computes them.

Bottoms: x (T x N x ...), cont (T x N: 0 starts a sequence), an optional static input (N x ...), and with
expose_hidden the initial states (1 x N x num_output: h_0, and for LSTM c_0); tops: the outputs (T x N x num_output)
and with expose_hidden the final states. Without expose_hidden the initial states are the final states of the last
forward (zeros at first), as Caffe copies them. With expose_hidden, as in Caffe 1.0 (whose layer shares only the
data of those blobs with its unrolled net), the initial states get no diff and the final states' diffs are not
back-propagated.
  RNN:  h_t = tanh(W_hh (cont_t h_{t-1}) + W_xh x_t + b_h [+ W_xh_static x_static]),  o_t = tanh(W_ho h_t + b_o)
  LSTM: gates = W_hc (cont_t h_{t-1}) + W_xc x_t + b_c [+ W_xc_static x_static], split i, f, o, g;
        c_t = cont_t f c_{t-1} + i g (i, f, o sigmoid, g tanh), h_t = o tanh(c_t); the outputs are the h_t.
"""
import torch
import torch.nn.functional as F

from .registry import register
from .base import CaffeLayer


def _lstm_step(c_prev, gates, cont):
    """LSTMUnit: (c_t, h_t) from c_{t-1} (N x D), the gate inputs (N x 4D) and cont (N)."""
    d = c_prev.shape[-1]
    i, f, o = (torch.sigmoid(gates[..., k * d:(k + 1) * d]) for k in range(3))
    g = torch.tanh(gates[..., 3 * d:])
    c = cont.unsqueeze(-1) * f * c_prev + i * g
    return c, o * torch.tanh(c)


class _Recurrent(CaffeLayer):
    lstm = False

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.recurrent_param
        self.n = p.num_output
        self.expose = p.expose_hidden
        self.nstates = 2 if self.lstm else 1
        self.static = len(bottom_shapes) == 2 + (self.nstates if self.expose else 0) + 1
        wf = p.weight_filler if p.HasField('weight_filler') else None
        bf = p.bias_filler if p.HasField('bias_filler') else None
        shapes = self.sized(self.record.blobs, lp, bottom_shapes)
        fillers = [wf, bf] + ([wf] if self.static else []) + ([wf] if self.lstm else [wf, wf, bf])
        for shape, filler in zip(shapes, fillers):
            self.add_blob(shape, filler)
        n = bottom_shapes[0][1]
        self._carried = [torch.zeros((1, n, self.n), dtype=ctx.dtype, device=ctx.device)
                         for _ in range(self.nstates)]

    def forward(self, x, cont, *rest):
        T, N = x.shape[:2]
        blobs = list(self.blobs)
        w_x, b = blobs[0], blobs[1]
        static = rest[0] if self.static else None
        states = [r.detach() for r in rest[1 if self.static else 0:]] if self.expose else \
            [s.to(x.device) if s.shape[1] == N else x.new_zeros((1, N, self.n)) for s in self._carried]
        k = 2
        xin = F.linear(x.reshape(T, N, -1), w_x, b)
        if self.static:
            xin = xin + F.linear(static.reshape(N, -1), blobs[k]).unsqueeze(0)
            k += 1
        w_h = blobs[k]
        cont = cont.detach().reshape(T, N).to(x.dtype)
        h = states[0].reshape(N, self.n)
        c = states[1].reshape(N, self.n) if self.lstm else None
        outs = []
        for t in range(T):
            pre = F.linear(cont[t].unsqueeze(-1) * h, w_h) + xin[t]
            if self.lstm:
                c, h = _lstm_step(c, pre, cont[t])
                outs.append(h)
            else:
                h = torch.tanh(pre)
                outs.append(torch.tanh(F.linear(h, blobs[k + 1], blobs[k + 2])))
        final = [h.reshape(1, N, self.n)] + ([c.reshape(1, N, self.n)] if self.lstm else [])
        if not self.expose and not getattr(self.ctx, 'replaying', False):
            self._carried = [s.detach() for s in final]
        top = torch.stack(outs, 0)
        return (top,) + (tuple(f.detach() for f in final) if self.expose else ())


@register
class RNN(_Recurrent):
    type_name = 'RNN'


@register
class LSTM(_Recurrent):
    type_name = 'LSTM'
    lstm = True


@register
class LSTMUnit(CaffeLayer):
    """One LSTM step: bottoms c_{t-1} (1 x N x D), the gate inputs (1 x N x 4D, ordered i, f, o, g) and cont
    (1 x N); tops c_t and h_t. cont gets no diff."""
    type_name = 'LSTMUnit'

    def forward(self, c_prev, gates, cont):
        c, h = _lstm_step(c_prev, gates, cont.detach().reshape(c_prev.shape[:-1]).to(c_prev.dtype))
        return c, h
