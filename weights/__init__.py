"""What a net knows: weight files (.caffemodel V1/V2, Caffe HDF5, .pth) <-> {layer name: [np.ndarray]}, solver
state files, and net surgery (weights.surgery).

Interfaces:
    read_weights(path) -> OrderedDict {layer: [np.ndarray]}      by extension: *.h5, *.pth/*.pt, else .caffemodel
    write_weights(path, arrays, net_param=None)                    atomic; arrays may hold numpy arrays or tensors
    read_solverstate(path) -> SolverState                          *.h5: Caffe's HDF5 state layout, else binary
    write_solverstate(path, state)                                 state: SolverState or a dict of its fields
    SolverState(iter=0, learned_net='', history=[np.ndarray, ...], current_step=0)
        history holds one array per learnable parameter, in the net's learnable-params order (Caffe's history_).
    match_arrays(target_shapes, arrays, source, strict=False)      Caffe's CopyTrainedLayersFrom rules
    WeightsError                                                   every error of this package (a ValueError)
    weights.surgery: transplant, upsample_filt, interp, expand_score, mean_channels, with_input_layers, and
        initialize (copy_by_name from a previous stage, transplants, extra channels, interp: fcn-surgery)
    weights.atomic: atomic_path / atomic_file (temp file beside the destination + os.replace)

Blobs come back as stored: legacy num/channels/height/width dims stay 4-D (an old InnerProduct weight is 1x1xMxN);
float data is float32, double_data float64. Layers without blobs appear with an empty list (.caffemodel, .h5).
"""
from .errors import WeightsError
from .io import format_of, read_weights, write_weights
from .match import legacy_equal, match_arrays
from .solverstate import SolverState, read_solverstate, write_solverstate
from .caffemodel import read_caffemodel, write_caffemodel
from .hdf5 import read_h5, write_h5

__all__ = ['WeightsError', 'read_weights', 'write_weights', 'read_solverstate', 'write_solverstate', 'SolverState',
           'match_arrays', 'legacy_equal', 'format_of', 'read_caffemodel', 'write_caffemodel', 'read_h5', 'write_h5']
