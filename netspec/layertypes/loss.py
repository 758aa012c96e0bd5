"""Records of the loss layers (Caffe's LossLayer: a scalar top weighing 1 by default, labels that no backward
reaches) and of Accuracy."""
import math

from ..sizes import ShapeError, canonical_axis
from .record import LayerType, define


def _softmax_loss(lp, bottoms):
    s = tuple(bottoms[0])
    axis = canonical_axis(lp.softmax_param.axis, len(s))
    outer, inner = math.prod(s[:axis]), math.prod(s[axis + 1:])
    if math.prod(bottoms[1]) != outer * inner:
        raise ShapeError(f'the label shape {tuple(bottoms[1])} does not match the prediction shape {s} '
                         f'(needs {outer * inner} values)')
    return [()] + ([s] if len(lp.top) > 1 else [])


def _accuracy(lp, bottoms):
    s = tuple(bottoms[0])
    axis = canonical_axis(lp.accuracy_param.axis, len(s))
    if math.prod(bottoms[1]) != math.prod(s[:axis]) * math.prod(s[axis + 1:]):
        raise ShapeError(f'the label shape {tuple(bottoms[1])} does not match the prediction shape {s}')
    if lp.accuracy_param.top_k > s[axis]:
        raise ShapeError(f'top_k {lp.accuracy_param.top_k} exceeds the {s[axis]} classes')
    return [()] + ([(s[axis],)] if len(lp.top) > 1 else [])


def _loss(lp, bottoms):
    """LossLayer::Reshape: the data and the label have the same first dimension; the top is a scalar."""
    if len(bottoms[0]) and len(bottoms[1]) and bottoms[0][0] != bottoms[1][0]:
        raise ShapeError(f'the data and label should have the same first dimension (shapes {tuple(bottoms[0])} '
                         f'and {tuple(bottoms[1])})')
    return [()]


def _same_count(lp, bottoms):
    """The two inputs have the same number of values (EuclideanLoss, SigmoidCrossEntropyLoss)."""
    if math.prod(bottoms[0]) != math.prod(bottoms[1]):
        raise ShapeError(f'the two inputs must have the same count (shapes {tuple(bottoms[0])} and '
                         f'{tuple(bottoms[1])})')
    return _loss(lp, bottoms)


def _contrastive(lp, bottoms):
    a, b, y = (tuple(s) for s in bottoms)
    if a != b or len(a) < 2 or math.prod(a[2:]) != 1:
        raise ShapeError(f'the two features must have one shape N x C (x 1 x 1), got {a} and {b}')
    if y[0] != a[0] or math.prod(y[1:]) != 1:
        raise ShapeError(f'the similarity label must have shape N (x 1 ...), got {y}')
    return [()]


def _infogain(lp, bottoms):
    out = _loss(lp, bottoms)
    if len(bottoms) == 3:
        h = tuple(bottoms[2])
        n = math.prod(bottoms[0][1:])
        if math.prod(h) != n * n:
            raise ShapeError(f'the infogain matrix H (bottom 2) must be {n} x {n}, got shape {h}')
    return out


def _loss_type(name, params, tops, **kw):
    return define(LayerType(name, params + ('loss_param',), tops, bottoms=kw.pop('bottoms', (2, 2)), loss=True,
                            no_diff=kw.pop('no_diff', (1,)), **kw))


_loss_type('SoftmaxWithLoss', ('softmax_param',), _softmax_loss, top_count=(1, 2))
_loss_type('EuclideanLoss', (), _same_count, no_diff=())
_loss_type('SigmoidCrossEntropyLoss', (), _same_count)
_loss_type('InfogainLoss', ('infogain_loss_param',), _infogain, bottoms=(2, 3), no_diff=(1, 2))
_loss_type('HingeLoss', ('hinge_loss_param',), _loss)
_loss_type('ContrastiveLoss', ('contrastive_loss_param',), _contrastive, bottoms=(3, 3), no_diff=(2,))
_loss_type('MultinomialLogisticLoss', (), _loss)
define(LayerType('Accuracy', ('accuracy_param',), _accuracy, bottoms=(2, 2), top_count=(1, 2), backward=False))
