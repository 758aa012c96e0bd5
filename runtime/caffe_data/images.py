"""Images read as Caffe's io.cpp reads them: OpenCV's imread / imdecode (colour images in BGR order) and cv::resize
with its default bilinear interpolation, returned as (C, H, W) uint8 arrays.

PNG, BMP and other lossless files decode to the same bytes in any OpenCV; JPEG decoding depends on the libjpeg
OpenCV was built with (opencv-python-headless bundles libjpeg-turbo), so JPEG pixels can differ by a few levels
from another Caffe build's.
"""
import os

import numpy as np

from netspec.environ import environment_kept


def cv2_module():
    """OpenCV, imported with the process environment kept as it was (opencv-python's loader adds its library folder
    to LD_LIBRARY_PATH in os.environ, which every child process would then inherit)."""
    try:
        with environment_kept():
            import cv2
    except ImportError:
        raise ImportError('reading images as Caffe does needs OpenCV: pip install opencv-python-headless') from None
    return cv2


def _chw(img):
    if img.ndim == 2:
        return img[None]
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def read_image(path, height=0, width=0, is_color=True, where=None):
    """ReadImageToCVMat(path, height, width, is_color): imread in colour (3 channels, BGR) or grayscale, resized to
    height x width when both are positive; (C, H, W) uint8. A missing or unreadable file raises FileNotFoundError
    naming it (and `where`, e.g. the list file and line)."""
    cv2 = cv2_module()
    img = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR if is_color else cv2.IMREAD_GRAYSCALE)
    if img is None:
        at = f'{where}: ' if where else ''
        what = 'no such file' if not os.path.exists(path) else 'not an image OpenCV can read'
        raise FileNotFoundError(f'{at}could not load the image {os.fspath(path)!r} ({what})')
    if height > 0 and width > 0:
        img = cv2.resize(img, (width, height))
    return _chw(img)


def decode(data, color=None, where='datum'):
    """cv::imdecode of encoded bytes: native channels (color None; DecodeDatumToCVMatNative), colour or grayscale."""
    cv2 = cv2_module()
    flag = cv2.IMREAD_UNCHANGED if color is None else (cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE)
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    if img is None:
        raise ValueError(f'{where}: could not decode the encoded image')
    if img.dtype != np.uint8:
        raise ValueError(f'{where}: the decoded image has {img.dtype} pixels; Caffe transforms only 8-bit images')
    return _chw(img)
