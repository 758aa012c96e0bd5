"""The VOC colour palette and label visualisation (the reference vis.py's make_palette, color_seg, vis_seg)."""
import numpy as np
from PIL import Image

from netspec.atomic import atomic_path


def make_palette(num_classes=256):
    """The standard VOC colormap: for class k, bits 0, 1, 2 of each 3-bit group of k go, from the MSB down, into
    R, G, B. Returns uint8 num_classes x 3."""
    k = np.arange(num_classes, dtype=np.int64)
    palette = np.zeros((num_classes, 3), dtype=np.int64)
    label = k.copy()
    for i in range(8):
        for c in range(3):
            palette[:, c] |= ((label >> c) & 1) << (7 - i)
        label >>= 3
    return palette.astype(np.uint8)


def color_seg(seg, palette):
    """Class ids (H x W) -> colours (H x W x 3, uint8); ids beyond the palette wrap modulo its length."""
    seg = np.asarray(seg).astype(np.int64)
    return palette[seg % len(palette)]


def vis_seg(img, seg, palette, alpha=0.5):
    """The image with the palette colour alpha-blended onto pixels of class > 0 (uint8 H x W x 3)."""
    vis = np.array(img, dtype=np.float32)
    seg = np.asarray(seg).astype(np.int64)
    mask = seg > 0
    vis[mask] *= 1. - alpha
    vis[mask] += alpha * palette[seg[mask] % len(palette)]
    return vis.astype(np.uint8)


def save_indexed_png(path, seg, palette=None):
    """An 8-bit paletted PNG of class ids (the VOC palette by default), written atomically (netspec.atomic: the
    umask's mode, as any other file; a failed write names the file)."""
    im = Image.fromarray(np.asarray(seg, dtype=np.uint8), mode='P')
    im.putpalette((make_palette(256) if palette is None else np.asarray(palette, np.uint8)).ravel().tolist())
    save_image(im, path)


def save_image(im, path, kind='label PNG'):
    """Save a PIL image as PNG, atomically (see save_indexed_png)."""
    with atomic_path(path, kind) as tmp:
        im.save(tmp, format='PNG')
