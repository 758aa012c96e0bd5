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
- Paths: ``rebase_net(net_param, root)`` points a net's data layers at a dataset root (the reference's data/).
"""
from .datasets import (SegDataset, VOCSeg, SBDDSeg, SIFTFlowSeg, NYUDSeg, PASCALContextSeg, VOC_MEAN,
                       CONTEXT_RENAMES)
from .io import DatasetError
from .loader import SampleStream, SegLoader
from .order import SampleOrder, randomized
from .params import parse_param_str, rebase_param_str, rebase_path, DIR_KEYS

#: (python_param module, layer) -> dataset class
LAYERS = {
    ('voc_layers', 'VOCSegDataLayer'): VOCSeg,
    ('voc_layers', 'SBDDSegDataLayer'): SBDDSeg,
    ('siftflow_layers', 'SIFTFlowSegDataLayer'): SIFTFlowSeg,
    ('nyud_layers', 'NYUDSegDataLayer'): NYUDSeg,
    ('pascalcontext_layers', 'PASCALContextSegDataLayer'): PASCALContextSeg,
}


def dataset_from_layer(module, layer, param_str):
    """The dataset a reference data layer (python_param module/layer/param_str) reads."""
    module = module.rsplit('.', 1)[-1]
    try:
        cls = LAYERS[(module, layer)]
    except KeyError:
        raise ValueError(f'no dataset for Python layer {module}.{layer}; known: '
                         f'{", ".join(m + "." + c for m, c in LAYERS)}') from None
    return cls(parse_param_str(param_str, layer), layer=layer)


def data_layers(net_param):
    """The Python data layers of a NetParameter (layers of type Python listed in LAYERS)."""
    return [l for l in net_param.layer if l.type == 'Python'
            and (l.python_param.module.rsplit('.', 1)[-1], l.python_param.layer) in LAYERS]


def dataset_for_net(net_param):
    """The dataset of a net's (single) reference data layer."""
    layers = data_layers(net_param)
    if len(layers) != 1:
        raise ValueError(f'expected one reference data layer in net {net_param.name!r}, found {len(layers)}')
    p = layers[0].python_param
    return dataset_from_layer(p.module, p.layer, p.param_str)


def rebase_net(net_param, root):
    """Point every reference data layer of a NetParameter (modified in place) at dataset root `root` (the folder
    the reference calls data/), keeping the other param_str keys."""
    for l in data_layers(net_param):
        l.python_param.param_str = rebase_param_str(l.python_param.param_str, root)
    return net_param
