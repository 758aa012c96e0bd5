"""pycaffe's Python API over this project (netspec, runtime, solvers, weights): `import pycaffe as caffe`, or run
an unchanged pycaffe script with `python -m pycaffe SCRIPT.py ARGS...` (`import caffe` then resolves here).

Served, as pycaffe serves them (Caffe 1.0's python/caffe):
    Net(network_file, phase, level=0, stages=None, weights=None), Net(network_file, pretrained_file, phase);
      .blobs / .params (OrderedDicts of Blobs: .data/.diff numpy arrays the net uses, .shape, .count,
      .num/.channels/.height/.width, .reshape), .forward(blobs=None, start=None, end=None, **inputs),
      .backward(diffs=None, start=None, end=None, **top_diffs), .forward_all, .forward_backward_all, .reshape,
      .inputs/.outputs, .layers (.type, .blobs), ._layer_names, ._blob_names, .top_names/.bottom_names,
      .layer_dict, .blob_loss_weights, .share_with, .copy_from, .save, .save_hdf5/.load_hdf5, .clear_param_diffs
    SGDSolver, NesterovSolver, AdaGradSolver, RMSPropSolver, AdaDeltaSolver, AdamSolver, get_solver:
      .net, .test_nets, .iter, .step, .solve, .restore, .snapshot, .add_callback
    TRAIN, TEST, set_mode_cpu, set_mode_gpu, set_device, set_random_seed, layer_type_list, Layer (Python layers)
    NetSpec, layers, params, to_proto; caffe.coord_map, caffe.net_spec, caffe.proto.caffe_pb2
    caffe.io (Transformer, load_image, resize_image, oversample, BlobProto/Datum conversions), Classifier
Anything else pycaffe has raises NotServed (a NotImplementedError, and an AttributeError for hasattr) naming it.
"""
from netspec.caffe_pb2 import TEST, TRAIN

from . import coord_map, io, net_spec, proto  # noqa: F401
from ._mode import fall_back_to_cpu, set_device, set_mode_cpu, set_mode_gpu, set_random_seed
from .blob import Blob
from .classifier import Classifier
from .layer import Layer
from .net import Net
from .net_spec import NetSpec, layers, params, to_proto
from .runner import alias_caffe
from .solver import (AdaDeltaSolver, AdaGradSolver, AdamSolver, NesterovSolver, RMSPropSolver, SGDSolver, Solver,
                     get_solver)

__version__ = '1.0.0'     # the pycaffe API served: Caffe 1.0's

__all__ = ['Net', 'Blob', 'Layer', 'Classifier', 'SGDSolver', 'NesterovSolver', 'AdaGradSolver', 'RMSPropSolver',
           'AdaDeltaSolver', 'AdamSolver', 'Solver', 'get_solver', 'TRAIN', 'TEST', 'set_mode_cpu', 'set_mode_gpu',
           'set_device', 'set_random_seed', 'layer_type_list', 'NetSpec', 'layers', 'params', 'to_proto', 'io',
           'coord_map', 'net_spec', 'proto', 'fall_back_to_cpu', 'alias_caffe', 'NotServed', 'NOT_SERVED']


def layer_type_list():
    """The layer types nets can use here (Caffe lists its registry; this is the runtime's)."""
    import runtime
    return sorted(runtime.REGISTRY)


class NotServed(NotImplementedError, AttributeError):
    """A part of pycaffe this project does not serve."""


#: pycaffe names this project refuses, and why.
NOT_SERVED = {
    'Detector': 'windowed detection (caffe.Detector) needs selective search',
    'draw': 'net drawing (caffe.draw) needs pydot/graphviz',
    'NCCL': 'multi-GPU training here is torch.distributed (tools/solve.py under torchrun)',
    'Timer': 'Caffe\'s CUDA timer is not part of this project',
    'solver_count': 'multi-GPU training here is torch.distributed',
    'set_solver_count': 'multi-GPU training here is torch.distributed',
    'solver_rank': 'multi-GPU training here is torch.distributed',
    'set_solver_rank': 'multi-GPU training here is torch.distributed',
    'set_multiprocess': 'multi-GPU training here is torch.distributed',
    'has_nccl': 'multi-GPU training here is torch.distributed',
    'model_libs': 'brocolli\'s model_libs (SSD builders) is not part of pycaffe 1.0',
    'imagenet': 'the ILSVRC mean file (caffe/imagenet) is not shipped',
}


def __getattr__(name):
    if name in NOT_SERVED:
        raise NotServed(f'caffe.{name} is not served by this project ({NOT_SERVED[name]})')
    raise AttributeError(f"module 'caffe' (pycaffe) has no attribute {name!r}")
