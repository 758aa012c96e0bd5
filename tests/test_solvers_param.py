"""solver.prototxt handling and Caffe-format logs."""
import logging
import os
import re

import pytest

from netspec import caffe_pb2
from solvers import SolverParamError, load_param
from solvers.param import net_specs


def write(folder, text, name='solver.prototxt'):
    path = os.path.join(folder, name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def test_relative_paths_resolve_against_the_solver_files_folder(tmp_path, monkeypatch):
    path = write(tmp_path, 'train_net: "train.prototxt"\ntest_net: "sub/val.prototxt"\ntest_iter: 3\n'
                           'base_lr: 0.1\nlr_policy: "fixed"\nsnapshot: 10\nsnapshot_prefix: "snapshot/train"\n')
    monkeypatch.chdir('/')
    p, base = load_param(path)
    assert base == str(tmp_path)
    assert p.train_net == str(tmp_path / 'train.prototxt')
    assert list(p.test_net) == [str(tmp_path / 'sub' / 'val.prototxt')]
    assert p.snapshot_prefix == str(tmp_path / 'snapshot' / 'train')


def test_absolute_paths_are_kept(tmp_path):
    p, _ = load_param(write(tmp_path, 'net: "/abs/net.prototxt"\nlr_policy: "fixed"\nsnapshot_prefix: "/x/y"\n'))
    assert p.net == '/abs/net.prototxt' and p.snapshot_prefix == '/x/y'


def test_legacy_solver_type_is_upgraded_to_type(tmp_path):
    p, _ = load_param(write(tmp_path, 'net: "n.prototxt"\nlr_policy: "fixed"\nsolver_type: ADADELTA\n'))
    assert p.type == 'AdaDelta' and not p.HasField('solver_type')


def test_conflicting_solver_type_and_type_are_refused(tmp_path):
    with pytest.raises(SolverParamError, match='cannot be both specified'):
        load_param(write(tmp_path, 'net: "n.prototxt"\nlr_policy: "fixed"\nsolver_type: ADAM\ntype: "SGD"\n'))


def test_missing_snapshot_prefix_defaults_to_the_solver_file_name(tmp_path):
    p, _ = load_param(write(tmp_path, 'net: "n.prototxt"\nlr_policy: "fixed"\nsnapshot: 5\n', 'my_solver.prototxt'))
    assert p.snapshot_prefix == str(tmp_path / 'my_solver')


@pytest.mark.parametrize('text, message', [
    ('lr_policy: "fixed"\n', 'exactly one train net'),
    ('net: "a"\ntrain_net: "b"\nlr_policy: "fixed"\n', 'exactly one train net'),
    ('train_net: "a"\ntest_net: "b"\nlr_policy: "fixed"\n', 'test_iter must be specified'),
    ('net: "a"\nlr_policy: "fixed"\ntype: "AdaGrad"\nmomentum: 0.9\n', 'Momentum cannot be used with AdaGrad'),
    ('net: "a"\nlr_policy: "fixed"\ntype: "RMSProp"\nmomentum: 0.9\n', 'Momentum cannot be used with RMSProp'),
    ('net: "a"\nlr_policy: "fixed"\ntype: "Adamax"\n', 'Unknown solver type'),
    ('net: "a"\nlr_policy: "cosine"\n', None),
    ('net: "a"\nlr_policy: "fixed"\nregularization_type: "L3"\n', 'Unknown regularization type'),
])
def test_caffes_checks_refuse_bad_solvers_naming_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    if message is None:  # the lr policy is checked when the rate is first needed, as in Caffe
        from solvers import LearningRate
        p, _ = load_param(path)
        with pytest.raises(ValueError, match='Unknown learning rate policy'):
            LearningRate(p)
        return
    with pytest.raises(SolverParamError, match=message) as e:
        load_param(path)
    assert str(path) in str(e.value)


def test_generic_net_gives_train_and_one_test_net_per_test_iter(tmp_path):
    p, _ = load_param(write(tmp_path, 'net: "n.prototxt"\ntest_iter: 2\ntest_iter: 5\nlr_policy: "fixed"\n'
                                      'test_state { stage: "a" }\ntest_state { stage: "b" }\n'))
    (phase, net, state), tests = net_specs(p)
    assert phase == caffe_pb2.TRAIN and state.phase == caffe_pb2.TRAIN and net.endswith('n.prototxt')
    assert [(t[0], list(t[2].stage)) for t in tests] == [(caffe_pb2.TEST, ['a']), (caffe_pb2.TEST, ['b'])]


# -- logs ------------------------------------------------------------------------------------------------------------
# Caffe's tools/extra/parse_log.py regular expressions
REGEX_ITERATION = re.compile(r'Iteration (\d+)')
REGEX_TRAIN_OUTPUT = re.compile(r'Train net output #(\d+): (\S+) = ([\.\deE+-]+)')
REGEX_TEST_OUTPUT = re.compile(r'Test net output #(\d+): (\S+) = ([\.\deE+-]+)')
REGEX_LEARNING_RATE = re.compile(r'lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)')


def test_logs_are_in_caffes_format_and_parse_with_caffes_regexes(tmp_path, caplog):
    from golden.solvers import testkit as kit
    path = kit.write_solver(tmp_path, display=2, snapshot=3, base_lr=0.0125, dropout=False,
                            test_net=kit.net_path(tmp_path, False), test_iter=2, test_interval=2)
    s = kit.make_solver(path)
    xs, ys = kit.pool()
    s.test_nets[0].set_input('data', xs[0])
    s.test_nets[0].set_input('label', ys[0])
    with caplog.at_level(logging.INFO, logger='solvers'):
        s.step(4)
    lines = [r.getMessage() for r in caplog.records]
    text = '\n'.join(lines)
    assert re.search(r'^Iteration 0 \(0 iter/s, [\d.e+-]+s/2 iters\), loss = [\d.e+-]+$', text, re.M)
    assert re.search(r'^Iteration 2 \([\d.e+-]+ iter/s, [\d.e+-]+s/2 iters\), loss = [\d.e+-]+$', text, re.M)
    assert re.search(r'^    Train net output #0: loss = ([\d.e+-]+) \(\* 1 = \1 loss\)$', text, re.M)
    assert 'Iteration 0, lr = 0.0125' in lines and 'Iteration 2, lr = 0.0125' in lines
    assert 'Iteration 0, Testing net (#0)' in lines and 'Iteration 2, Testing net (#0)' in lines  # test_initialization
    assert re.search(r'^    Test net output #0: loss = ([\d.e+-]+) \(\* 1 = \1 loss\)$', text, re.M)
    assert f'Snapshotting to binary proto file {tmp_path}/snap/train_iter_3.caffemodel' in lines
    assert f'Snapshotting solver state to binary proto file {tmp_path}/snap/train_iter_3.solverstate' in lines
    assert [int(m.group(1)) for m in map(REGEX_ITERATION.search, lines) if m and 'loss =' in m.string] == [0, 2]
    assert {m.group(2) for m in map(REGEX_TRAIN_OUTPUT.search, lines) if m} == {'loss'}
    assert [float(m.group(1)) for m in map(REGEX_LEARNING_RATE.search, lines) if m] == [0.0125, 0.0125]
    assert len([m for m in map(REGEX_TEST_OUTPUT.search, lines) if m]) == 2


def test_solver_weights_field_initializes_the_nets(tmp_path):
    import numpy as np
    from golden.solvers import testkit as kit
    from weights import write_weights
    arrays = kit.init_arrays()
    write_weights(str(tmp_path / 'init.caffemodel'), arrays)
    from solvers import get_solver
    s = get_solver(kit.write_solver(tmp_path, weights='init.caffemodel', dropout=False))
    np.testing.assert_array_equal(s.net.params['conv2'][0].detach().numpy(), arrays['conv2'][0])


def test_every_reference_solver_loads_and_has_a_recipe(reference):
    from fcnapps.recipe import RECIPES
    folders = sorted(p.parent for p in reference.glob('*/solver.prototxt'))
    assert len(folders) == 15
    for folder in folders:
        p, base = load_param(folder / 'solver.prototxt')
        assert p.type == 'SGD' and p.lr_policy == 'fixed', folder.name
        assert round(p.momentum, 6) in (0.9, 0.99), folder.name
        assert p.train_net.startswith(str(folder)) and p.test_net[0].startswith(str(folder))
        assert folder.name in RECIPES
        if p.snapshot:
            assert p.snapshot_prefix == str(folder / 'snapshot' / 'train')
