"""The five datasets of the reference data layers: where each file lies and how each sample is read.

A dataset is built from a layer's param dict. ``ids`` is the split in file order, ``order()`` the reference's
sample order, ``load(i)`` the sample of ``ids[i]`` as float32 arrays with their blob shapes (1 x C x H x W), one
per top in ``tops`` order. The Caffe layers (``base.SegDataLayer``) and the prefetching loader (``loader``) both
use ``load`` and ``order``, so they yield the same arrays in the same order.
"""
import os

import numpy as np

from netspec.models import NYUD, PASCALCONTEXT, SIFTFLOW
from netspec.models.parts import VOC_MEAN  # the VOC mean (BGR) as the reference prototxts' param_str write it

from .io import DatasetError, load_bgr, load_png_indices, loadmat_key, open_image, read_split, require
from .order import SampleOrder, randomized

__all__ = ['SegDataset', 'VOCSeg', 'SBDDSeg', 'SIFTFlowSeg', 'NYUDSeg', 'PASCALContextSeg', 'VOC_MEAN',
           'SIFTFLOW_SUBDIR', 'CONTEXT_RENAMES', 'load_depth', 'read_class_list']


class SegDataset:
    """Common parts: param checking, the split, the order, the dataset-folder check."""
    name = 'dataset'
    dir_key = None
    tops = ('data', 'label')

    def __init__(self, params, layer='data layer'):
        self.params = dict(params)
        self.layer = layer
        for key in self.required_keys():
            if key not in self.params:
                raise ValueError(f'{layer}: param_str lacks {key!r} (given keys: {sorted(self.params)})')
        self.split = self.params['split']
        self.randomize = randomized(self.split, self.params.get('randomize', True))
        self.seed = self.params.get('seed', None)
        self.setup()
        try:
            self.ids = self.read_ids()
        except DatasetError as e:
            raise DatasetError(f'{layer}: {e}') from None

    def required_keys(self):
        return (self.dir_key, 'split')

    def read_ids(self):
        """The split's sample ids in file order (the reference datasets: its split file's lines)."""
        return read_split(self.split_path(), self.layout())

    def check_dir(self, path, what):
        if not os.path.isdir(path):
            raise DatasetError(f'{self.layer}: {self.name} {what} not found: {path}\nexpected layout:\n'
                               f'{self.layout()}')

    def setup(self):
        self.root = self.params[self.dir_key]
        self.check_dir(self.root, 'folder')

    def __len__(self):
        return len(self.ids)

    def order(self):
        """A fresh iterator of indices into ``ids`` in the reference layer's order."""
        return SampleOrder(len(self.ids), self.randomize, self.seed)

    def load(self, i):
        raise NotImplementedError

    @staticmethod
    def blob(a):
        """An HxW label or CxHxW image as a float32 1 x C x H x W blob array."""
        a = np.asarray(a)
        if a.ndim == 2:
            a = a[np.newaxis]
        return np.ascontiguousarray(a[np.newaxis], dtype=np.float32)


class VOCSeg(SegDataset):
    """PASCAL VOC: {voc_dir}/JPEGImages/{id}.jpg, SegmentationClass/{id}.png, ImageSets/Segmentation/{split}.txt."""
    name = 'PASCAL VOC'
    dir_key = 'voc_dir'

    def required_keys(self):
        return (self.dir_key, 'split', 'mean')

    def setup(self):
        super().setup()
        self.mean = np.array(self.params['mean'])  # float64, as the reference's np.array(params['mean'])

    def layout(self):
        return (f'  {self.root}/JPEGImages/<id>.jpg\n'
                f'  {self.root}/SegmentationClass/<id>.png   (paletted PNG: class ids 0..20, 255 = void)\n'
                f'  {self.root}/ImageSets/Segmentation/<split>.txt   (one id per line)')

    def split_path(self):
        return f'{self.root}/ImageSets/Segmentation/{self.split}.txt'

    def load_image(self, idx):
        return load_bgr(f'{self.root}/JPEGImages/{idx}.jpg', self.mean, self.layout())

    def load_label(self, idx):
        return load_png_indices(f'{self.root}/SegmentationClass/{idx}.png', self.layout())

    def load(self, i):
        idx = self.ids[i]
        return self.blob(self.load_image(idx)), self.blob(self.load_label(idx))


class SBDDSeg(VOCSeg):
    """SBD: {sbdd_dir}/img/{id}.jpg, cls/{id}.mat (struct GTcls, field Segmentation), {split}.txt."""
    name = 'SBD'
    dir_key = 'sbdd_dir'

    def layout(self):
        return (f'  {self.root}/img/<id>.jpg\n'
                f'  {self.root}/cls/<id>.mat   (MATLAB struct GTcls with field Segmentation: class ids 0..20)\n'
                f'  {self.root}/<split>.txt   (one id per line)')

    def split_path(self):
        return f'{self.root}/{self.split}.txt'

    def load_image(self, idx):
        return load_bgr(f'{self.root}/img/{idx}.jpg', self.mean, self.layout())

    def load_label(self, idx):
        path = f'{self.root}/cls/{idx}.mat'
        gt = loadmat_key(path, 'GTcls', self.layout())
        try:
            seg = gt[0]['Segmentation'][0]
        except (IndexError, ValueError, KeyError, TypeError):
            raise DatasetError(f'label {path}: GTcls has no field Segmentation\nexpected layout:\n'
                               f'{self.layout()}') from None
        return np.asarray(seg).astype(np.uint8)


SIFTFLOW_SUBDIR = 'spatial_envelope_256x256_static_8outdoorcategories'


class SIFTFlowSeg(SegDataset):
    """SIFT Flow: Images/.../{id}.jpg, SemanticLabels/.../{id}.mat and GeoLabels/.../{id}.mat (key S)."""
    name = 'SIFT Flow'
    dir_key = 'siftflow_dir'
    tops = ('data',) + tuple(h.label for h in SIFTFLOW.heads)  # data, sem, geo
    mean = SIFTFLOW.mean  # float32, the family record's

    def layout(self):
        s = SIFTFLOW_SUBDIR
        return (f'  {self.root}/Images/{s}/<id>.jpg\n'
                f'  {self.root}/SemanticLabels/{s}/<id>.mat   (variable S: 0 = void, 1..33 classes)\n'
                f'  {self.root}/GeoLabels/{s}/<id>.mat   (variable S: -1 = void, 1..3 classes)\n'
                f'  {self.root}/<split>.txt   (one id per line)')

    def split_path(self):
        return f'{self.root}/{self.split}.txt'

    def load_image(self, idx):
        return load_bgr(f'{self.root}/Images/{SIFTFLOW_SUBDIR}/{idx}.jpg', self.mean, self.layout())

    def load_label(self, idx, label_type):
        folder = {'semantic': 'SemanticLabels', 'geometric': 'GeoLabels'}[label_type]
        label = np.array(loadmat_key(f'{self.root}/{folder}/{SIFTFLOW_SUBDIR}/{idx}.mat', 'S', self.layout()))
        if label_type == 'geometric':
            label[label == -1] = 0
        label = label.astype(np.uint8)
        label -= 1  # classes from 0; void 0 wraps to 255
        return label

    def load(self, i):
        idx = self.ids[i]
        return (self.blob(self.load_image(idx)), self.blob(self.load_label(idx, 'semantic')),
                self.blob(self.load_label(idx, 'geometric')))


class NYUDSeg(SegDataset):
    """NYUDv2: data/images/img_{id}.png, data/depth/img_{id}.png, data/hha/img_{id}.png,
    segmentation/img_{id}.mat (key segmentation), {split}.txt; tops chosen by param_str['tops']."""
    name = 'NYUDv2'
    dir_key = 'nyud_dir'
    mean_bgr = NYUD.mean  # float32, the family record's
    mean_hha = np.array((132.431, 94.076, 118.477), dtype=np.float32)
    mean_logd = np.array((7.844,), dtype=np.float32)
    TOPS = ('color', 'depth', 'hha', 'label')

    def required_keys(self):
        return (self.dir_key, 'split', 'tops')

    def setup(self):
        super().setup()
        self.tops = tuple(self.params['tops'])
        bad = [t for t in self.tops if t not in self.TOPS]
        if bad or not self.tops:
            raise ValueError(f'{self.layer}: tops {list(self.tops)} must be chosen from {list(self.TOPS)}')

    def layout(self):
        return (f'  {self.root}/data/images/img_<id>.png   (RGB)\n'
                f'  {self.root}/data/depth/img_<id>.png   (16-bit depth, filled: no zeros)\n'
                f'  {self.root}/data/hha/img_<id>.png   (3-channel HHA)\n'
                f'  {self.root}/segmentation/img_<id>.mat   (variable segmentation: 0 = void, 1..40 classes)\n'
                f'  {self.root}/<split>.txt   (one numeric id per line)')

    def split_path(self):
        return f'{self.root}/{self.split}.txt'

    def load_image(self, idx):
        return load_bgr(f'{self.root}/data/images/img_{idx}.png', self.mean_bgr, self.layout())

    def load_depth(self, idx):
        return load_depth(f'{self.root}/data/depth/img_{idx}.png', self.layout())

    def load_hha(self, idx):
        return load_bgr(f'{self.root}/data/hha/img_{idx}.png', self.mean_hha, self.layout(), what='HHA image',
                        reverse=False)

    def load_label(self, idx):
        label = loadmat_key(f'{self.root}/segmentation/img_{idx}.mat', 'segmentation', self.layout())
        label = np.asarray(label).astype(np.uint8)
        label -= 1  # classes from 0; void 0 wraps to 255
        return label

    def load(self, i):
        idx = self.ids[i]
        fn = {'color': self.load_image, 'depth': self.load_depth, 'hha': self.load_hha, 'label': self.load_label}
        return tuple(self.blob(fn[t](idx)) for t in self.tops)


def load_depth(path, layout=''):
    """NYUD depth: a single-channel PNG read as float32 -> natural log -> minus 7.844 -> 1 x H x W."""
    im = open_image(path, 'depth image', layout)
    d = np.array(im, dtype=np.float32)
    if d.ndim != 2:
        raise DatasetError(f'depth image {path} has shape {d.shape}; expected a single-channel image')
    with np.errstate(divide='ignore'):
        d = np.log(d)
    d -= NYUDSeg.mean_logd[0]
    return d[np.newaxis, ...]


#: the three names of the 59-class list renamed to the full list's spelling (task name -> main name)
CONTEXT_RENAMES = (('diningtable', 'table'), ('bedcloth', 'bedclothes'), ('clothes', 'cloth'))


def read_class_list(path, layout):
    """Lines 'idx: name' -> names in file order with all spaces removed (the reference's label.replace(' ', ''));
    an entry numbered 0 (a 'background' line, as in classes-59.txt) is left out."""
    require(path, 'class list', layout)
    names = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            idx, sep, name = line.partition(':')
            if not sep:
                raise DatasetError(f'{path}:{n}: expected "idx: name", got {line.strip()!r}')
            if idx.strip() == '0':
                continue
            names.append(name.strip().replace(' ', ''))
    return names


class PASCALContextSeg(SegDataset):
    """PASCAL-Context: images and splits from {voc_dir}/VOC2010, labels {context_dir}/trainval/{id}.mat
    (LabelMap, full-label ids), mapped to the 59-class task through labels.txt and 59_labels.txt."""
    name = 'PASCAL-Context'
    dir_key = 'voc_dir'
    mean = PASCALCONTEXT.mean  # float32, the family record's

    def required_keys(self):
        return ('voc_dir', 'context_dir', 'split')

    def setup(self):
        self.root = self.params['voc_dir'] + '/VOC2010'
        self.context_dir = self.params['context_dir']
        self.check_dir(self.root, 'VOC2010 folder')
        self.check_dir(self.context_dir, 'context folder')
        self.labels_400 = read_class_list(f'{self.context_dir}/labels.txt', self.layout())
        labels_59 = read_class_list(f'{self.context_dir}/59_labels.txt', self.layout())
        for task, main in CONTEXT_RENAMES:
            if task in labels_59:
                labels_59[labels_59.index(task)] = main
        self.labels_59 = labels_59
        lut = np.zeros(len(self.labels_400) + 1, dtype=np.uint8)
        for j, name in enumerate(labels_59):  # later classes win, as the reference's assignment loop
            if name not in self.labels_400:
                raise DatasetError(f'{self.context_dir}/59_labels.txt: class {name!r} is not in '
                                   f'{self.context_dir}/labels.txt')
            lut[self.labels_400.index(name) + 1] = j + 1
        self.lut = lut

    def layout(self):
        return (f'  {self.root}/JPEGImages/<id>.jpg\n'
                f'  {self.root}/ImageSets/Main/<split>.txt   (one id per line)\n'
                f'  {self.context_dir}/trainval/<id>.mat   (variable LabelMap: full-label ids, 1-based)\n'
                f'  {self.context_dir}/labels.txt   (lines "idx: name", the full label list)\n'
                f'  {self.context_dir}/59_labels.txt   (lines "idx: name", the 59 task classes)')

    def split_path(self):
        return f'{self.root}/ImageSets/Main/{self.split}.txt'

    def load_image(self, idx):
        return load_bgr(f'{self.root}/JPEGImages/{idx}.jpg', self.mean, self.layout())

    def load_label(self, idx):
        full = np.asarray(loadmat_key(f'{self.context_dir}/trainval/{idx}.mat', 'LabelMap', self.layout()))
        ok = (full >= 0) & (full < len(self.lut))
        label = np.zeros(full.shape, dtype=np.uint8)
        label[ok] = self.lut[full[ok].astype(np.int64)]
        return label

    def load(self, i):
        idx = self.ids[i]
        return self.blob(self.load_image(idx)), self.blob(self.load_label(idx))
