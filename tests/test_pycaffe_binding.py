"""caffe._caffe, the names Caffe 1.0's binding (python/caffe/_caffe.cpp) exports and its package takes from it:
the vector wrappers (RawBlobVec for Layer.setup / Layer.reshape, BlobVec.add_blob, ...), Solver.param, init_log and
log, and `import caffe._caffe` / `caffe.pycaffe` in a script run by `python -m pycaffe`."""
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

import pycaffe as caffe
from conftest import ROOT

#: what BVLC Caffe 1.0's _caffe.cpp defines (bp::def and bp::class_ names; NCCL's methods only with USE_NCCL)
BINDING = ['init_log', 'log', 'set_mode_cpu', 'set_mode_gpu', 'set_random_seed', 'set_device', 'solver_count',
           'set_solver_count', 'solver_rank', 'set_solver_rank', 'set_multiprocess', 'layer_type_list', 'Net', 'Blob',
           'Layer', 'SolverParameter', 'LayerParameter', 'Solver', 'SGDSolver', 'NesterovSolver', 'AdaGradSolver',
           'RMSPropSolver', 'AdaDeltaSolver', 'AdamSolver', 'get_solver', 'BlobVec', 'RawBlobVec', 'LayerVec',
           'StringVec', 'IntVec', 'DtypeVec', 'NetVec', 'BoolVec', 'NCCL', 'Timer', '__version__']
NET_METHODS = ['_forward', '_backward', 'reshape', 'clear_param_diffs', 'copy_from', 'share_with',
               '_blob_loss_weights', '_bottom_ids', '_top_ids', '_blobs', 'layers', '_blob_names', '_layer_names',
               '_inputs', '_outputs', '_set_input_arrays', 'save', 'save_hdf5', 'load_hdf5', 'before_forward',
               'after_forward', 'before_backward', 'after_backward']

NET = '''
layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 5 dim: 5 } } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "conv" convolution_param { num_output: 3 kernel_size: 3 } }
'''


@pytest.fixture
def net(tmp_path):
    path = tmp_path / 'net.prototxt'
    path.write_text(NET)
    return caffe.Net(str(path), caffe.TEST)


def test_the_binding_module_has_every_name_of_caffe_1_0s(net):
    missing = [n for n in BINDING if not hasattr(caffe._caffe, n)]
    assert missing == []
    assert [m for m in NET_METHODS if not hasattr(net, m)] == []
    assert caffe.pycaffe.Net is caffe.Net and caffe._caffe.RawBlobVec is not None


def test_layer_setup_and_reshape_take_raw_blob_vecs(net):
    bottom, top = caffe._caffe.RawBlobVec(), caffe._caffe.RawBlobVec()
    bottom.append(net.blobs['x'])
    top.append(net.blobs['conv'])
    net.blobs['x'].reshape(1, 2, 7, 6)
    conv = net.layers[1]
    conv.setup(bottom, top)
    conv.reshape(bottom, top)
    assert net.blobs['conv'].shape == (1, 3, 5, 4)


def test_vector_wrappers_start_empty_and_hold_their_element_type_only(net):
    v = caffe._caffe.RawBlobVec()
    assert len(v) == 0
    with pytest.raises(TypeError, match='RawBlobVec holds Blobs'):
        v.append('x')
    with pytest.raises(TypeError, match='takes no arguments'):
        caffe._caffe.RawBlobVec([net.blobs['x']])
    ints = caffe._caffe.IntVec()
    ints.extend([1, np.int64(2)])
    with pytest.raises(TypeError):
        ints.append(1.5)
    names = caffe._caffe.StringVec()
    names.append('a')
    with pytest.raises(TypeError):
        names[0] = 3
    assert list(ints) == [1, 2] and list(names) == ['a']


def test_blob_vec_add_blob_appends_a_blob_of_zeros():
    v = caffe._caffe.BlobVec()
    v.add_blob(2, 3)
    assert v[0].shape == (2, 3) and not v[0].data.any() and v[0].count == 6


def test_parameter_classes_cannot_be_made_from_python():
    for cls in (caffe._caffe.LayerParameter, caffe._caffe.SolverParameter):
        with pytest.raises(RuntimeError, match='cannot be instantiated'):
            cls()


def test_solver_param_shows_max_iter_display_and_layer_wise_reduce(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'net.prototxt').write_text(NET)
    (tmp_path / 'solver.prototxt').write_text('net: "net.prototxt"\nbase_lr: 0.1\nlr_policy: "fixed"\nmax_iter: 7\n'
                                              'display: 3\nlayer_wise_reduce: false\nsnapshot_prefix: "s"\n')
    p = caffe.SGDSolver('solver.prototxt').param
    assert isinstance(p, caffe._caffe.SolverParameter)
    assert (p.max_iter, p.display, p.layer_wise_reduce) == (7, 3, False)


@pytest.fixture
def solvers_log():
    logger = logging.getLogger('solvers')
    saved = logger.level, list(logger.handlers), dict(caffe._caffe._log_state)
    yield
    logger.setLevel(saved[0])
    logger.handlers[:] = saved[1]
    caffe._caffe._log_state.update(saved[2])


def test_init_log_then_log_writes_a_glog_line_and_a_second_init_fails(solvers_log, capsys):
    caffe._caffe._log_state['initialized'] = False
    caffe.init_log()
    caffe.log('hello from pycaffe')
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith('I') and line.endswith('] hello from pycaffe')
    with pytest.raises(RuntimeError, match='twice'):
        caffe.init_log(1)


def test_init_log_level_keeps_lower_severities_out(solvers_log, capsys):
    caffe._caffe._log_state['initialized'] = False
    caffe.init_log(1)
    caffe.log('not shown')
    assert 'not shown' not in capsys.readouterr().err


def test_a_script_imports_caffe_binding_modules(tmp_path):
    script = tmp_path / 's.py'
    script.write_text('import caffe._caffe, caffe.pycaffe\nfrom caffe._caffe import RawBlobVec\n'
                      'print(RawBlobVec.__name__, caffe.pycaffe.Net is caffe.Net)\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, '-m', 'pycaffe', str(script)], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['RawBlobVec', 'True']
