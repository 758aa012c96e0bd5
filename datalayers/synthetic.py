"""Small synthetic datasets in the four original on-disk layouts, for tests and the demo.

Each generator writes a dataset under ``root`` (the folder the reference prototxts call ``data/``), laid out
exactly as the reference data layers expect, and returns a dict describing it:

    info = make_voc(root, n_train=8, n_val=4, size=(64, 120), num_classes=21, seed=0)
    info['voc_dir'], info['sbdd_dir']            # the dataset folders (param_str's voc_dir / sbdd_dir)
    info['splits']       # {'train': [ids], 'seg11valid': [ids]}
    info['params']       # {split: param dict for the data layer}, e.g. params['train'] for SBDDSegDataLayer
    info['truth']        # {id: the label map(s) the data layer must yield, uint8 with 255 = void}
    info['num_classes']  # the net's output count for this dataset (21, 33/3, 40, 60)

Generators: make_voc (VOC2011 + SBD), make_siftflow, make_nyud, make_pascalcontext, and make_all; make_own(root,
form) writes a dataset in one of the own-data forms (datalayers.own: 'folders', 'lists', 'npy', 'gray') with its
description file and returns the file's path.

Because the layout under ``root`` is the reference's ``data/`` layout, a reference prototxt runs on it either
from a working directory where its ``../data`` (or ``../../data``) is ``root``, or after
``datalayers.rebase_net(net_param, root)``; ``info['params'][split]`` is the param dict pointing at it directly.
Command line: ``python -m datalayers.synthetic ROOT [--seed S] [--size MIN MAX]`` writes all four.

Images are learnable scenes: each class has its own shape (disk, square or triangle by class id), colour and
stripe texture, drawn on a textured background; where the format has a void label, a band of `void_width`
pixels along every region boundary is void. Everything is determined by `seed`; image sides are drawn from
`size` = (min, max) (or an int for square images of one size).
"""
import argparse
import colorsys
import os

import numpy as np
from PIL import Image

from netspec.environ import environment_kept

with environment_kept():       # scipy.io imports threadpoolctl when installed, which sets KMP_DUPLICATE_LIB_OK
    import scipy.io

from .classes import CONTEXT60
from .datasets import CONTEXT_RENAMES, SIFTFLOW_SUBDIR, VOC_MEAN
from .palette import make_palette

__all__ = ['make_voc', 'make_siftflow', 'make_nyud', 'make_pascalcontext', 'make_all', 'make_own', 'OWN_FORMS',
           'own_class_names', 'own_palette', 'paint_scene', 'class_colour', 'class_shape', 'SHAPES']


# ---------------------------------------------------------------------------------------------------------------
# drawing

def class_colour(c):
    """A fixed colour per class id (0 is a neutral grey-green), independent of the seed."""
    if c == 0:
        return np.array((118., 124., 108.))
    r, g, b = colorsys.hsv_to_rgb((c * 0.6180339887) % 1.0, 0.55 + 0.4 * ((c * 7) % 5) / 4, 0.55 + 0.4 * (c % 3) / 2)
    return np.array((r, g, b)) * 255.


def _smooth_noise(rng, h, w, cell=8):
    small = rng.standard_normal((h // cell + 2, w // cell + 2)).astype(np.float32)
    im = Image.fromarray(small, mode='F').resize((w + 2 * cell, h + 2 * cell), Image.BILINEAR)
    return np.asarray(im, dtype=np.float32)[cell:cell + h, cell:cell + w]


def _stripes(c, yy, xx):
    angle = (c * 0.7) % np.pi
    period = 4. + (c % 5)
    return np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)


#: the shapes of the object classes: class c is drawn as SHAPES[c % 3]
SHAPES = ('disk', 'square', 'triangle')


def class_shape(c):
    """The shape that object class c (>= 1) is drawn as (its colour and stripes come from class_colour)."""
    return SHAPES[c % len(SHAPES)]


def _shape_mask(kind, yy, xx, cy, cx, r):
    if kind == 0:  # disk
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if kind == 1:  # square
        return (np.abs(yy - cy) <= 0.85 * r) & (np.abs(xx - cx) <= 0.85 * r)
    t = (yy - (cy - r)) / (2 * r)  # triangle, apex up: 0 at the apex, 1 at the base
    return (t >= 0) & (t <= 1) & (np.abs(xx - cx) <= t * r)


def paint_scene(rng, h, w, obj_classes, bg_label=None, n_objects=(1, 3)):
    """Paint a scene: background regions from `bg_label` (H x W class ids; all 0 by default), then 1..3 objects
    of classes drawn from `obj_classes`. Returns (uint8 H x W x 3 RGB image, int64 H x W label map)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    label = np.zeros((h, w), np.int64) if bg_label is None else np.array(bg_label, np.int64)
    for _ in range(int(rng.integers(n_objects[0], n_objects[1] + 1)) if len(obj_classes) else 0):
        c = int(obj_classes[rng.integers(len(obj_classes))])
        r = float(rng.uniform(0.18, 0.32)) * min(h, w)
        cy, cx = float(rng.uniform(r, h - r)), float(rng.uniform(r, w - r))
        label[_shape_mask(c % 3, yy, xx, cy, cx, r)] = c
    img = np.zeros((h, w, 3), np.float32)
    for c in np.unique(label):
        m = label == c
        tex = 0.82 + 0.18 * _stripes(int(c), yy[m], xx[m]) if c else 1.0
        img[m] = class_colour(int(c))[None] * (tex if np.isscalar(tex) else tex[:, None])
    shade = _smooth_noise(rng, h, w)
    img += 14. * shade[..., None] + rng.normal(0., 4., (h, w, 3)).astype(np.float32)
    return np.clip(img, 0, 255).round().astype(np.uint8), label


def void_band(label, width):
    """Pixels within `width` (chessboard distance) of a pixel with another label: VOC-style void borders."""
    if width <= 0:
        return np.zeros(label.shape, bool)
    p = np.pad(label, width, mode='edge')
    h, w = label.shape
    band = np.zeros(label.shape, bool)
    for dy in range(-width, width + 1):
        for dx in range(-width, width + 1):
            band |= p[width + dy:width + dy + h, width + dx:width + dx + w] != label
    return band


def _size(rng, size):
    if np.isscalar(size):
        return int(size), int(size)
    lo, hi = size
    return int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))


def _mkdirs(*dirs):
    for d in dirs:
        os.makedirs(d, exist_ok=True)


def _write_split(path, ids):
    with open(path, 'w') as f:
        f.write(''.join(f'{i}\n' for i in ids))


def _savemat(path, variables):
    """scipy.io.savemat with a fixed header text (scipy writes the creation time there), so files are
    byte-identical for a given seed."""
    scipy.io.savemat(path, variables, do_compression=True)
    with open(path, 'r+b') as f:
        f.write(b'MATLAB 5.0 MAT-file, written by datalayers.synthetic'.ljust(116))


def _save_jpeg(path, img):
    Image.fromarray(img, 'RGB').save(path, format='JPEG', quality=92)


# ---------------------------------------------------------------------------------------------------------------
# VOC2011 + SBD

def make_voc(root, n_train=8, n_val=4, size=(64, 120), num_classes=21, seed=0, void_width=2):
    """PASCAL VOC2011 (eval, split seg11valid) and SBD (train, split train) under root/pascal/VOC2011 and
    root/sbdd/dataset. Objects use classes 1..num_classes-1 (<= 20); VOC labels are paletted PNGs with void
    borders 255, SBD labels are cls/<id>.mat structs GTcls.Segmentation without void."""
    if not 2 <= num_classes <= 21:
        raise ValueError('make_voc: num_classes must be in 2..21')
    rng = np.random.default_rng(seed)
    voc, sbd = os.path.join(root, 'pascal', 'VOC2011'), os.path.join(root, 'sbdd', 'dataset')
    _mkdirs(f'{voc}/JPEGImages', f'{voc}/SegmentationClass', f'{voc}/ImageSets/Segmentation', f'{sbd}/img',
            f'{sbd}/cls')
    classes = np.arange(1, num_classes)
    truth = {}
    train_ids = [f'2008_{i:06d}' for i in range(1, n_train + 1)]
    for idx in train_ids:
        img, label = paint_scene(rng, *_size(rng, size), classes)
        _save_jpeg(f'{sbd}/img/{idx}.jpg', img)
        gt = {'Segmentation': label.astype(np.uint8), 'Boundaries': np.zeros((num_classes - 1, 1), object),
              'CategoriesPresent': np.unique(label[label > 0]).astype(np.uint8)}
        _savemat(f'{sbd}/cls/{idx}.mat', {'GTcls': gt})
        truth[idx] = label.astype(np.uint8)
    _write_split(f'{sbd}/train.txt', train_ids)
    val_ids = [f'2007_{i:06d}' for i in range(1, n_val + 1)]
    palette = make_palette(256).ravel().tolist()
    for idx in val_ids:
        img, label = paint_scene(rng, *_size(rng, size), classes)
        label = label.astype(np.uint8)
        label[void_band(label, void_width)] = 255
        _save_jpeg(f'{voc}/JPEGImages/{idx}.jpg', img)
        png = Image.fromarray(label, 'P')
        png.putpalette(palette)
        png.save(f'{voc}/SegmentationClass/{idx}.png')
        truth[idx] = label
    _write_split(f'{voc}/ImageSets/Segmentation/seg11valid.txt', val_ids)
    mean = VOC_MEAN
    return {'root': root, 'voc_dir': voc, 'sbdd_dir': sbd, 'num_classes': 21,
            'splits': {'train': train_ids, 'seg11valid': val_ids},
            'params': {'train': {'sbdd_dir': sbd, 'seed': 1337, 'split': 'train', 'mean': mean},
                       'seg11valid': {'voc_dir': voc, 'seed': 1337, 'split': 'seg11valid', 'mean': mean}},
            'layers': {'train': ('voc_layers', 'SBDDSegDataLayer'), 'seg11valid': ('voc_layers', 'VOCSegDataLayer')},
            'truth': truth}


# ---------------------------------------------------------------------------------------------------------------
# SIFT Flow

#: 0-based SIFT Flow semantic classes the generator uses: sky, ground kinds, then objects (cow/desert/moon never)
SIFT_SKY, SIFT_GROUNDS, SIFT_OBJECTS = 27, (21, 24, 13), (5, 31, 7, 17, 16, 3, 19, 32, 12, 29)


def make_siftflow(root, n_trainval=8, n_test=4, size=(64, 120), seed=0, void_width=1, num_objects=10):
    """SIFT Flow under root/sift-flow: sky above a horizon, one ground class below, objects on it (the first
    `num_objects` of SIFT_OBJECTS). Semantic .mat S: 0 void, 1..33; geometric S: -1 void, 1 sky, 2 horizontal,
    3 vertical. Splits trainval.txt and test.txt. Truth: {id: (sem, geo)}, 0-based with 255 = void."""
    rng = np.random.default_rng(seed)
    d = os.path.join(root, 'sift-flow')
    _mkdirs(*(f'{d}/{k}/{SIFTFLOW_SUBDIR}' for k in ('Images', 'SemanticLabels', 'GeoLabels')))
    objects = np.array(SIFT_OBJECTS[:max(0, num_objects)])
    ids = {'trainval': [f'coast_synth{i:03d}' for i in range(n_trainval)],
           'test': [f'street_synth{i:03d}' for i in range(n_test)]}
    truth = {}
    for split, split_ids in ids.items():
        for idx in split_ids:
            h, w = _size(rng, size)
            horizon = int(rng.integers(int(0.35 * h), int(0.6 * h) + 1))
            bg = np.full((h, w), SIFT_SKY, np.int64)
            bg[horizon:] = SIFT_GROUNDS[int(rng.integers(len(SIFT_GROUNDS)))]
            img, sem = paint_scene(rng, h, w, objects, bg_label=bg)
            geo = np.where(sem == SIFT_SKY, 0, np.where(np.isin(sem, SIFT_GROUNDS), 1, 2))
            void = void_band(sem, void_width)
            sem_raw = (sem + 1).astype(np.float64)
            geo_raw = (geo + 1).astype(np.float64)
            sem_raw[void], geo_raw[void] = 0, -1
            _save_jpeg(f'{d}/Images/{SIFTFLOW_SUBDIR}/{idx}.jpg', img)
            _savemat(f'{d}/SemanticLabels/{SIFTFLOW_SUBDIR}/{idx}.mat', {'S': sem_raw})
            _savemat(f'{d}/GeoLabels/{SIFTFLOW_SUBDIR}/{idx}.mat', {'S': geo_raw})
            s, g = sem.astype(np.uint8), geo.astype(np.uint8)
            s[void], g[void] = 255, 255
            truth[idx] = (s, g)
        _write_split(f'{d}/{split}.txt', split_ids)
    return {'root': root, 'siftflow_dir': d, 'num_classes': 33, 'num_geo_classes': 3, 'splits': ids,
            'params': {s: {'siftflow_dir': d, 'seed': 1337, 'split': s} for s in ids},
            'layers': {s: ('siftflow_layers', 'SIFTFlowSegDataLayer') for s in ids}, 'truth': truth}


# ---------------------------------------------------------------------------------------------------------------
# NYUDv2

def make_nyud(root, n_train=6, n_val=2, n_test=4, size=(64, 120), num_classes=12, seed=0, void_width=1,
              tops=('color', 'label')):
    """NYUDv2 under root/nyud: wall (0) above, floor (1) below, objects of classes 2..num_classes-1 (<= 40).
    data/images (RGB PNG), data/depth (16-bit PNG, millimetres, no zeros), data/hha (3-channel PNG),
    segmentation/img_<id>.mat (segmentation: 0 void, 1..40); splits train, val, trainval (= train + val), test.
    Truth: {id: label} 0-based with 255 = void. `tops` only sets info['params']."""
    if not 3 <= num_classes <= 40:
        raise ValueError('make_nyud: num_classes must be in 3..40')
    rng = np.random.default_rng(seed)
    d = os.path.join(root, 'nyud')
    _mkdirs(f'{d}/data/images', f'{d}/data/depth', f'{d}/data/hha', f'{d}/segmentation')
    n = {'train': n_train, 'val': n_val, 'test': n_test}
    ids, start = {}, 5001
    for split in ('train', 'val', 'test'):
        ids[split] = [str(start + i) for i in range(n[split])]
        start += n[split] + 100
    ids['trainval'] = ids['train'] + ids['val']
    truth = {}
    for idx in ids['train'] + ids['val'] + ids['test']:
        h, w = _size(rng, size)
        floor_row = int(rng.integers(int(0.55 * h), int(0.75 * h) + 1))
        bg = np.zeros((h, w), np.int64)
        bg[floor_row:] = 1
        img, label = paint_scene(rng, h, w, np.arange(2, num_classes), bg_label=bg)
        rows = np.arange(h, dtype=np.float64)[:, None] * np.ones((1, w))
        depth = np.full((h, w), float(rng.uniform(2800, 4200)))
        floor_depth = 1200. + (depth[0, 0] - 1200.) * (h - 1 - rows) / max(1, h - 1 - floor_row)
        depth = np.where(label == 1, np.minimum(floor_depth, depth), depth)
        for c in np.unique(label[label >= 2]):
            depth[label == c] = rng.uniform(1000, 2500)
        depth = np.clip(depth + rng.normal(0, 8, depth.shape), 500, 10000)
        depth16 = depth.round().astype(np.uint16)
        angle = np.where(label == 1, 30., np.where(label == 0, 150., 100.))
        height = np.clip(220. * (h - rows) / h, 0, 255)
        hha = np.stack([np.clip(2.5e5 / depth, 0, 255), height, angle], -1) + rng.normal(0, 3, (h, w, 3))
        Image.fromarray(img, 'RGB').save(f'{d}/data/images/img_{idx}.png')
        Image.fromarray(depth16).save(f'{d}/data/depth/img_{idx}.png')
        Image.fromarray(np.clip(hha, 0, 255).round().astype(np.uint8), 'RGB').save(f'{d}/data/hha/img_{idx}.png')
        raw = (label + 1).astype(np.uint8)
        void = void_band(label, void_width)
        raw[void] = 0
        _savemat(f'{d}/segmentation/img_{idx}.mat', {'segmentation': raw})
        t = label.astype(np.uint8)
        t[void] = 255
        truth[idx] = t
    for split, split_ids in ids.items():
        _write_split(f'{d}/{split}.txt', split_ids)
    return {'root': root, 'nyud_dir': d, 'num_classes': 40, 'splits': ids,
            'params': {s: {'tops': list(tops), 'seed': 1337, 'nyud_dir': d, 'split': s} for s in ids},
            'layers': {s: ('nyud_layers', 'NYUDSegDataLayer') for s in ids}, 'truth': truth}


# ---------------------------------------------------------------------------------------------------------------
# PASCAL-Context

#: full-list names that trap a wrong mapping: near-misses of task names (with and without spaces)
CONTEXT_DECOYS = ('clothes tree', 'pool table', 'dining table', 'air conditioner', 'bed cloth', 'table cloth')


def context_full_list(total=459):
    """A synthetic full label list (the dataset's labels.txt): the 59 task classes in the full list's spelling,
    the decoys, and filler names, sorted like the real list; `total` entries."""
    renamed = dict(CONTEXT_RENAMES)
    names = {renamed.get(n, n) for n in CONTEXT60[1:]} | set(CONTEXT_DECOYS)
    k = 0
    while len(names) < total:
        names.add(f'thing {k:03d}')
        k += 1
    return sorted(names)


def make_pascalcontext(root, n_train=6, n_val=4, size=(64, 120), num_classes=60, seed=0):
    """PASCAL-Context under root/pascal/VOC2010 (JPEGImages, ImageSets/Main/train.txt, val.txt) and
    root/pascal-context (trainval/<id>.mat with LabelMap of full-list ids, labels.txt, 59_labels.txt).
    Objects are task classes 1..num_classes-1; the background is a mix of full-list classes outside the task
    (which map to 0), and decoys are painted too. No void. Truth: {id: 59-class label, 0 = background}."""
    if not 2 <= num_classes <= 60:
        raise ValueError('make_pascalcontext: num_classes must be in 2..60')
    rng = np.random.default_rng(seed)
    voc, ctx = os.path.join(root, 'pascal', 'VOC2010'), os.path.join(root, 'pascal-context')
    _mkdirs(f'{voc}/JPEGImages', f'{voc}/ImageSets/Main', f'{ctx}/trainval')
    full = context_full_list()
    with open(f'{ctx}/labels.txt', 'w') as f:
        f.write(''.join(f'{i}: {n}\n' for i, n in enumerate(full, 1)))
    with open(f'{ctx}/59_labels.txt', 'w') as f:
        f.write(''.join(f'{i}: {n}\n' for i, n in enumerate(CONTEXT60[1:], 1)))
    renamed = dict(CONTEXT_RENAMES)
    task_to_full = np.array([0] + [full.index(renamed.get(n, n)) + 1 for n in CONTEXT60[1:]])
    others = np.array([i + 1 for i, n in enumerate(full) if n.startswith('thing')][:4])
    decoys = np.array([full.index(n) + 1 for n in CONTEXT_DECOYS])
    ids = {'train': [f'2008_{i:06d}' for i in range(1, n_train + 1)],
           'val': [f'2009_{i:06d}' for i in range(1, n_val + 1)]}
    truth = {}
    for split, split_ids in ids.items():
        for idx in split_ids:
            h, w = _size(rng, size)
            # labels in "task + 100 * decoy/other" space while painting: task ids 1..59 stay, others are offset
            bg = np.full((h, w), 1000 + int(rng.integers(len(others))), np.int64)
            bg[int(rng.integers(h // 3, 2 * h // 3)):] = 1000 + int(rng.integers(len(others)))
            objs = np.concatenate([np.arange(1, num_classes), 2000 + np.arange(len(decoys))])
            img, label = paint_scene(rng, h, w, objs, bg_label=bg, n_objects=(1, 4))
            full_map = np.zeros((h, w), np.uint16)
            task = label < 1000
            full_map[task] = task_to_full[label[task]]
            full_map[(label >= 1000) & (label < 2000)] = others[label[(label >= 1000) & (label < 2000)] - 1000]
            full_map[label >= 2000] = decoys[label[label >= 2000] - 2000]
            _save_jpeg(f'{voc}/JPEGImages/{idx}.jpg', img)
            _savemat(f'{ctx}/trainval/{idx}.mat', {'LabelMap': full_map})
            truth[idx] = np.where(task, label, 0).astype(np.uint8)
        _write_split(f'{voc}/ImageSets/Main/{split}.txt', split_ids)
    pascal = os.path.join(root, 'pascal')
    return {'root': root, 'voc_dir': pascal, 'context_dir': ctx, 'num_classes': 60, 'splits': ids,
            'params': {s: {'context_dir': ctx, 'seed': 1337, 'split': s, 'voc_dir': pascal} for s in ids},
            'layers': {s: ('pascalcontext_layers', 'PASCALContextSegDataLayer') for s in ids}, 'truth': truth}


def make_all(root, seed=0, **kw):
    """All four datasets under one root: {'voc': ..., 'siftflow': ..., 'nyud': ..., 'pascalcontext': ...};
    keyword arguments (e.g. size) go to every generator."""
    return {'voc': make_voc(root, seed=seed, **kw), 'siftflow': make_siftflow(root, seed=seed + 1, **kw),
            'nyud': make_nyud(root, seed=seed + 2, **kw),
            'pascalcontext': make_pascalcontext(root, seed=seed + 3, **kw)}


# ---------------------------------------------------------------------------------------------------------------
# a user's own dataset (datalayers.own), in the forms a description file records

#: the forms make_own writes
OWN_FORMS = ('folders', 'lists', 'npy', 'gray')


def own_class_names(num_classes):
    """'background', then each object class by its shape and id ('square1', 'triangle2', 'disk3', ...)."""
    return ['background'] + [f'{class_shape(c)}{c}' for c in range(1, num_classes)]


def own_palette(num_classes):
    """The palette make_own's palette PNGs carry (256 x 3 uint8): the scene colours of the classes, white for the
    ignore label 255, black elsewhere; unlike the VOC palette, so a reader must take the file's own."""
    pal = np.zeros((256, 3), np.uint8)
    for c in range(num_classes):
        pal[c] = np.clip(class_colour(c), 0, 255).round()
    pal[255] = 255
    return pal


def _write_lines(path, lines):
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def make_own(root, form, n_train=8, n_val=4, size=(64, 96), num_classes=5, seed=0, void_width=1,
             label_format=None, log=None):
    """Write a small dataset in one of the own-data forms under `root` and its description file; return the
    description's path. Unlike the reference layouts:

    'folders'  images/<stem>.jpg and .png (RGB) + labels/<stem>.png (palette PNGs with own_palette, 255 on the
               region borders), split lists train.txt / val.txt of stems, class names in classes.txt
    'lists'    data/photos/scene_<k>.png + data/masks/scene_<k>_mask.png (greyscale PNGs, 254 on the borders,
               mapped to ignore), list files data/lists/{train,val}.lst of `image label` lines, "root": "data",
               the classes as a number
    'npy'      arrays/images/<stem>.npy (H x W x 4 float32: B, G, R and a depth-like channel) +
               arrays/labels/<stem>.npy (int32; label_format 'mat': <stem>.mat with variable 'seg'), the splits
               and class names inline
    'gray'     gray/<stem>.png (greyscale) + gt/<stem>.png (greyscale), the val split in val.txt and train = the
               rest, class names in names.txt

    The mean is computed from the training images by write_description (the code behind `fcn-dataset describe`),
    and reported through `log`. `size` = (min, max) image sides; everything is determined by `seed`."""
    if form not in OWN_FORMS:
        raise ValueError(f'make_own: form must be one of {", ".join(OWN_FORMS)}, not {form!r}')
    if not 2 <= num_classes <= 250:
        raise ValueError('make_own: num_classes must be in 2..250')
    label_format = label_format or ('npy' if form == 'npy' else 'png')
    if label_format not in (('npy', 'mat') if form == 'npy' else ('png',)):
        raise ValueError(f'make_own: form {form!r} takes no label_format {label_format!r}')
    from .own import write_description
    rng = np.random.default_rng(seed)
    names = own_class_names(num_classes)
    stems = {'train': [f'{form}_{i:03d}' for i in range(n_train)],
             'val': [f'{form}_{n_train + i:03d}' for i in range(n_val)]}
    pal = own_palette(num_classes)
    lines = {'train': [], 'val': []}
    for split, split_stems in stems.items():
        for k, stem in enumerate(split_stems):
            img, label = paint_scene(rng, *_size(rng, size), np.arange(1, num_classes))
            label = label.astype(np.uint8)
            void = void_band(label, void_width)
            if form == 'folders':
                _mkdirs(f'{root}/images', f'{root}/labels')
                if k % 2:
                    Image.fromarray(img, 'RGB').save(f'{root}/images/{stem}.png')
                else:
                    _save_jpeg(f'{root}/images/{stem}.jpg', img)
                label[void] = 255
                png = Image.fromarray(label, 'P')
                png.putpalette(pal.ravel().tolist())
                png.save(f'{root}/labels/{stem}.png')
            elif form == 'lists':
                _mkdirs(f'{root}/data/photos', f'{root}/data/masks')
                label[void] = 254
                Image.fromarray(img, 'RGB').save(f'{root}/data/photos/scene_{stem}.png')
                Image.fromarray(label, 'L').save(f'{root}/data/masks/scene_{stem}_mask.png')
                lines[split].append(f'photos/scene_{stem}.png masks/scene_{stem}_mask.png')
            elif form == 'npy':
                _mkdirs(f'{root}/arrays/images', f'{root}/arrays/labels')
                depth = 40. + 25. * label + rng.normal(0., 2., label.shape)
                arr = np.concatenate([img[:, :, ::-1].astype(np.float32), depth[..., None].astype(np.float32)], -1)
                np.save(f'{root}/arrays/images/{stem}.npy', arr)
                label[void] = 255
                if label_format == 'mat':
                    _savemat(f'{root}/arrays/labels/{stem}.mat', {'seg': label.astype(np.uint8)})
                else:
                    np.save(f'{root}/arrays/labels/{stem}.npy', label.astype(np.int32))
            else:
                _mkdirs(f'{root}/gray', f'{root}/gt')
                grey = np.asarray(Image.fromarray(img, 'RGB').convert('L'))
                label[void] = 255
                Image.fromarray(grey, 'L').save(f'{root}/gray/{stem}.png')
                Image.fromarray(label, 'L').save(f'{root}/gt/{stem}.png')
    if form == 'folders':
        _write_lines(f'{root}/classes.txt', names)
        _write_split(f'{root}/train.txt', stems['train'])
        _write_split(f'{root}/val.txt', stems['val'])
        data = {'name': 'shapes-folders', 'images': 'images', 'labels': 'labels',
                'splits': {'train': 'train.txt', 'val': 'val.txt'}, 'classes': 'classes.txt'}
    elif form == 'lists':
        _write_lines(f'{root}/data/lists/train.lst', lines['train'])
        _write_lines(f'{root}/data/lists/val.lst', lines['val'])
        data = {'name': 'shapes-lists', 'root': 'data', 'lists': {'train': 'lists/train.lst', 'val': 'lists/val.lst'},
                'classes': num_classes, 'map_to_ignore': [254]}
    elif form == 'npy':
        data = {'name': 'shapes-npy', 'images': 'arrays/images', 'labels': 'arrays/labels',
                'splits': {'train': stems['train'], 'val': stems['val']}, 'classes': names,
                'label_format': label_format, 'image_format': 'npy', 'channels': 4}
        if label_format == 'mat':
            data['mat_key'] = 'seg'
    else:
        _write_lines(f'{root}/names.txt', names)
        _write_split(f'{root}/val.txt', stems['val'])
        data = {'name': 'shapes-gray', 'images': 'gray', 'labels': 'gt', 'splits': {'val': 'val.txt'},
                'classes': 'names.txt', 'image_format': 'gray'}
    path = os.path.join(root, 'dataset.json')
    write_description(path, data, log=log)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description='Write small synthetic datasets in the four reference layouts.',
                                 allow_abbrev=False)
    ap.add_argument('root', help="folder to write (the reference's data/ layout)")
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--size', type=int, nargs=2, default=(64, 120), metavar=('MIN', 'MAX'))
    args = ap.parse_args(argv)
    info = make_all(args.root, seed=args.seed, size=tuple(args.size))
    for name, d in info.items():
        print(name, {s: len(ids) for s, ids in d['splits'].items()})
    return info


if __name__ == '__main__':
    main()
