"""The reference PASCAL-Context data layer, as a Caffe Python layer on the runtime.

Module and class names are the ones the reference prototxts name in python_param. The reading and
preprocessing live in datalayers.datasets (PASCALContextSeg); the order and prefetch in datalayers.loader.
"""
import runtime as caffe

from datalayers.base import SegDataLayer
from datalayers.datasets import PASCALContextSeg


class PASCALContextSegDataLayer(SegDataLayer, caffe.Layer):
    """Tops data, label; param_str keys as in the reference prototxts (see datalayers.datasets.PASCALContextSeg)."""
    dataset_class = PASCALContextSeg
