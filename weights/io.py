"""Weight files by extension, as Caffe chooses: *.h5 is HDF5, *.pth / *.pt a torch state_dict, anything else a
binary .caffemodel."""
import os

from .caffemodel import read_caffemodel, write_caffemodel
from .errors import WeightsError
from .hdf5 import read_h5, write_h5
from .pth import read_pth, write_pth

_MAGIC = {b'\x89HDF': 'an HDF5 file', b'PK\x03\x04': 'a zip archive (a PyTorch checkpoint?)'}


def format_of(path):
    """'h5', 'pth' or 'caffemodel' for a weight-file path."""
    path = os.fspath(path).lower()
    if path.endswith('.h5'):
        return 'h5'
    if path.endswith(('.pth', '.pt')):
        return 'pth'
    return 'caffemodel'


def _sniff(path):
    try:
        with open(path, 'rb') as f:
            head = f.read(512)
    except OSError:
        return None
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return what
    if head.lstrip()[:1].isalpha() and all(32 <= c < 127 or c in b'\t\r\n' for c in head):
        return 'a text file (a prototxt?)'
    return None


def read_weights(path):
    """OrderedDict {layer name: [np.ndarray]} in the file's layer order, blobs in Caffe's order and stored shapes."""
    path = os.fspath(path)
    fmt = format_of(path)
    if fmt == 'h5':
        return read_h5(path)
    if fmt == 'pth':
        return read_pth(path)
    try:
        return read_caffemodel(path)
    except WeightsError as e:
        what = _sniff(path) if 'not a caffemodel' in str(e) else None
        if what:
            raise WeightsError(f'{e} (the file looks like {what})') from None
        raise


def write_weights(path, arrays, net_param=None):
    """Write {layer name: [array or tensor]} by extension, atomically (a failure leaves `path` untouched).

    net_param (a NetParameter), when given, sets the layer order and, for .caffemodel, the full layer settings
    Caffe's Net::ToProto writes; for .h5 it adds empty groups for parameterless layers.
    """
    path = os.fspath(path)
    fmt = format_of(path)
    writer = {'h5': write_h5, 'pth': write_pth, 'caffemodel': write_caffemodel}[fmt]
    writer(path, arrays, net_param)
