"""Host arrays for tensors that live on a CUDA device, kept as Caffe's SyncedMemory keeps cpu_data beside gpu_data.

A parameter's (or Input blob's, or parameter diff's) `.data` on CUDA is a host copy: taken when read (refreshed
into the same array if the device changed since), marked as possibly written, and copied back to the device before
the next call that runs a net (forward, backward, a solver step, share_with, save, ...). After such a call every
host copy is out of date: it becomes read-only, so a write through an array kept from before the call raises
instead of being lost (in Caffe's GPU mode such a write is silently lost); reading `.data` again gives the current
values in the same array, writable again.

On the CPU no copy exists: `.data` is a numpy view of the tensor itself.
"""
import weakref

import numpy as np
import torch

_COPIES = weakref.WeakSet()     # every host copy of this process
_DIRTY = set()                  # host copies handed out since the last call that ran a net
_SIMULATE = {'on': False}       # tests: treat CPU tensors as device tensors (exercises the copies without CUDA)


def simulate_device(on=True):
    """Keep host copies of CPU tensors too, exactly as of CUDA ones (a test switch: the copy logic then runs on a
    machine without CUDA)."""
    _SIMULATE['on'] = bool(on)


def shares_memory(t):
    """Whether `.data` of this tensor is a numpy view of it (CPU), rather than a host copy (CUDA)."""
    return t.device.type == 'cpu' and not _SIMULATE['on']


class HostCopy:
    """The host array of one device tensor, found through `fetch()` (so a blob that now points at other storage,
    after share_with, is followed)."""

    def __init__(self, fetch):
        self.fetch = fetch
        self.array = None
        self.fresh = False
        _COPIES.add(self)

    def get(self):
        t = self.fetch()
        shape = tuple(t.shape)
        if self.array is None or self.array.shape != shape:
            self.array = np.empty(shape, dtype=np.float32)
            self.fresh = False
        self.array.flags.writeable = True
        if not self.fresh:
            np.copyto(self.array, t.detach().to('cpu', torch.float32).numpy())
            self.fresh = True
        _DIRTY.add(self)
        return self.array

    def flush(self):
        if self.array is None or not self.fresh:
            return
        t = self.fetch()
        if tuple(t.shape) == self.array.shape:
            with torch.no_grad():
                t.copy_(torch.from_numpy(self.array))

    def expire(self):
        self.fresh = False
        if self.array is not None:
            self.array.flags.writeable = False


def before_call():
    """Copy every host array handed out since the last call back to its device tensor."""
    for c in list(_DIRTY):
        c.flush()
    _DIRTY.clear()


def after_call():
    """The device tensors may have changed: every host copy is out of date (read-only until read again)."""
    for c in list(_COPIES):
        c.expire()
    _DIRTY.clear()
