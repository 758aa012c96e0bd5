"""pycaffe's multi-GPU calls as a CPU build of Caffe 1.0 answers them: set_solver_count / set_solver_rank /
set_multiprocess store Caffe's process-wide values (runtime.parallel), which the Data and HDF5Data layers
(TRAIN: solver r of n keeps records r, r + n, ...), the solver (only the root solver tests, displays and
snapshots; the seed is offset by the rank) and Python layers (several solvers need multiprocess) read;
NCCL(solver, uid) constructs and does nothing else, as Caffe's class without USE_NCCL."""
import logging

import numpy as np

import pytest

import pycaffe as caffe
from runtime import parallel
from tests.test_data_native import data_net, raw_datum, write_lmdb

NET = '''
layer { name: "data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 1 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "label" top: "loss" }
'''


@pytest.fixture(autouse=True)
def fresh_values():
    parallel.reset()
    yield
    parallel.reset()


@pytest.fixture
def solver_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'net.prototxt').write_text(NET.replace('dim: 1 }', 'dim: 2 }'))
    (tmp_path / 'solver.prototxt').write_text(
        'train_net: "net.prototxt"\ntest_net: "net.prototxt"\ntest_iter: 1\ntest_interval: 1\nbase_lr: 0.1\n'
        'lr_policy: "fixed"\nmax_iter: 2\ndisplay: 1\nsnapshot_prefix: "s"\nsnapshot_after_train: false\n')
    return 'solver.prototxt'


def test_the_setters_store_caffes_values():
    assert (caffe.solver_count(), caffe.solver_rank()) == (1, 0)
    caffe.set_solver_count(4)
    caffe.set_solver_rank(3)
    caffe.set_multiprocess(True)
    assert (caffe.solver_count(), caffe.solver_rank(), parallel.multiprocess()) == (4, 3, True)
    assert not parallel.root_solver()
    with pytest.raises(TypeError, match='int'):
        caffe.set_solver_count('2')


def test_a_train_data_layer_keeps_the_records_of_its_rank(tmp_path):
    write_lmdb(tmp_path / 'db', [raw_datum(1, 1, 1, label=i) for i in range(5)])
    caffe.set_solver_count(2)
    caffe.set_solver_rank(1)
    net = data_net(tmp_path / 'db', batch=3)
    assert net.forward()['label'].tolist() == [1, 3, 0]     # the dealing goes on across the wrap
    net.layers[0].close()
    test = data_net(tmp_path / 'db', batch=3, phase='test')
    assert test.forward()['label'].tolist() == [0, 1, 2]    # TEST nets read every record
    test.layers[0].close()


def test_a_train_hdf5_data_layer_keeps_the_rows_of_its_rank(tmp_path):
    import h5py
    from runtime import Net
    with h5py.File(tmp_path / 'a.h5', 'w') as f:
        f['data'] = np.arange(5, dtype=np.float32).reshape(5, 1)
    (tmp_path / 'list.txt').write_text(str(tmp_path / 'a.h5') + '\n')
    text = (f'layer {{ name: "d" type: "HDF5Data" top: "data" hdf5_data_param {{ source: "{tmp_path}/list.txt" '
            'batch_size: 3 } }')
    caffe.set_solver_count(2)
    caffe.set_solver_rank(1)
    net = Net(text, phase='train')
    assert net.forward()['data'].ravel().tolist() == [1, 3, 0]      # Caffe 1.0's Skip: rows r, r + n, ...
    assert net.forward()['data'].ravel().tolist() == [2, 4, 1]
    assert Net(text, phase='test').forward()['data'].ravel().tolist() == [0, 1, 2]


def test_only_the_root_solver_tests_displays_and_snapshots(solver_file, caplog):
    caffe.set_solver_count(2)
    caffe.set_solver_rank(1)
    s = caffe.SGDSolver(solver_file)
    assert s.test_nets == []          # Caffe builds the test nets on the root solver only
    with caplog.at_level(logging.INFO):
        s.step(2)
    assert s.iter == 2 and not any('Iteration' in r.getMessage() for r in caplog.records)
    with pytest.raises(RuntimeError, match='root_solver'):
        s.snapshot()
    caffe.set_solver_rank(0)
    root = caffe.SGDSolver(solver_file)
    assert len(root.test_nets) == 1
    with caplog.at_level(logging.INFO):
        root.step(1)
    assert any('Iteration 0' in r.getMessage() for r in caplog.records)


def test_python_layers_of_a_train_net_need_multiprocess_with_several_solvers(tmp_path):
    (tmp_path / 'par_layer.py').write_text('import pycaffe as caffe\nclass L(caffe.Layer):\n'
                                           '    def setup(self, b, t): pass\n'
                                           '    def reshape(self, b, t): t[0].reshape(1)\n'
                                           '    def forward(self, b, t): t[0].data[...] = 1\n')
    net = tmp_path / 'net.prototxt'
    net.write_text('layer { name: "p" type: "Python" top: "x" python_param { module: "par_layer" layer: "L" } }')
    import sys
    sys.path.insert(0, str(tmp_path))
    try:
        caffe.set_solver_count(2)
        with pytest.raises(ValueError, match='PythonLayer does not support CLI Multi-GPU'):
            caffe.Net(str(net), caffe.TRAIN)
        caffe.Net(str(net), caffe.TEST)            # TEST nets are not checked
        caffe.set_multiprocess(True)
        assert caffe.Net(str(net), caffe.TRAIN).forward()['x'].tolist() == [1.0]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop('par_layer', None)


def test_nccl_constructs_and_does_nothing_else(solver_file):
    s = caffe.SGDSolver(solver_file)
    nccl = caffe.NCCL(s, '')
    with pytest.raises(TypeError, match='did not match C\+\+ signature'):
        s.add_callback(nccl)                   # without USE_NCCL, Solver_add_nccl(SGDSolver*) takes no NCCL
    s.add_callback()                           # ... and matches a call with no argument: nothing
    assert s._s.callbacks == []
    assert [m for m in dir(nccl) if not m.startswith('_')] == []
    s.step(1)
    assert s.iter == 1
    with pytest.raises(TypeError, match='Solver'):
        caffe.NCCL(object(), '')
