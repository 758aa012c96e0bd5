"""A user's own segmentation dataset, described in one small file (JSON, or YAML through PyYAML) instead of code.

    desc = load_description('dataset.json')      # a Description; every error is one line naming the file
    desc.splits['train'], desc.paths('train', sample_id), desc.num_classes, desc.mean, desc.family()
    OwnSeg({'description': 'dataset.json', 'split': 'train', 'seed': 1337}).load(i)   # -> (data, label) blobs

The description file's keys (paths are relative to `root`, which is itself relative to the file's folder and
defaults to it):

    name            the dataset's short name (default: the description's folder name)
    root            the folder the other paths are taken from
    images, labels  two folders whose files are matched by file stem (images/a.jpg <-> labels/a.png), with
    splits          {split: a file of stems, one a line, or a list of stems}; 'val' is required, and 'train'
                    when absent is every stem no other split lists
    lists           instead of the three above: {split: a file of `image label` lines (two paths relative to
                    root)}; a sample's id is its image path as the list writes it
    classes         a list of names, a text file of names (one a line), or a number N ('0' .. 'N-1'); the index
                    is the class id
    ignore_label    the label value the loss ignores (default 255); it must not be a class id
    map_to_ignore   label values replaced by ignore_label when read (default none)
    label_format    'png' (a palette PNG's indices, or a greyscale PNG's values; default), 'npy' (an H x W integer
                    array), 'mat' (a MATLAB file's variable `mat_key`)
    mat_key         the variable of a .mat label
    image_format    'color' (any image PIL reads, fed as BGR as Caffe does; default), 'gray' (one channel),
                    'npy' (an H x W x K array, or H x W for one channel, fed in its own channel order)
    channels        the image channels (3 for colour, 1 for grey, K for .npy; checked when given)
    mean            one value per channel (or a number for one channel) in the net's channel order (BGR for
                    colour), subtracted from every image; absent, `fcn-dataset describe FILE` computes it from the
                    training images and writes it

Every train and val sample must exist with its label: loading a description lists the folders (or stats the
listed files) and names the first image without its label, label without its image, or unknown stem. Reading a
sample (``load_sample``) checks that the image and label sizes agree and that every label value is a class id or
the ignore label, naming the file and the values otherwise.
"""
import dataclasses
import json
import os

import numpy as np
from PIL import Image

from netspec.atomic import atomic_file
from netspec.models.families import OWN_LAYER, DatasetFamily, Head

from .datasets import SegDataset
from .io import DatasetError, load_bgr, loadmat_key, open_image, require
from .palette import make_palette

__all__ = ['KEYS', 'LABEL_FORMATS', 'IMAGE_FORMATS', 'IMAGE_EXTENSIONS', 'Description', 'load_description',
           'parse_description', 'read_description_file', 'write_description', 'read_image', 'read_label',
           'load_sample', 'compute_mean', 'describe', 'check_dataset', 'OwnSeg', 'DEFAULT_IGNORE']

#: the keys a description file may hold
KEYS = ('name', 'root', 'images', 'labels', 'splits', 'lists', 'classes', 'ignore_label', 'map_to_ignore',
        'label_format', 'mat_key', 'image_format', 'channels', 'mean')
LABEL_FORMATS = ('png', 'npy', 'mat')
IMAGE_FORMATS = ('color', 'gray', 'npy')
#: image files the folders form matches (besides .npy for image_format 'npy')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')
DEFAULT_IGNORE = 255


def _error(path, message):
    return DatasetError(f'{path}: {message}')


# ---------------------------------------------------------------------------------------------------------------
# the record

@dataclasses.dataclass(frozen=True, eq=False)
class Description:
    """A parsed description file; `pairs` maps every sample id to its (image, label) absolute paths."""
    path: str
    name: str
    root: str
    classes: tuple
    ignore_label: int
    map_to_ignore: tuple
    label_format: str
    mat_key: object
    image_format: str
    channels: int
    mean: object            # tuple of `channels` floats, or None when the file has none yet
    palette: object         # (num_classes, 3) uint8 RGB, or None
    splits: dict
    pairs: dict
    form: str               # 'folders' or 'lists'

    @property
    def num_classes(self):
        return len(self.classes)

    def paths(self, split, sample_id):
        """(image path, label path) of a sample of `split`."""
        if split not in self.splits:
            raise _error(self.path, f'no split {split!r} (splits: {", ".join(self.splits)})')
        if sample_id not in self.pairs:
            raise _error(self.path, f'split {split!r} has no sample {sample_id!r}')
        return self.pairs[sample_id]

    def require_mean(self):
        """The mean, or a DatasetError naming the command that computes it."""
        if self.mean is None:
            raise _error(self.path, f'the description has no "mean"; compute it from the training images with '
                                    f'`fcn-dataset describe {self.path}`')
        return self.mean

    def family(self):
        """The dataset as a netspec.models.families.DatasetFamily, so code that takes a family (class names,
        eval images, the inference mean, the input channels) works on it."""
        mean = np.array(self.require_mean(), dtype=np.float64)
        mean.flags.writeable = False
        return DatasetFamily(
            self.name, f'{self.name} ({self.num_classes} classes, {self.path})',
            heads=(Head('label', self.classes),),
            nets=(('train.prototxt', 'train'), ('val.prototxt', 'val')),
            eval_images=len(self.splits['val']),
            layers=(OWN_LAYER,), mean=mean, inputs=(('data', self.channels),))

    def layout(self):
        """The expected layout, for error messages."""
        img = {'color': 'an image', 'gray': 'a greyscale image', 'npy': 'an H x W x K .npy array'}[self.image_format]
        lab = {'png': 'a palette or greyscale PNG of class ids', 'npy': 'an H x W .npy array of class ids',
               'mat': f'a .mat file with variable {self.mat_key!r} of class ids'}[self.label_format]
        return (f'  images: {img} each; labels: {lab} (0..{self.num_classes - 1}, {self.ignore_label} = ignore), '
                f'of the image\'s size; described by {self.path}')


# ---------------------------------------------------------------------------------------------------------------
# reading a description

def read_description_file(path):
    """The raw dict of a description file (.json; .yaml / .yml through PyYAML)."""
    path = os.path.abspath(os.fspath(path))
    require(path, 'dataset description', '')
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise _error(path, f'cannot read the description: {e.strerror or e}') from None
    if ext in ('.yaml', '.yml'):
        try:
            import yaml
        except ImportError:
            raise _error(path, 'a YAML description needs PyYAML, which is not installed; write it as JSON '
                               '(dataset.json) or install PyYAML') from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise _error(path, 'not valid YAML: ' + ' '.join(str(e).split())) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise _error(path, f'not valid JSON: {e}') from None
    if not isinstance(data, dict):
        raise _error(path, f'a description is a mapping of keys ({", ".join(KEYS)}), not {type(data).__name__}')
    return data


def load_description(path):
    """The Description of a description file (see the module docstring); DatasetError naming the file and the key
    on any problem."""
    path = os.path.abspath(os.fspath(path))
    return parse_description(read_description_file(path), path)


def _str(path, data, key, default=None):
    v = data.get(key, default)
    if v is not None and not isinstance(v, str):
        raise _error(path, f'"{key}" must be a string, not {v!r}')
    return v


def _int(path, data, key, default):
    v = data.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise _error(path, f'"{key}" must be an integer, not {v!r}')
    return v


def _choice(path, data, key, choices, default):
    v = data.get(key, default)
    if v not in choices:
        raise _error(path, f'"{key}" must be one of {", ".join(choices)}, not {v!r}')
    return v


def _read_lines(path, file, what):
    try:
        with open(file) as f:
            return [line.strip() for line in f]
    except FileNotFoundError:
        raise _error(path, f'{what} not found: {file}') from None
    except OSError as e:
        raise _error(path, f'cannot read {what} {file}: {e.strerror or e}') from None


def _classes(path, root, data):
    if 'classes' not in data:
        raise _error(path, '"classes" is missing (a list of names, a file of names one a line, or a number)')
    v = data['classes']
    if isinstance(v, bool):
        raise _error(path, f'"classes" must be a list, a file name or a number, not {v!r}')
    if isinstance(v, int):
        if v < 1:
            raise _error(path, f'"classes" must be at least 1, not {v}')
        names = [str(k) for k in range(v)]
    elif isinstance(v, str):
        names = [n for n in _read_lines(path, os.path.normpath(os.path.join(root, v)), '"classes" file') if n]
    elif isinstance(v, list) and all(isinstance(n, (str, int)) and not isinstance(n, bool) for n in v):
        names = [str(n) for n in v]
    else:
        raise _error(path, f'"classes" must be a list of names, a file name or a number, not {v!r}')
    if not names:
        raise _error(path, '"classes" names no class')
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _error(path, f'"classes" names {dup[0]!r} twice')
    return tuple(names)


def _files_by_stem(path, folder, key, extensions):
    if not os.path.isdir(folder):
        raise _error(path, f'"{key}" folder not found: {folder}')
    found = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() not in extensions or name.startswith('.'):
            continue
        if stem in found:
            raise _error(path, f'two {key} with stem {stem!r}: {found[stem]} and {os.path.join(folder, name)}')
        found[stem] = os.path.join(folder, name)
    return found


def _folders_form(path, root, data, image_format, label_format):
    for key in ('images', 'labels', 'splits'):
        if key not in data:
            raise _error(path, f'"{key}" is missing (the folders form needs images, labels and splits; or give '
                               f'"lists")')
    images_dir = os.path.normpath(os.path.join(root, _str(path, data, 'images')))
    labels_dir = os.path.normpath(os.path.join(root, _str(path, data, 'labels')))
    if os.path.abspath(images_dir) == os.path.abspath(labels_dir):
        raise _error(path, f'"images" and "labels" are the same folder: {images_dir}')
    images = _files_by_stem(path, images_dir, 'images',
                            ('.npy',) if image_format == 'npy' else IMAGE_EXTENSIONS)
    labels = _files_by_stem(path, labels_dir, 'labels', ('.' + label_format,))
    for stem, file in images.items():
        if stem not in labels:
            raise _error(path, f'image without its label: {file} (no {os.path.join(labels_dir, stem)}.'
                               f'{label_format})')
    for stem, file in labels.items():
        if stem not in images:
            raise _error(path, f'label without its image: {file} (no image {stem}.* in {images_dir})')
    if not images:
        raise _error(path, f'"images" folder {images_dir} holds no image')
    pairs = {stem: (images[stem], labels[stem]) for stem in images}
    spec = data['splits']
    if not isinstance(spec, dict):
        raise _error(path, f'"splits" must map split names to stem-list files or lists, not {spec!r}')
    if 'val' not in spec:
        raise _error(path, '"splits" has no "val" (a file of stems, one a line, or a list of stems)')
    splits = {}
    for split, v in spec.items():
        if isinstance(v, str):
            file = os.path.normpath(os.path.join(root, v))
            stems = [s for s in _read_lines(path, file, f'split "{split}" file') if s]
            where = file
        elif isinstance(v, list) and all(isinstance(s, str) for s in v):
            stems, where = v, f'"splits"["{split}"]'
        else:
            raise _error(path, f'"splits"["{split}"] must be a file of stems or a list of stems, not {v!r}')
        for s in stems:
            if s not in pairs:
                raise _error(path, f'{where} lists {s!r}, which has no image in {images_dir}')
        if not stems:
            raise _error(path, f'{where} lists no sample')
        splits[split] = tuple(stems)
    if 'train' not in splits:
        listed = {s for stems in splits.values() for s in stems}
        splits['train'] = tuple(s for s in pairs if s not in listed)
        if not splits['train']:
            raise _error(path, '"splits" has no "train", and every sample is in another split')
    return splits, pairs


def _lists_form(path, root, data):
    spec = data['lists']
    if not isinstance(spec, dict) or not all(isinstance(v, str) for v in spec.values()):
        raise _error(path, f'"lists" must map split names to list files, not {spec!r}')
    for split in ('train', 'val'):
        if split not in spec:
            raise _error(path, f'"lists" has no "{split}" (a file of `image label` lines)')
    splits, pairs = {}, {}
    for split, v in spec.items():
        file = os.path.normpath(os.path.join(root, v))
        ids = []
        for n, line in enumerate(_read_lines(path, file, f'list "{split}"'), 1):
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                what = 'an image without its label' if len(parts) == 1 else f'{len(parts)} fields'
                raise _error(file, f'line {n}: expected `image label`, got {what}: {line!r}')
            im, lab = (os.path.normpath(os.path.join(root, p)) for p in parts)
            if not os.path.isfile(im):
                raise _error(file, f'line {n}: image not found: {im}')
            if not os.path.isfile(lab):
                raise _error(file, f'line {n}: image without its label: {lab} not found')
            if parts[0] in pairs and pairs[parts[0]][1] != lab:
                raise _error(file, f'line {n}: image {parts[0]} listed with two labels: {pairs[parts[0]][1]} and '
                                   f'{lab}')
            pairs[parts[0]] = (im, lab)
            ids.append(parts[0])
        if not ids:
            raise _error(file, 'lists no sample')
        splits[split] = tuple(ids)
    return splits, pairs


def _npy_channels(path, file):
    try:
        a = np.load(file, mmap_mode='r')
    except (OSError, ValueError) as e:
        raise _error(path, f'cannot read image {file}: {e}') from None
    if a.ndim == 2:
        return 1
    if a.ndim != 3:
        raise _error(path, f'image {file} has shape {a.shape}; expected H x W x K')
    return int(a.shape[2])


def _palette(path, label_file, n):
    """The palette of a palette-PNG label, as (n, 3) uint8 RGB (padded with the VOC colours past its end)."""
    try:
        with Image.open(label_file) as im:
            if im.mode != 'P':
                return None
            pal = np.array(im.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
    except (OSError, ValueError):
        return None  # an unreadable label is named when it is read
    out = make_palette(max(n, 256))[:n].copy()
    k = min(n, len(pal))
    out[:k] = pal[:k]
    return out


def parse_description(data, path):
    """The Description of an already-read description dict; `path` is the file it belongs to (its folder is the
    default root)."""
    path = os.path.abspath(os.fspath(path))
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        raise _error(path, f'unknown key "{unknown[0]}" (known: {", ".join(KEYS)})')
    base = os.path.dirname(path)
    root = os.path.normpath(os.path.join(base, _str(path, data, 'root', '.')))
    if not os.path.isdir(root):
        raise _error(path, f'"root" folder not found: {root}')
    name = _str(path, data, 'name') or os.path.basename(base) or 'dataset'
    classes = _classes(path, root, data)
    ignore = _int(path, data, 'ignore_label', DEFAULT_IGNORE)
    if 0 <= ignore < len(classes):
        raise _error(path, f'"ignore_label" {ignore} is a class id (0..{len(classes) - 1}); choose a value outside')
    mti = data.get('map_to_ignore', [])
    if isinstance(mti, int) and not isinstance(mti, bool):
        mti = [mti]
    if not isinstance(mti, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in mti):
        raise _error(path, f'"map_to_ignore" must be a list of label values, not {mti!r}')
    label_format = _choice(path, data, 'label_format', LABEL_FORMATS, 'png')
    mat_key = _str(path, data, 'mat_key')
    if label_format == 'mat' and not mat_key:
        raise _error(path, '"mat_key" is missing: the variable of the .mat labels (label_format "mat")')
    image_format = _choice(path, data, 'image_format', IMAGE_FORMATS, 'color')
    if 'lists' in data:
        extra = [k for k in ('images', 'labels', 'splits') if k in data]
        if extra:
            raise _error(path, f'"{extra[0]}" and "lists" are two forms; give one (folders: images, labels, '
                               f'splits; or lists)')
        splits, pairs, form = *_lists_form(path, root, data), 'lists'
    else:
        splits, pairs, form = *_folders_form(path, root, data, image_format, label_format), 'folders'
    first_image, first_label = pairs[splits['train'][0]]
    channels = {'color': 3, 'gray': 1}.get(image_format) or _npy_channels(path, first_image)
    if 'channels' in data and _int(path, data, 'channels', 0) != channels:
        raise _error(path, f'"channels" is {data["channels"]} but {image_format} images have {channels} '
                           f'(first training image {first_image})')
    mean = data.get('mean')
    if mean is not None:
        if isinstance(mean, (int, float)) and not isinstance(mean, bool) and channels == 1:
            mean = [mean]
        if (not isinstance(mean, list) or len(mean) != channels or
                not all(isinstance(m, (int, float)) and not isinstance(m, bool) for m in mean)):
            order = ' in BGR order' if image_format == 'color' else ''
            raise _error(path, f'"mean" must be {channels} number(s){order}, one per channel, not {mean!r}')
        mean = tuple(float(m) for m in mean)
    palette = _palette(path, first_label, len(classes)) if label_format == 'png' else None
    return Description(path=path, name=name, root=root, classes=classes, ignore_label=ignore,
                       map_to_ignore=tuple(mti), label_format=label_format, mat_key=mat_key,
                       image_format=image_format, channels=channels, mean=mean, palette=palette,
                       splits=splits, pairs=pairs, form=form)


# ---------------------------------------------------------------------------------------------------------------
# reading samples

def _load_npy(path, what):
    """The array of a .npy image or label; DatasetError naming the file."""
    require(path, what, '')
    try:
        return np.load(path)
    except (OSError, ValueError) as e:
        raise DatasetError(f'cannot read {what} {path}: {e}') from None


def read_image(desc, path, mean=None):
    """An image as the net sees it: float32 C x H x W, colour in BGR order, minus `mean` (per channel) if given."""
    layout = ''   # errors stay one line: the file and what was expected
    if desc.image_format == 'color':
        return load_bgr(path, np.zeros(3) if mean is None else np.array(mean), layout)
    if desc.image_format == 'gray':
        im = open_image(path, 'image', layout)
        a = np.array(im if im.mode in ('L', 'I', 'I;16', 'F') else im.convert('L'), dtype=np.float32)
        if a.ndim != 2:
            raise DatasetError(f'image {path} has shape {a.shape}; expected a greyscale image')
        a = a[np.newaxis]
    else:
        a = _load_npy(path, 'image')
        if a.ndim == 2:
            a = a[:, :, np.newaxis]
        if a.ndim != 3 or a.shape[2] != desc.channels:
            raise DatasetError(f'image {path} has shape {a.shape}; expected H x W x {desc.channels} '
                               f'({desc.path})')
        a = np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32)
    if mean is not None:
        a -= np.array(mean).reshape(-1, 1, 1)
    return a


def _integral(path, a):
    a = np.asarray(a)
    if a.dtype.kind == 'f':
        if not np.isfinite(a).all() or (a != np.round(a)).any():
            raise DatasetError(f'label {path}: values must be integer class ids (found non-integer values)')
        return a.astype(np.int64)
    if a.dtype.kind not in 'iub':
        raise DatasetError(f'label {path}: dtype {a.dtype} is not a number type')
    return a.astype(np.int64)


def read_label(desc, path):
    """A label map as int64 H x W: map_to_ignore applied, every value checked to be a class id or the ignore
    label (DatasetError naming the file and the values otherwise)."""
    layout = ''
    if desc.label_format == 'png':
        im = open_image(path, 'label', layout)
        if im.mode not in ('P', 'L', 'I', 'I;16'):
            raise DatasetError(f'label {path} has PIL mode {im.mode!r}; expected a palette (P) or greyscale (L) PNG '
                               f'whose pixel values are class ids')
        a = np.array(im)
    elif desc.label_format == 'npy':
        a = _load_npy(path, 'label')
    else:
        a = loadmat_key(path, desc.mat_key, layout)
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim != 2:
        raise DatasetError(f'label {path} has shape {a.shape}; expected an H x W map of class ids')
    a = _integral(path, a)
    if desc.map_to_ignore:
        a[np.isin(a, desc.map_to_ignore)] = desc.ignore_label
    bad = ((a < 0) | (a >= desc.num_classes)) & (a != desc.ignore_label)
    if bad.any():
        values = np.unique(a[bad])
        shown = ', '.join(str(v) for v in values[:8]) + (', ...' if len(values) > 8 else '')
        raise DatasetError(f'label {path}: value(s) {shown} outside the classes 0..{desc.num_classes - 1} and not '
                           f'the ignore label {desc.ignore_label} (map them with "map_to_ignore" in {desc.path})')
    return a


def load_sample(desc, split, sample_id, mean=None):
    """(image float32 C x H x W minus `mean`, label int64 H x W) of a sample, sizes checked."""
    image_path, label_path = desc.paths(split, sample_id)
    image = read_image(desc, image_path, mean)
    label = read_label(desc, label_path)
    if image.shape[1:] != label.shape:
        raise DatasetError(f'label {label_path} is {label.shape[0]} x {label.shape[1]} but its image {image_path} '
                           f'is {image.shape[1]} x {image.shape[2]} (H x W)')
    return image, label


def compute_mean(desc, split='train', log=None):
    """The per-channel mean of the split's images (every pixel of every image counts once), in the net's channel
    order, as a tuple of floats; `log` gets one line saying what was computed."""
    total, count = np.zeros(desc.channels, np.float64), 0
    for sample_id in desc.splits[split]:
        image = read_image(desc, desc.paths(split, sample_id)[0])
        total += image.reshape(desc.channels, -1).sum(1, dtype=np.float64)
        count += image.shape[1] * image.shape[2]
    mean = tuple(float(m) for m in total / count)
    if log:
        order = ' (BGR)' if desc.image_format == 'color' else ''
        log(f'mean of the {len(desc.splits[split])} {split} images{order}: '
            f'{", ".join(f"{m:.3f}" for m in mean)}')
    return mean


def write_description(path, data, log=None):
    """Write the description `data` (a dict of the keys above) to `path` (.json, or .yaml/.yml through PyYAML),
    computing the mean from the training images when `data` has none (reported through `log`), and return its
    Description. `data` is checked (parse_description) before anything is written."""
    path = os.path.abspath(os.fspath(path))
    data = {k: v for k, v in data.items() if v is not None}
    desc = parse_description(data, path)
    if desc.mean is None:
        data['mean'] = [round(m, 4) for m in compute_mean(desc, log=log)]
    elif log:
        log(f'mean (given): {", ".join(f"{m:g}" for m in desc.mean)}')
    ordered = {k: data[k] for k in KEYS if k in data}
    if os.path.splitext(path)[1].lower() in ('.yaml', '.yml'):
        try:
            import yaml
        except ImportError:
            raise _error(path, 'writing a YAML description needs PyYAML, which is not installed; write '
                               'dataset.json') from None
        text = yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None)
    else:
        text = json.dumps(ordered, indent=2) + '\n'
    with atomic_file(path, 'dataset description', mode='w', error=DatasetError) as f:
        f.write(text)
    return load_description(path)


#: keys whose change makes a written mean stale
IMAGE_KEYS = ('root', 'images', 'splits', 'lists', 'image_format', 'channels')


def describe(path, changes, recompute_mean=False, log=None):
    """Write (or update) the description file `path`: its current keys, if it exists, with `changes` applied (a
    value None leaves a key as it is; splits and lists change split by split), and the mean computed from the
    training images when neither the changes nor the file give one (a file's mean is dropped when
    `recompute_mean` or a change of IMAGE_KEYS makes it stale). Returns the Description written; `log` gets the
    mean line."""
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)   # the default root: the paths are taken from there
    data = read_description_file(path) if os.path.exists(path) else {}
    changes = {k: v for k, v in changes.items() if v is not None}
    if 'mean' not in changes and (recompute_mean or any(k in changes for k in IMAGE_KEYS)):
        data.pop('mean', None)
    for key in ('splits', 'lists'):     # one split at a time: the others stay
        if isinstance(changes.get(key), dict) and isinstance(data.get(key), dict):
            changes[key] = {**data[key], **changes[key]}
    data.update(changes)
    return write_description(path, data, log=log)


def check_dataset(desc):
    """Read every sample of every split (image, label, sizes, label values) and collect what is wrong. Returns
    {'problems': [one-line messages], 'splits': {split: samples}, 'sizes': {split: (min H, max H, min W, max W)},
    'pixels': int64 array of pixels per class over the train split, 'ignored': train pixels at the ignore label,
    'overlap': the samples in both train and val}."""
    problems, sizes = [], {}
    pixels, ignored = np.zeros(desc.num_classes, np.int64), 0
    for split, ids in desc.splits.items():
        hs, ws = [], []
        for sample_id in ids:
            try:
                _, label = load_sample(desc, split, sample_id)
            except DatasetError as e:
                problems.append(' '.join(str(e).split()))
                continue
            hs.append(label.shape[0])
            ws.append(label.shape[1])
            if split == 'train':
                ok = label != desc.ignore_label
                pixels += np.bincount(label[ok].ravel(), minlength=desc.num_classes)
                ignored += int((~ok).sum())
        sizes[split] = (min(hs), max(hs), min(ws), max(ws)) if hs else None
    overlap = sorted(set(desc.splits['train']) & set(desc.splits['val']))
    return {'problems': problems, 'splits': {s: len(ids) for s, ids in desc.splits.items()}, 'sizes': sizes,
            'pixels': pixels, 'ignored': ignored, 'overlap': overlap}


# ---------------------------------------------------------------------------------------------------------------
# the dataset a data layer reads

class OwnSeg(SegDataset):
    """A described dataset as a data layer's dataset: param_str keys 'description' (the file; a relative path is
    taken from the current directory), 'split', and 'seed' / 'randomize' as the reference layers have them.
    Tops data (minus the description's mean) and label (map_to_ignore applied)."""
    name = 'own dataset'

    def required_keys(self):
        return ('description', 'split')

    def setup(self):
        try:
            self.description = desc = load_description(self.params['description'])
            desc.require_mean()
            if self.split not in desc.splits:
                raise _error(desc.path, f'no split {self.split!r} (splits: {", ".join(desc.splits)})')
        except DatasetError as e:
            raise DatasetError(f'{self.layer}: {e}') from None
        self.root = desc.root
        self.mean = np.array(desc.mean)  # float64, as the VOC layers' param_str mean
        self.ignore_label = desc.ignore_label

    def read_ids(self):
        return list(self.description.splits[self.split])

    def layout(self):
        return self.description.layout()

    @property
    def family(self):
        return self.description.family()

    def load(self, i):
        image, label = load_sample(self.description, self.split, self.ids[i], self.mean)
        return self.blob(image), self.blob(label)
