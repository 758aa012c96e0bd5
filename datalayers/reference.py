"""The reference data layers in a net: which dataset class each python_param module/layer reads (the names come
from the dataset-family records, netspec.models.REFERENCE_LAYERS, and the own-data layer's record OWN_LAYER),
finding those layers in a NetParameter, and pointing them at a dataset root."""
from netspec.models import OWN_LAYER, REFERENCE_LAYERS, family_of_net

from . import datasets, own
from netspec.param_str import parse_param_str, rebase_param_str

__all__ = ['LAYERS', 'dataset_from_layer', 'data_layers', 'dataset_for_net', 'family_for_net', 'rebase_net']

#: (python_param module, layer) -> the datalayers.datasets class that reads it, for every family's data layers
LAYERS = {key: getattr(datasets, ref.dataset) for key, ref in REFERENCE_LAYERS.items()}
LAYERS[(OWN_LAYER.module, OWN_LAYER.layer)] = getattr(own, OWN_LAYER.dataset)


def _key(python_param):
    return python_param.module.rsplit('.', 1)[-1], python_param.layer


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
    return [l for l in net_param.layer if l.type == 'Python' and _key(l.python_param) in LAYERS]


def dataset_for_net(net_param):
    """The dataset of a net's (single) reference data layer."""
    layers = data_layers(net_param)
    if len(layers) != 1:
        raise ValueError(f'expected one reference data layer in net {net_param.name!r}, found {len(layers)}')
    p = layers[0].python_param
    return dataset_from_layer(p.module, p.layer, p.param_str)


def family_for_net(net_param):
    """The DatasetFamily a net reads: its reference family (netspec.models.family_of_net), or for a net fed by
    the own-data layer the family of that layer's description file (datalayers.own.Description.family); None
    for a net without a data layer."""
    fam = family_of_net(net_param)
    if fam is not None:
        return fam
    own = [l for l in data_layers(net_param) if _key(l.python_param) == (OWN_LAYER.module, OWN_LAYER.layer)]
    if not own:
        return None
    p = own[0].python_param
    return dataset_from_layer(p.module, p.layer, p.param_str).family


def rebase_net(net_param, root):
    """Point every reference data layer of a NetParameter (modified in place) at dataset root `root` (the folder
    the reference calls data/), keeping the other param_str keys."""
    for l in data_layers(net_param):
        l.python_param.param_str = rebase_param_str(l.python_param.param_str, root)
    return net_param
