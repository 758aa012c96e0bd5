"""Class names for a model folder's score outputs (from datalayers.classes)."""
import os

from datalayers import classes as C


def class_names(folder, head='label', n=None):
    """Names of the n outputs of a head ('label', 'sem' or 'geo') of a reference model folder; generic
    names ('class k') where the folder is not one of the reference datasets or n does not match."""
    name = os.path.basename(os.path.normpath(str(folder)))
    if head == 'geo':
        names = C.SIFTFLOW_GEO
    elif name.startswith('voc'):
        names = C.VOC
    elif name.startswith('siftflow'):
        names = C.SIFTFLOW_SEM
    elif name.startswith('nyud'):
        names = C.NYUD40
    elif name.startswith('pascalcontext'):
        names = C.CONTEXT60
    else:
        names = ()
    if n is not None and len(names) != n:
        return tuple(f'class {k}' for k in range(n))
    return tuple(names)


def excluded_classes(folder, head):
    """Classes the paper leaves out of the averages: SIFT Flow's absent cow, desert and moon (semantic head)."""
    name = os.path.basename(os.path.normpath(str(folder)))
    return C.SIFTFLOW_ABSENT if name.startswith('siftflow') and head == 'sem' else ()
