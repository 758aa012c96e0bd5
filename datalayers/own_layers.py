"""The data layer of a user's own dataset, as a Caffe Python layer on the runtime, in the reference layers' style.

    layer { name: "data" type: "Python" top: "data" top: "label"
            python_param { module: "own_layers" layer: "OwnSegDataLayer"
                           param_str: "{'description': '/data/mine/dataset.json', 'split': 'train', 'seed': 1337}" } }

param_str keys: 'description' (the description file, datalayers.own; a relative path is taken from the current
directory), 'split' (a split the description names), 'seed', 'randomize' (training splits draw at random, as the
reference layers do), and the keys every reference layer takes ('prefetch', 'workers', 'mirror', 'jitter';
datalayers.base). The reading lives in datalayers.own.OwnSeg, the order and prefetch in datalayers.loader.
"""
import runtime as caffe

from datalayers.base import SegDataLayer
from datalayers.own import OwnSeg


class OwnSegDataLayer(SegDataLayer, caffe.Layer):
    """Tops data (minus the description's mean; colour images as BGR), label (map_to_ignore applied)."""
    dataset_class = OwnSeg
