"""Caffe's HDF5 weight layout (Net::ToHDF5 / CopyTrainedLayersFromHDF5).

Root group `data` -> one group per layer name (parameterless layers get empty groups) -> datasets "0", "1", ...
shaped like the blobs, float32. h5py lists groups in name order, as HDF5 (and so Caffe) iterates them.
"""
import collections
import os

import h5py
import numpy as np

from .atomic import atomic_path
from .caffemodel import layer_plan
from .errors import WeightsError


def open_h5(path, kind):
    path = os.fspath(path)
    try:
        return h5py.File(path, 'r')
    except FileNotFoundError:
        raise WeightsError(f'{path}: cannot read {kind}: no such file') from None
    except OSError as e:
        raise WeightsError(f'{path}: not an HDF5 {kind} ({e})') from None


def read_indexed_group(group, path, what):
    """[arrays] from datasets named 0..n-1 in `group`; a clear error for any other layout."""
    names = list(group.keys())
    try:
        idx = sorted(int(n) for n in names)
    except ValueError:
        raise WeightsError(f'{path}: {what} holds {names}, expected datasets named 0, 1, ... '
                           f'(Caffe\'s HDF5 layout)') from None
    if idx != list(range(len(idx))):
        raise WeightsError(f'{path}: {what} holds blobs {idx}, expected 0..{len(idx) - 1} with none missing')
    out = []
    for i in idx:
        ds = group[str(i)]
        if not isinstance(ds, h5py.Dataset):
            raise WeightsError(f'{path}: {what} entry {i} is a group, expected a dataset')
        out.append(np.asarray(ds[()]))
    return out


def read_h5(path):
    """{layer name: [np.ndarray]} from a Caffe .h5 / .caffemodel.h5 (empty lists for parameterless layers)."""
    path = os.fspath(path)
    with open_h5(path, 'weight file') as f:
        if 'data' not in f or not isinstance(f['data'], h5py.Group):
            raise WeightsError(f'{path}: not Caffe\'s HDF5 weight layout: no group "data" '
                               f'(top level holds {sorted(f.keys())}; expected data/<layer name>/<blob index>)')
        arrays = collections.OrderedDict()
        for name, group in f['data'].items():
            if not isinstance(group, h5py.Group):
                raise WeightsError(f'{path}: data/{name} is a dataset, expected a group of blobs '
                                   f'(data/<layer name>/<blob index>)')
            arrays[name] = read_indexed_group(group, path, f'layer {name!r} (data/{name})')
    return arrays


def to_numpy(a):
    if hasattr(a, 'detach'):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def write_h5(path, arrays, net_param=None):
    """Write {layer: [arrays]} in Caffe's HDF5 layout, atomically. Blobs are stored as float32."""
    path = os.fspath(path)
    plan = layer_plan(arrays, net_param)
    with atomic_path(path, 'HDF5 weight file') as tmp:
        with h5py.File(tmp, 'w') as f:
            data = f.create_group('data')
            for name, _, blobs in plan:
                g = data.create_group(name)
                for i, b in enumerate(blobs):
                    g.create_dataset(str(i), data=np.ascontiguousarray(to_numpy(b), dtype=np.float32))
