"""How a net runs: a Caffe NetParameter turned into a PyTorch graph with Caffe's forward and backward.

    from runtime import Net, Layer, TRAIN, TEST
    net = Net('train.prototxt', phase='train')
    net.forward(data=image, label=label); net.backward()

`import runtime as caffe` also serves Caffe Python layers (`class X(caffe.Layer)`).
"""
from .phase import TRAIN, TEST, Phase, phase_of
from .layers.python import Layer, Blob
from .layers import REGISTRY, register, UnsupportedLayerError
from .state import filter_net, upgrade_net, with_inputs
from .net import Net

__all__ = ['Net', 'Layer', 'Blob', 'TRAIN', 'TEST', 'REGISTRY', 'register', 'filter_net', 'upgrade_net',
           'UnsupportedLayerError', 'phase_of', 'with_inputs']
