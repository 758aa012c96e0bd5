"""What a score head's outputs mean: the dataset family a net is scored on, its class names, and the classes the
paper leaves out of the averages, all from the family records (netspec.models.families)."""
from netspec.models import family_of_net, find_folder

__all__ = ['dataset_family', 'class_names', 'excluded_classes']


def dataset_family(net_param=None, folder=None):
    """The DatasetFamily a net is scored on: that of its reference data layer, else that of the model folder's
    record (`folder`: a reference folder's name or path), else None."""
    fam = family_of_net(net_param) if net_param is not None else None
    if fam is None and folder is not None:
        record = find_folder(folder)
        fam = record.family if record else None
    return fam


def class_names(family, head='label', n=None):
    """Names of the n outputs of the head scored against label blob `head` ('label', 'sem', 'geo') in a dataset
    family; generic names ('class k') where the family is None, has no such head, or n does not match."""
    h = family.head(head) if family is not None else None
    names = h.classes if h is not None else ()
    if n is not None and len(names) != n:
        return tuple(f'class {k}' for k in range(n))
    return tuple(names)


def excluded_classes(family, head):
    """Classes the paper leaves out of the averages of a head (SIFT Flow's semantic head: the absent cow, desert
    and moon); () for the others."""
    h = family.head(head) if family is not None else None
    return h.absent if h is not None else ()
