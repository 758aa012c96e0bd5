"""The dataset families: one record per dataset the reference nets read (PASCAL VOC + SBD, SIFT Flow, NYUDv2,
PASCAL-Context), holding every fact about it that more than one package needs.

Why here: the facts are read by netspec.models (the folders' nets and solvers), datalayers (which dataset class a
reference data layer reads), scoring (class names, the classes the paper leaves out, the eval split, the inference
mean) and the applications (fcnapps.recipe). The dependencies point one way (README's import graph: the
applications over solvers, scoring, datalayers, runtime and weights, all over netspec), so netspec, the bottom
layer, is the one place that all of them can import; netspec.models, beside the folder records (folders.Folder)
that name a family each, is where the model folders' facts already live. Adding a dataset family is one
DatasetFamily record in FAMILIES (plus its dataset class in datalayers.datasets and its layer module, which are
code); every lookup below and in the other packages goes through these records, never through folder-name
prefixes (tests/test_netspec_records.py checks both).
"""
import dataclasses

import numpy as np

from .classes import CONTEXT60, NYUD40, SIFTFLOW_ABSENT, SIFTFLOW_GEO, SIFTFLOW_SEM, VOC as VOC_CLASSES

__all__ = ['Head', 'ReferenceLayer', 'DatasetFamily', 'VOC', 'SIFTFLOW', 'NYUD', 'PASCALCONTEXT', 'FAMILIES',
           'REFERENCE_LAYERS', 'OWN_LAYER', 'LABEL_TOPS', 'INPUT_CHANNELS', 'SINGLE_CHANNEL_TOPS', 'family',
           'family_of_layer', 'family_of_net']


@dataclasses.dataclass(frozen=True)
class Head:
    """One score output of a family's nets: the label blob it is scored against (the data layer's top), its class
    names in output order, and the 0-based classes the paper leaves out of the class averages (absent from the
    eval split)."""
    label: str
    classes: tuple
    absent: tuple = ()


@dataclasses.dataclass(frozen=True)
class ReferenceLayer:
    """A reference Python data layer: python_param module and layer as the reference prototxts write them, and
    the name of the datalayers.datasets class that reads its files."""
    module: str
    layer: str
    dataset: str


def _constant(values, dtype):
    a = np.array(values, dtype=dtype)
    a.flags.writeable = False
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetFamily:
    """Everything about one dataset that the packages share.

    name: short name ('voc'); title: the dataset as the paper names it; heads: the score heads in net order
    (Head records); nets: ((train net file, train split), (eval net file, eval split)) as the reference folders
    hold them; eval_images: ids in the eval split (the solvers' test_iter); layers: the reference data layers
    that read it (ReferenceLayer records); mean: the BGR mean subtracted from a colour image outside the data
    layer (inference), with the reference's precision: the data layer's float32 constant, or for VOC (whose
    layers take the mean from param_str) the float64 mean of the reference infer.py; inputs: the image tops its
    data layers can give, (top, channels) each (the labels are the heads' label tops, one channel each).
    """
    name: str
    title: str
    heads: tuple
    nets: tuple
    eval_images: int
    layers: tuple
    mean: np.ndarray
    inputs: tuple = (('data', 3),)

    @property
    def train_split(self):
        return self.nets[0][1]

    @property
    def eval_split(self):
        return self.nets[1][1]

    @property
    def num_classes(self):
        """The score layers' outputs: an int for one head, a tuple (one per head) for several (SIFT Flow)."""
        counts = tuple(len(h.classes) for h in self.heads)
        return counts[0] if len(counts) == 1 else counts

    def head(self, label):
        """The Head scored against label blob `label`, or None."""
        for h in self.heads:
            if h.label == label:
                return h
        return None

    def __repr__(self):
        return f'<DatasetFamily {self.name}>'


VOC = DatasetFamily(
    'voc', 'PASCAL VOC 2011 segmentation, trained on SBD',
    heads=(Head('label', VOC_CLASSES),),
    nets=(('train.prototxt', 'train'), ('val.prototxt', 'seg11valid')),
    eval_images=736,
    layers=(ReferenceLayer('voc_layers', 'VOCSegDataLayer', 'VOCSeg'),
            ReferenceLayer('voc_layers', 'SBDDSegDataLayer', 'SBDDSeg')),
    mean=_constant((104.00698793, 116.66876762, 122.67891434), np.float64))

SIFTFLOW = DatasetFamily(
    'siftflow', 'SIFT Flow (33 semantic and 3 geometric classes)',
    heads=(Head('sem', SIFTFLOW_SEM, absent=SIFTFLOW_ABSENT), Head('geo', SIFTFLOW_GEO)),
    nets=(('trainval.prototxt', 'trainval'), ('test.prototxt', 'test')),
    eval_images=200,
    layers=(ReferenceLayer('siftflow_layers', 'SIFTFlowSegDataLayer', 'SIFTFlowSeg'),),
    mean=_constant((114.578, 115.294, 108.353), np.float32))

NYUD = DatasetFamily(
    'nyud', 'NYUDv2 (40 classes)',
    heads=(Head('label', NYUD40),),
    nets=(('trainval.prototxt', 'trainval'), ('test.prototxt', 'test')),
    eval_images=654,
    layers=(ReferenceLayer('nyud_layers', 'NYUDSegDataLayer', 'NYUDSeg'),),
    mean=_constant((116.190, 97.203, 92.318), np.float32),
    inputs=(('color', 3), ('depth', 1), ('hha', 3)))

PASCALCONTEXT = DatasetFamily(
    'pascalcontext', 'PASCAL-Context (59 classes + background)',
    heads=(Head('label', CONTEXT60),),
    nets=(('train.prototxt', 'train'), ('val.prototxt', 'val')),
    eval_images=5105,
    layers=(ReferenceLayer('pascalcontext_layers', 'PASCALContextSegDataLayer', 'PASCALContextSeg'),),
    mean=_constant((104.007, 116.669, 122.679), np.float32))

FAMILIES = (VOC, SIFTFLOW, NYUD, PASCALCONTEXT)

#: the data layer of a user's own dataset (datalayers.own_layers): a family of its own per description file
#: (datalayers.own.Description.family), so it is in no record of FAMILIES
OWN_LAYER = ReferenceLayer('own_layers', 'OwnSegDataLayer', 'OwnSeg')

#: (python_param module, layer) -> ReferenceLayer, for every family's data layers
REFERENCE_LAYERS = {(l.module, l.layer): l for f in FAMILIES for l in f.layers}
_FAMILY_OF_LAYER = {(l.module, l.layer): f for f in FAMILIES for l in f.layers}
#: the data layers' label tops (every family's heads): one channel each, not an input of a deploy net
LABEL_TOPS = tuple(dict.fromkeys(h.label for f in FAMILIES for h in f.heads))
#: the data layers' image tops -> their channels (NYUD's depth: 1)
INPUT_CHANNELS = {t: c for f in FAMILIES for t, c in f.inputs}
#: the data layers' one-channel tops: the labels and the one-channel inputs
SINGLE_CHANNEL_TOPS = LABEL_TOPS + tuple(t for t, c in INPUT_CHANNELS.items() if c == 1)


def family(name):
    """The DatasetFamily named `name` ('voc', 'siftflow', 'nyud', 'pascalcontext')."""
    for f in FAMILIES:
        if f.name == name:
            return f
    raise KeyError(f'unknown dataset family {name!r}; known: {", ".join(f.name for f in FAMILIES)}')


def family_of_layer(module, layer):
    """The family whose reference data layer is python_param module/layer (a dotted module counts by its last
    part, e.g. datalayers.voc_layers), or None."""
    return _FAMILY_OF_LAYER.get((module.rsplit('.', 1)[-1], layer))


def family_of_net(net_param):
    """The family of the reference data layers of a NetParameter, or None when it has none (an Input-fed net).
    Raises ValueError when its data layers belong to different families."""
    found = {family_of_layer(l.python_param.module, l.python_param.layer)
             for l in net_param.layer if l.type == 'Python'} - {None}
    if len(found) > 1:
        raise ValueError(f'net {net_param.name!r} reads several dataset families: '
                         f'{", ".join(sorted(f.name for f in found))}')
    return found.pop() if found else None
