"""tools/cuda_check.py's logic, run small on the CPU: every step of the check a GPU session runs once (the device
compared against the CPU is then the CPU in channels_last), and its bookkeeping."""
import json

import pytest
import torch

from devicecheck import STEPS, run_all


def test_every_step_of_the_device_check_runs_small_on_the_cpu(tmp_path):
    lines = []
    summary = run_all(device='cpu', out=str(tmp_path), tiny=True, log=lines.append)
    steps = summary['steps']
    assert summary['ok'], json.dumps({k: v.get('error') or v.get('summary') for k, v in steps.items()})
    assert list(steps) == list(STEPS) and len(lines) == len(STEPS)
    assert json.loads((tmp_path / 'summary.json').read_text())['steps'].keys() == steps.keys()
    assert 'passed' in steps['tests']['summary']
    assert len(steps['devices']['nets']) == 2 and steps['devices']['worst']['forward'] <= 1e-5
    fp32 = steps['bench']['runs']['fp32']
    assert fp32['forward_s'] > 0 and fp32['train_iteration_s'] > 0 and fp32['memory']['saved_for_backward'] > 0
    assert set(steps['fast_mode']['scores']) == {'fp32', 'tf32', 'bf16'}
    assert steps['ddp']['identical'] and steps['ddp']['max_relative_difference'] == 0


def test_a_failing_step_is_recorded_and_the_next_one_still_runs(tmp_path, monkeypatch):
    def broken(device, tiny, out):
        raise RuntimeError('no luck')
    monkeypatch.setitem(STEPS, 'devices', broken)
    monkeypatch.setitem(STEPS, 'ddp', lambda device, tiny, out: {'ok': True, 'identical': True,
                                                                  'max_relative_difference': 0.0})
    summary = run_all(device='cpu', out=str(tmp_path), tiny=True, steps=['devices', 'ddp'], log=lambda s: None)
    assert not summary['ok'] and summary['steps']['devices']['error'] == 'RuntimeError: no luck'
    assert summary['steps']['ddp']['ok']


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is present')
def test_checking_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match='sees no CUDA device'):
        run_all(device='cuda', out=str(tmp_path))
