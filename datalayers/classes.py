"""Class names of the four datasets, in model output order: re-exported from netspec.models.classes, where the
dataset-family records (netspec.models.families) that every package looks them up in keep them."""
from netspec.models.classes import CONTEXT60, NYUD40, SIFTFLOW_ABSENT, SIFTFLOW_GEO, SIFTFLOW_SEM, VOC

__all__ = ['VOC', 'SIFTFLOW_SEM', 'SIFTFLOW_GEO', 'SIFTFLOW_ABSENT', 'NYUD40', 'CONTEXT60']
