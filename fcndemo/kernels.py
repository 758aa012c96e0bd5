"""What the demo's figures depend on, and the CPU kernel path that makes them the same on x86-64 machines with AVX2.

The demo trains with the recipe's tiny fixed rates and momentum 0.99 for a few hundred iterations: the run is
chaotic, so a last-bit difference in one convolution grows into mean IUs several points apart. Each kernel choice
counts: oneDNN's ISA (ONEDNN_MAX_CPU_ISA), ATen's SIMD level (ATEN_CPU_CAPABILITY), MKL's branch (MKL_CBWR) and
oneDNN on or off; the thread count does not, nor does numpy's SIMD level for the synthetic data (numpy's PCG64
streams, Pillow's PNG and JPEG writers). README's demo section gives the figures each kernel path gave.

So tools/demo.py pins the path before torch loads (its KERNEL_ENV: ATen's vectorized kernels at AVX2, MKL's
conditional numerical reproducibility at its AVX2 branch, which Intel documents as giving the same results on every
processor that has AVX2), and `run` turns oneDNN off (its convolution kernels are chosen by ISA and cache sizes),
so convolutions go through ATen's im2col and MKL's GEMM. With that, the figures depend on: the seed and the demo's
settings, the torch build (2.13.0's CPU wheel with MKL 2024.2), an x86-64 CPU with AVX2, and the dataset's bytes
(`dataset_fingerprint`, printed and stored in results.json: a different Pillow could encode the JPEGs otherwise).
`in_effect` says what a run actually used (a process that imported torch before tools/demo.py could pin it keeps
torch's own choice; the demo says so).
"""
import contextlib
import hashlib
import os

__all__ = ['PINNED', 'in_effect', 'differences', 'dataset_fingerprint', 'cpu_settings']

# What a run on the pinned path reports through in_effect() (threads excluded: they do not change the figures).
# tools/demo.py sets the environment that gives it (its KERNEL_ENV) before torch loads.
PINNED = {'aten_capability': 'AVX2', 'mkl_cbwr': 'AVX2', 'onednn': False}


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
