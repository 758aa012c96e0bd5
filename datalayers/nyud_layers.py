"""The reference NYUDv2 data layer, as a Caffe Python layer on the runtime.

Module and class names are the ones the reference prototxts name in python_param. The reading and
preprocessing live in datalayers.datasets (NYUDSeg); the order and prefetch in datalayers.loader.
"""
import runtime as caffe

from datalayers.base import SegDataLayer
from datalayers.datasets import NYUDSeg


class NYUDSegDataLayer(SegDataLayer, caffe.Layer):
    """Tops as param_str['tops'] asks (color, depth, hha, label); see datalayers.datasets.NYUDSeg."""
    dataset_class = NYUDSeg
