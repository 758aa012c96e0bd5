"""The solvers against the real Caffe: golden files made by tests/golden/make_solvers.py in the oracle's venv."""
import json
import pathlib

import numpy as np
import pytest

from netspec import caffe_pb2
from solvers import LearningRate, get_solver, SGDSolver

from devices import DEVICES

GOLD = pathlib.Path(__file__).parent / 'golden' / 'solvers'
RUNS = ['sgd', 'sgd_l1', 'sgd_step', 'nesterov', 'adagrad', 'rmsprop', 'adadelta', 'adam']
pytestmark = [pytest.mark.oracle, pytest.mark.usefixtures('one_thread')]


@pytest.fixture(scope='module')
def golden():
    return np.load(GOLD / 'solvers.npz')


def run_oracle_recipe(name, golden, steps=10, device='cpu'):
    s = get_solver(GOLD / f'solver_{name}.prototxt', device=device)
    init = {k: [golden[f'init/{k}/{i}'] for i in range(len(v))] for k, v in s.net.params.items()}
    s.net.load_arrays(init, source='golden init')
    for it in range(steps):
        s.feed = {'data': golden['inputs_data'][it], 'label': golden['inputs_label'][it]}
        s.step(1)
    return s


def relerr(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', RUNS)
def test_ten_steps_give_caffes_weights_and_history(name, golden, device):
    s = run_oracle_recipe(name, golden, device=device)
    assert s.iter == 10
    for layer, blobs in s.net.params.items():
        for i, p in enumerate(blobs):
            assert relerr(p.detach().cpu().numpy(), golden[f'{name}/step10/{layer}/{i}']) < 1e-5, (layer, i)
    n_hist = len([k for k in golden.files if k.startswith(f'{name}/history/')])
    assert len(s.history) == n_hist
    for j, h in enumerate(s.history):
        assert h.device.type == device
        assert relerr(h.cpu().numpy(), golden[f'{name}/history/{j}']) < 1e-5, j
    assert s.lr.current_step == int(golden[f'{name}/current_step'])


def test_every_step_matches_caffe_not_only_the_last(golden):
    """Fed the pycaffe way: the Input blobs are set on the net (they keep their values), then step(1)."""
    s = get_solver(GOLD / 'solver_nesterov.prototxt')
    s.net.load_arrays({k: [golden[f'init/{k}/{i}'] for i in range(len(v))] for k, v in s.net.params.items()})
    for it in range(10):
        s.net.set_input('data', golden['inputs_data'][it])
        s.net.set_input('label', golden['inputs_label'][it])
        s.step(1)
        assert relerr(s.net.params['conv1'][0].detach().numpy(), golden[f'nesterov/step{it + 1}/conv1/0']) < 1e-5


def test_frozen_blobs_stay_fixed_but_keep_history_slots(golden):
    s = run_oracle_recipe('adam', golden, steps=3)
    np.testing.assert_array_equal(s.net.params['upscore'][0].detach().numpy(), golden['init/upscore/0'])
    assert len(s.history) == 2 * len(s.learnables) == 14  # Adam: m for every blob, then v for every blob


def test_clipping_is_exercised_by_the_fixture(golden):
    """The golden runs use clip_gradients 25, far below the gradient norm, so clipping acts at every step."""
    from solvers.rules import clip_gradients
    s = run_oracle_recipe('sgd', golden, steps=1)
    s.clear_param_diffs()
    s.feed = {'data': golden['inputs_data'][1], 'label': golden['inputs_label'][1]}
    s.forward_backward()
    norm, scale = clip_gradients(s.learnables, 25.0)
    assert norm > 25 and scale == pytest.approx(25.0 / norm, rel=1e-6)


def test_sgdsolver_forces_sgd_whatever_the_prototxt_says(golden):
    s = SGDSolver(GOLD / 'solver_adam.prototxt')
    assert s.type == 'SGD' and len(s.history) == len(s.learnables)


# -- learning-rate policies ------------------------------------------------------------------------------------------


def policy_param(name):
    table = json.loads(str(np.load(GOLD / 'lr_policies.npz')['settings']))
    p = caffe_pb2.SolverParameter(lr_policy=name)
    for k, v in table[name].items():
        if isinstance(v, list):
            getattr(p, k).extend(v)
        else:
            setattr(p, k, v)
    return p


@pytest.mark.parametrize('policy', ['fixed', 'step', 'exp', 'inv', 'multistep', 'poly', 'sigmoid'])
def test_lr_policy_gives_caffes_rate_bit_for_bit_at_0_to_1000(policy):
    caffe_rates = np.load(GOLD / 'lr_policies.npz')[policy]
    lr = LearningRate(policy_param(policy))
    ours = np.array([lr(i) for i in range(1001)], np.float32)
    np.testing.assert_array_equal(ours, caffe_rates)
    assert len(np.unique(caffe_rates)) > (1 if policy == 'fixed' else 3) - 1


def test_python_data_layer_training_matches_caffe(golden, monkeypatch):
    """The reference recipes' flow: a Python data layer (seeded random order) feeds the train net and each of the
    iter_size passes draws its own sample; 10 SGD steps give Caffe's weights at every step."""
    monkeypatch.syspath_prepend(str(GOLD))
    ref = np.load(GOLD / 'pydata_run.npz')
    s = get_solver(GOLD / 'solver_pydata.prototxt')
    s.net.load_arrays({k: [golden[f'init/{k}/{i}'] for i in range(len(v))] for k, v in s.net.params.items()})
    for step in range(10):
        s.step(1)
        assert float(s.net.blobs['loss'].detach()) == pytest.approx(float(ref[f'loss/{step}']), rel=1e-5)
        for layer, blobs in s.net.params.items():
            for i, p in enumerate(blobs):
                assert relerr(p.detach().numpy(), ref[f'step{step + 1}/{layer}/{i}']) < 1e-5, (step, layer, i)
