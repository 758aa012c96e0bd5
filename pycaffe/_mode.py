"""Caffe's global mode (Caffe::mode, Caffe::SetDevice, Caffe::set_random_seed) as pycaffe sets it.

`set_mode_gpu()` makes the nets run on CUDA (device `set_device(i)`, default 0): nets built afterwards are built
there, and a net built before moves at its next call, as Caffe's blobs follow the mode. Where no CUDA device is
available, `set_mode_gpu()` and `set_device()` raise, unless CPU fallback was asked for (`python -m pycaffe --cpu`,
or `pycaffe.fall_back_to_cpu()`): then they say once on stderr that the run stays on the CPU.
"""
import sys

import torch

_state = {'gpu': False, 'device_id': 0, 'cpu_fallback': False, 'announced': False}


def fall_back_to_cpu(enable=True):
    """Let set_mode_gpu()/set_device() run on the CPU where no CUDA device exists (announced once on stderr)."""
    _state['cpu_fallback'] = bool(enable)


def _cuda_or_fallback(call):
    if torch.cuda.is_available():
        return True
    if _state['cpu_fallback']:
        if not _state['announced']:
            print(f'pycaffe: {call} asked for the GPU; no CUDA device is available, so this run stays on the CPU '
                  '(--cpu)', file=sys.stderr, flush=True)
            _state['announced'] = True
        return False
    raise RuntimeError(f'caffe.{call}: no CUDA device is available (torch.cuda.is_available() is False). Use '
                       'caffe.set_mode_cpu(), or run the script with `python -m pycaffe --cpu SCRIPT.py` to let '
                       'set_mode_gpu()/set_device() run on the CPU.')


def set_mode_cpu():
    """Caffe::set_mode(CPU)."""
    _state['gpu'] = False


def set_mode_gpu():
    """Caffe::set_mode(GPU): nets run on CUDA device set_device() chose (0 by default)."""
    _state['gpu'] = _cuda_or_fallback('set_mode_gpu()')


def set_device(device_id):
    """Caffe::SetDevice: the CUDA device GPU mode uses."""
    device_id = int(device_id)
    if _cuda_or_fallback(f'set_device({device_id})'):
        n = torch.cuda.device_count()
        if not 0 <= device_id < n:
            raise RuntimeError(f'caffe.set_device({device_id}): there are {n} CUDA devices (0..{n - 1})')
        torch.cuda.set_device(device_id)
    _state['device_id'] = device_id


def set_random_seed(seed):
    """Caffe::set_random_seed: the generator of fillers and Dropout masks (torch's here) and the stream Caffe's
    data layers draw their seeds from (Caffe's mt19937, runtime.caffe_data.rng)."""
    from runtime.caffe_data.rng import set_random_seed as seed_data_layers
    seed_data_layers(int(seed))
    torch.manual_seed(int(seed))


def device():
    """The torch device nets use in the current mode."""
    if _state['gpu']:
        return torch.device('cuda', _state['device_id'])
    return torch.device('cpu')
