"""Records of the recurrent layers: RNN, LSTM (Caffe's RecurrentLayer) and LSTMUnit."""
import math

from ..sizes import ShapeError
from .record import LayerType, define


def _recurrent(lp, bottoms):
    """x is T x N x ...; cont T x N; the optional static input N x ...; with expose_hidden, the initial hidden
    (and cell) states 1 x N x num_output in, the final ones out."""
    x, cont = tuple(bottoms[0]), tuple(bottoms[1])
    p = lp.recurrent_param
    if len(x) < 2:
        raise ShapeError(f'the input must be T x N x ..., got shape {x}')
    if cont != x[:2]:
        raise ShapeError(f'the sequence continuation indicators must be T x N = {x[:2]}, got {cont}')
    if not p.num_output:
        raise ShapeError('recurrent_param.num_output must be given and positive')
    states = 2 if lp.type == 'LSTM' else 1
    fixed = 2 + (states if p.expose_hidden else 0)
    if len(bottoms) not in (fixed, fixed + 1):
        raise ShapeError(f'needs {fixed} or {fixed + 1} bottoms (x, cont, [static input]'
                         f'{", initial states" if p.expose_hidden else ""}), has {len(bottoms)}')
    hidden = (1, x[1], p.num_output)
    return [x[:2] + (p.num_output,)] + ([hidden] * states if p.expose_hidden else [])


def _recurrent_blobs(lp, bottoms):
    """RNN: W_xh, b_h, [W_xh_static], W_hh, W_ho, b_o; LSTM: W_xc, b_c, [W_xc_static], W_hc (the unrolled net's
    parameters in Caffe's order; LSTM's gates are 4 x num_output)."""
    x = tuple(bottoms[0])
    p = lp.recurrent_param
    n = p.num_output
    lstm = lp.type == 'LSTM'
    gates = 4 * n if lstm else n
    states = 2 if lstm else 1
    static = len(bottoms) == 2 + (states if p.expose_hidden else 0) + 1
    blobs = [(gates, math.prod(x[2:])), (gates,)]
    if static:
        blobs.append((gates, math.prod(tuple(bottoms[2])[1:])))
    if lstm:
        return blobs + [(gates, n)]
    return blobs + [(n, n), (n, n), (n,)]


def _lstm_unit(lp, bottoms):
    c, x, cont = (tuple(s) for s in bottoms)
    if len(c) != 3 or c[0] != 1:
        raise ShapeError(f'the previous cell state must be 1 x N x D, got {c}')
    if x != c[:2] + (4 * c[2],):
        raise ShapeError(f'the gate inputs must be 1 x N x 4D = {c[:2] + (4 * c[2],)}, got {x}')
    if cont != c[:2]:
        raise ShapeError(f'the continuation indicators must be 1 x N = {c[:2]}, got {cont}')
    return [c, c]


define(LayerType('RNN', ('recurrent_param',), _recurrent, _recurrent_blobs, bottoms=(2, 4), top_count=(1, 2),
                 no_diff=(1,)))
define(LayerType('LSTM', ('recurrent_param',), _recurrent, _recurrent_blobs, bottoms=(2, 5), top_count=(1, 3),
                 no_diff=(1,)))
define(LayerType('LSTMUnit', (), _lstm_unit, bottoms=(3, 3), top_count=(2, 2), no_diff=(2,)))
