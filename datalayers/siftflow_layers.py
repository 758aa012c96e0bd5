"""The reference SIFT Flow data layer, as a Caffe Python layer on the runtime.

Module and class names are the ones the reference prototxts name in python_param. The reading and
preprocessing live in datalayers.datasets (SIFTFlowSeg); the order and prefetch in datalayers.loader.
"""
import runtime as caffe

from datalayers.base import SegDataLayer
from datalayers.datasets import SIFTFlowSeg


class SIFTFlowSegDataLayer(SegDataLayer, caffe.Layer):
    """Tops data, sem, geo; param_str keys as in the reference prototxts (see datalayers.datasets.SIFTFlowSeg)."""
    dataset_class = SIFTFlowSeg
