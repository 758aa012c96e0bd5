"""Blob sizes against the device's memory, checked before anything is allocated.

A shape whose byte count overflows int64, or that needs more memory than the device has in all, cannot be
allocated: the allocator's own error (a traceback from alloc_cpu.cpp or CUDA) names neither the net nor the layer,
and on the CPU an allocation that fits the address space but not the memory ends in the kernel's OOM killer.
"""
import functools
import math
import os

import torch

from .layers.base import LayerError

__all__ = ['device_memory', 'check_blob', 'format_bytes']

INT64_MAX = (1 << 63) - 1


@functools.lru_cache(maxsize=None)
def _physical_memory():
    try:
        return os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    except (ValueError, OSError, AttributeError):  # pragma: no cover  (not POSIX)
        return None


def device_memory(device):
    """The bytes of memory a device has in all (the CPU: physical memory; CUDA: the GPU's), or None where it is
    not known (meta tensors, other device types)."""
    device = torch.device(device)
    if device.type == 'cpu':
        return _physical_memory()
    if device.type == 'cuda' and torch.cuda.is_available():
        return torch.cuda.get_device_properties(device).total_memory
    return None


def format_bytes(n):
    """Bytes with the binary unit that reads best: '1.5 GiB', '120 B'."""
    for unit, size in (('TiB', 1 << 40), ('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        if n >= size:
            return f'{n / size:.1f} {unit}'
    return f'{n} B'


def check_blob(shape, dtype, device, what):
    """LayerError naming `what` (the file, the layer, the blob) when a tensor of `shape` and `dtype` cannot be
    allocated on `device`: its byte count overflows int64, or exceeds the device's whole memory."""
    shape = tuple(int(d) for d in shape)
    itemsize = torch.empty((), dtype=dtype).element_size()
    nbytes = math.prod(shape) * itemsize
    dims = 'x'.join(map(str, shape)) or 'scalar'
    if nbytes > INT64_MAX:
        raise LayerError(f'{what}: the shape {dims} holds {math.prod(shape)} values, {nbytes} bytes: more than '
                         f'an int64 byte count can hold')
    total = device_memory(device)
    if total is not None and nbytes > total:
        raise LayerError(f'{what}: the shape {dims} needs {nbytes} bytes ({format_bytes(nbytes)}), more than the '
                         f'{format_bytes(total)} of memory of the {torch.device(device).type} device')
    return nbytes
