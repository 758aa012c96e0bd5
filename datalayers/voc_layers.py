"""The reference PASCAL VOC and SBD data layers, as Caffe Python layers on the runtime.

Module and class names are the ones the reference prototxts name in python_param. The reading and
preprocessing live in datalayers.datasets (VOCSeg, SBDDSeg); the order and prefetch in datalayers.loader.
"""
import runtime as caffe

from datalayers.base import SegDataLayer
from datalayers.datasets import VOCSeg, SBDDSeg


class VOCSegDataLayer(SegDataLayer, caffe.Layer):
    """Tops data, label; param_str keys as in the reference prototxts (see datalayers.datasets.VOCSeg)."""
    dataset_class = VOCSeg


class SBDDSegDataLayer(SegDataLayer, caffe.Layer):
    """Tops data, label; param_str keys as in the reference prototxts (see datalayers.datasets.SBDDSeg)."""
    dataset_class = SBDDSeg
