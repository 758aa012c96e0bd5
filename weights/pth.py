"""PyTorch checkpoints: a state_dict keyed '<layer name>.<blob index>' (Caffe's blob order and shapes)."""
import collections
import os

import numpy as np
import torch

from .atomic import atomic_file
from .errors import WeightsError


def read_pth(path):
    path = os.fspath(path)
    try:
        sd = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f'{path}: cannot read checkpoint: no such file') from None
    except Exception as e:  # torch raises many types for a bad file
        raise WeightsError(f'{path}: not a PyTorch checkpoint ({type(e).__name__}: {e})') from None
    if isinstance(sd, dict) and set(sd) == {'state_dict'}:
        sd = sd['state_dict']
    if not isinstance(sd, dict):
        raise WeightsError(f'{path}: expected a state_dict (dict of tensors), found {type(sd).__name__}')
    layers = collections.OrderedDict()
    for k, v in sd.items():
        name, _, idx = str(k).rpartition('.')
        if not name or not idx.isdigit() or not isinstance(v, torch.Tensor):
            raise WeightsError(f'{path}: entry {k!r} is not "<layer name>.<blob index>" -> tensor '
                               f'(the layout write_weights and Net.save give .pth files; a module state_dict '
                               f'saved with torch.save is not it)')
        layers.setdefault(name, {})[int(idx)] = v.detach().numpy()
    out = collections.OrderedDict()
    for name, blobs in layers.items():
        if sorted(blobs) != list(range(len(blobs))):
            raise WeightsError(f'{path}: layer {name!r} has blobs {sorted(blobs)}, expected 0..{len(blobs) - 1}')
        out[name] = [blobs[i] for i in range(len(blobs))]
    return out


def write_pth(path, arrays, net_param=None):
    """Write {layer: [arrays]} as a torch state_dict; parameterless layers have no entries."""
    path = os.fspath(path)
    sd = collections.OrderedDict()
    for name, blobs in arrays.items():
        for i, b in enumerate(blobs):
            t = b.detach().cpu() if isinstance(b, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(b))
            sd[f'{name}.{i}'] = t
    with atomic_file(path, 'checkpoint') as f:   # through a Python file: a failed write is an OSError naming it
        torch.save(sd, f)
