"""Records of the element-wise (neuron) layers: one bottom, one top of its shape, computable in place."""
from ..sizes import ShapeError, like_bottom
from .record import SAME, LayerType, define


def _prelu_blobs(lp, bottoms):
    s = tuple(bottoms[0])
    if len(s) < 2:
        raise ShapeError(f'needs a bottom with a channel axis (at least 2 axes), got shape {s}')
    return [() if lp.prelu_param.channel_shared else (s[1],)]   # Caffe: a 0-axis blob when shared


def _neuron(name, params=(), blobs=None, backward=True, spatial=SAME):
    extra = {} if blobs is None else {'blobs': blobs}
    return define(LayerType(name, params, like_bottom, spatial=spatial, backward=backward, **extra))


_neuron('ReLU', ('relu_param',))
_neuron('Sigmoid', ('sigmoid_param',))
_neuron('TanH', ('tanh_param',))
_neuron('Power', ('power_param',))
_neuron('Dropout', ('dropout_param',))
_neuron('AbsVal')
_neuron('BNLL')
_neuron('ELU', ('elu_param',))
_neuron('Exp', ('exp_param',))
_neuron('Log', ('log_param',))
_neuron('PReLU', ('prelu_param',), blobs=_prelu_blobs)
_neuron('Threshold', ('threshold_param',), backward=False)   # Caffe's ThresholdLayer has no backward

# added to Caffe after 1.0 (absent from the oracle's fork): they follow Caffe's clip_layer.cpp and swish_layer.cpp;
# Caffe's coord_map does not list them, so no crop maps through them
_neuron('Clip', ('clip_param',), spatial=None)
_neuron('Swish', ('swish_param',), spatial=None)
