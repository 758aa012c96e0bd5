"""Readers shared by the data layers and the loader: images -> preprocessed float arrays, labels -> uint8 maps.

Every reader names the file it failed on and the layout that was expected (``layout`` is a short description
supplied by the dataset)."""
import os

import numpy as np
from PIL import Image

from netspec.environ import environment_kept

with environment_kept():       # scipy.io imports threadpoolctl when installed, which sets KMP_DUPLICATE_LIB_OK
    import scipy.io


class DatasetError(FileNotFoundError):
    """A dataset folder, split file, image or label is missing or malformed."""


def _expected(layout):
    """The message's tail that describes the expected layout (nothing when there is no description)."""
    return f'\nexpected layout:\n{layout}' if layout and layout.strip() else ''


def require(path, what, layout):
    """Raise DatasetError naming `path` unless it exists."""
    if not os.path.exists(path):
        raise DatasetError(f'missing {what}: {path}{_expected(layout)}')
    return path


def read_split(path, layout):
    """Ids of a split file, one per line (blank lines skipped), in file order."""
    require(path, 'split file', layout)
    with open(path) as f:
        ids = [line.strip() for line in f if line.strip()]
    if not ids:
        raise DatasetError(f'split file {path} lists no ids{_expected(layout)}')
    return ids


def open_image(path, what, layout):
    require(path, what, layout)
    try:
        im = Image.open(path)
        im.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        # DecompressionBombError: a header that claims more pixels than PIL's limit; SyntaxError / ValueError:
        # some corrupt files
        raise DatasetError(f'cannot read {what} {path}: {e}') from None
    return im


def load_bgr(path, mean, layout, what='image', reverse=True):
    """The reference preprocessing: PIL -> float32 HxWx3 (RGB) -> channels reversed to BGR -> minus mean -> 3xHxW.

    `mean` keeps its own dtype, as in the reference: the VOC layers subtract a float64 array (computed in float64,
    stored back in float32), the others a float32 one. reverse=False keeps the file's channel order (HHA)."""
    im = open_image(path, what, layout)
    if im.mode != 'RGB':  # the reference assumes RGB files; grey or RGBA ones are converted rather than failing
        im = im.convert('RGB')
    in_ = np.array(im, dtype=np.float32)
    if reverse:
        in_ = in_[:, :, ::-1]
    in_ -= mean
    return in_.transpose((2, 0, 1))


def load_png_indices(path, layout, what='label'):
    """A paletted (or greyscale) PNG's raw pixel values as uint8 HxW (VOC: class ids 0..20, 255 = void)."""
    im = open_image(path, what, layout)
    if im.mode not in ('P', 'L'):
        raise DatasetError(f'{what} {path} has PIL mode {im.mode!r}; expected a paletted (P) or greyscale (L) PNG '
                           f'whose pixel values are class ids{_expected(layout)}')
    return np.array(im, dtype=np.uint8)


def loadmat_key(path, key, layout, what='label'):
    """scipy.io.loadmat(path)[key], with the file and the key named when either is missing."""
    require(path, what, layout)
    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises several types for corrupt files
        raise DatasetError(f'cannot read {what} {path}: {e}') from None
    if key not in mat:
        keys = sorted(k for k in mat if not k.startswith('__'))
        raise DatasetError(f'{what} {path} has no variable {key!r} (has {keys}){_expected(layout)}')
    return mat[key]
