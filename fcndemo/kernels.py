"""What the demo's figures depend on, and the CPU kernel path that makes them the same on every x86-64 machine.

The demo trains with the recipe's tiny fixed rates and momentum 0.99 for a few hundred iterations: the run is
chaotic, so a last-bit difference in one convolution grows into mean IUs points apart (README's demo section shows
the spread over kernel paths and seeds). torch picks its CPU kernels by the machine: oneDNN's convolutions by ISA
and cache sizes, ATen's vector code by ISA, MKL's GEMM by CPU; and MKL honours a fixed reproducibility branch such
as MKL_CBWR=AVX2 only on Intel CPUs (on others it silently takes its automatic branch).

So tools/demo.py runs the demo in a process whose environment pins the path before torch loads (its KERNEL_ENV:
ATen's vectorized kernels at AVX2, which every x86-64 CPU with AVX2 executes to the same bits, and MKL's COMPATIBLE
branch, the SSE2 code without the approximate rcpps/rsqrtps instructions that Intel documents as giving the same
results on Intel and non-Intel CPUs), and `run` turns oneDNN off, so convolutions go through ATen's im2col and
MKL's GEMM. With that, the figures depend on: the seed and the demo's settings, the thread count (MKL's reproducible
branches hold for a fixed number of threads; the demo uses 1 unless --threads says otherwise), the torch build
(its MKL), an x86-64 CPU with AVX2, and the dataset's bytes (`dataset_fingerprint`, printed and stored in
results.json: a different Pillow could encode the JPEGs otherwise). `in_effect` says what a run actually used (a
process that loaded torch before the variables were set keeps torch's own choice; the demo says so).
"""
import contextlib
import hashlib
import os

__all__ = ['PINNED', 'in_effect', 'differences', 'dataset_fingerprint', 'cpu_settings']

# What a run on the pinned path reports through in_effect() (threads excluded: they do not change the figures).
# tools/demo.py sets the environment that gives it (its KERNEL_ENV) before torch loads.
PINNED = {'aten_capability': 'AVX2', 'mkl_cbwr': 'COMPATIBLE', 'onednn': False}


def in_effect(onednn):
    """The kernel path of this process: {'torch', 'aten_capability', 'mkl_cbwr', 'onednn', 'threads'}."""
    import torch    # here, not at the top: tools/demo.py pins the kernels before torch loads
    return {'torch': torch.__version__, 'aten_capability': torch.backends.cpu.get_cpu_capability(),
            'mkl_cbwr': os.environ.get('MKL_CBWR', 'unset'), 'onednn': bool(onednn),
            'threads': torch.get_num_threads()}


def differences(kernels):
    """The settings in `kernels` (from in_effect) that differ from the pinned path, as 'name X (pinned: Y)'."""
    return [f'{k} {kernels[k]} (pinned: {v})' for k, v in PINNED.items() if kernels.get(k) != v]


def dataset_fingerprint(root):
    """SHA-256 (first 16 hex digits) over the relative paths and bytes of every file under `root`."""
    h = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            h.update(os.path.relpath(path, root).replace(os.sep, '/').encode() + b'\0')
            with open(path, 'rb') as f:
                h.update(f.read())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def cpu_settings(threads, pinned):
    """torch's intra-op threads (0: leave torch's choice) and, if `pinned`, oneDNN off, restored on exit."""
    import torch    # here, not at the top: tools/demo.py pins the kernels before torch loads
    saved = torch.get_num_threads(), torch.backends.mkldnn.enabled
    if threads:
        torch.set_num_threads(threads)
    if pinned:
        torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.backends.mkldnn.enabled = saved[1]
