"""What a net sees: the reference Python data layers, a prefetching loader and synthetic datasets.

- Layers (python_param module/layer as in the reference prototxts): voc_layers.VOCSegDataLayer,
  voc_layers.SBDDSegDataLayer, siftflow_layers.SIFTFlowSegDataLayer, nyud_layers.NYUDSegDataLayer,
  pascalcontext_layers.PASCALContextSegDataLayer. They import the runtime (``import runtime as caffe``); this
  package's own namespace does not, so datasets, loaders and the synthetic generator work without it.
- Datasets (datasets.py): VOCSeg, SBDDSeg, SIFTFlowSeg, NYUDSeg, PASCALContextSeg, built from a param dict;
  ``ids``, ``order()`` (the reference's sample order), ``load(i)`` -> float32 1 x C x H x W arrays per top.
  ``dataset_from_layer(module, layer, param_str)`` / ``dataset_for_net(net_param)`` build one from a net.
- Loader (loader.py): ``SegLoader(dataset, prefetch=4, workers=2, processes=False, limit=None)`` iterates
  {top: array} in the layer's order with background reads; the layers read through the same SampleStream.
- Synthetic data (synthetic.py): make_voc, make_siftflow, make_nyud, make_pascalcontext, make_all.
- Reference layers (reference.py): ``LAYERS`` (python_param module, layer) -> dataset class, from the family
  records of netspec.models; ``data_layers(net_param)``; ``rebase_net(net_param, root)`` points a net's data layers
  at a dataset root (the reference's data/).
- A user's own dataset (own.py, own_layers.py): a description file (JSON or YAML) read by ``load_description``
  into a ``Description`` (classes, splits, mean, ``family()``); ``OwnSeg`` the dataset, own_layers.OwnSegDataLayer
  its layer (python_param module 'own_layers'); ``family_for_net(net_param)`` a net's family, reference or own;
  synthetic.make_own writes a small one in each form.
- Class names (classes.py): re-exported from netspec.models.classes.
"""
from .datasets import (SegDataset, VOCSeg, SBDDSeg, SIFTFlowSeg, NYUDSeg, PASCALContextSeg, VOC_MEAN,
                       CONTEXT_RENAMES)
from .io import DatasetError
from .loader import SampleStream, SegLoader
from .order import SampleOrder, randomized
from netspec.param_str import dir_keys, parse_param_str, rebase_param_str, rebase_path
from .own import Description, OwnSeg, load_description
from .reference import LAYERS, data_layers, dataset_for_net, dataset_from_layer, family_for_net, rebase_net

__all__ = ['SegDataset', 'VOCSeg', 'SBDDSeg', 'SIFTFlowSeg', 'NYUDSeg', 'PASCALContextSeg', 'VOC_MEAN',
           'CONTEXT_RENAMES', 'DatasetError', 'SampleStream', 'SegLoader', 'SampleOrder', 'randomized', 'dir_keys',
           'parse_param_str', 'rebase_param_str', 'rebase_path', 'LAYERS', 'data_layers',
           'dataset_for_net', 'dataset_from_layer', 'family_for_net', 'rebase_net', 'Description', 'OwnSeg',
           'load_description']
