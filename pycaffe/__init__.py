"""pycaffe's Python API over this project (netspec, runtime, solvers, weights): `import pycaffe as caffe`, or run
an unchanged pycaffe script with `python -m pycaffe SCRIPT.py ARGS...` (`import caffe` then resolves here).

Served, as pycaffe serves them (Caffe 1.0's python/caffe):
    Net(network_file, phase, level=0, stages=None, weights=None), Net(network_file, pretrained_file, phase);
      .blobs / .params (OrderedDicts of Blobs: .data/.diff numpy arrays the net uses, .shape, .count,
      .num/.channels/.height/.width, .reshape), .forward(blobs=None, start=None, end=None, **inputs),
      .backward(diffs=None, start=None, end=None, **top_diffs), .forward_all, .forward_backward_all, .reshape,
      .inputs/.outputs, .layers (.type, .blobs), ._layer_names, ._blob_names, .top_names/.bottom_names,
      .layer_dict, .blob_loss_weights, .share_with, .copy_from, .save, .save_hdf5/.load_hdf5, .clear_param_diffs,
      .before_forward/.after_forward/.before_backward/.after_backward (pycaffe.callbacks)
    SGDSolver, NesterovSolver, AdaGradSolver, RMSPropSolver, AdaDeltaSolver, AdamSolver, get_solver:
      .net, .test_nets, .iter, .param, .step, .solve, .restore, .snapshot, .add_callback
    TRAIN, TEST, set_mode_cpu, set_mode_gpu, set_device, set_random_seed, layer_type_list, Layer (Python layers),
      init_log, log; caffe._caffe (the binding's names: RawBlobVec, BlobVec, ... vector wrappers) and caffe.pycaffe
    solver_count/set_solver_count, solver_rank/set_solver_rank, set_multiprocess, has_nccl, NCCL, Timer (a CPU
      build's answers: pycaffe.parallel)
    NetSpec, layers, params, to_proto; caffe.coord_map, caffe.net_spec, caffe.proto.caffe_pb2
    caffe.io (Transformer, load_image, resize_image, oversample, BlobProto/Datum conversions), Classifier,
      Detector (detect_windows, detect_selective_search), caffe.draw (import caffe.draw; pydot)
Anything else pycaffe has raises NotServed (a NotImplementedError, and an AttributeError for hasattr) naming it.
"""
from netspec.caffe_pb2 import TEST, TRAIN

from . import coord_map, io, net_spec, proto  # noqa: F401
from ._mode import fall_back_to_cpu, set_device, set_mode_cpu, set_mode_gpu, set_random_seed
from .blob import Blob
from .classifier import Classifier
from .detector import Detector
from .parallel import (NCCL, Timer, has_nccl, set_multiprocess, set_solver_count, set_solver_rank, solver_count,
                       solver_rank)
from .layer import Layer
from .net import Net
from .net_spec import NetSpec, layers, params, to_proto
from .runner import alias_caffe
from .served import NOT_SERVED, NotServed, layer_type_list, not_served as __getattr__  # noqa: F401
from .solver import (AdaDeltaSolver, AdaGradSolver, AdamSolver, NesterovSolver, RMSPropSolver, SGDSolver, Solver,
                     get_solver)
from . import _caffe, pycaffe  # noqa: F401,E402  (caffe._caffe and caffe.pycaffe, as Caffe's package has them)
from ._caffe import init_log, log  # noqa: E402

__version__ = '1.0.0'     # the pycaffe API served: Caffe 1.0's

__all__ = ['Net', 'Blob', 'Layer', 'Classifier', 'Detector', 'Timer', 'has_nccl', 'solver_count', 'solver_rank',
           'set_solver_count', 'set_solver_rank', 'set_multiprocess', 'NCCL',
           'SGDSolver', 'NesterovSolver', 'AdaGradSolver', 'RMSPropSolver', 'AdaDeltaSolver', 'AdamSolver', 'Solver',
           'get_solver', 'TRAIN', 'TEST', 'set_mode_cpu', 'set_mode_gpu', 'set_device', 'set_random_seed',
           'layer_type_list', 'NetSpec', 'layers', 'params', 'to_proto', 'io', 'coord_map', 'net_spec', 'proto',
           'fall_back_to_cpu', 'alias_caffe', 'NotServed', 'NOT_SERVED', 'init_log', 'log']
