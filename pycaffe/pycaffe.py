"""caffe.pycaffe: the module of Caffe 1.0's python/caffe/pycaffe.py, where the package's Net and solver classes come
from (Net with its Python-side additions, the six solvers, NCCL, Timer), here this package's own."""
from ._caffe import (AdaDeltaSolver, AdaGradSolver, AdamSolver, NCCL, NesterovSolver, Net, RMSPropSolver,  # noqa: F401
                     SGDSolver, Timer)

__all__ = ['Net', 'SGDSolver', 'NesterovSolver', 'AdaGradSolver', 'RMSPropSolver', 'AdaDeltaSolver', 'AdamSolver',
           'NCCL', 'Timer']
