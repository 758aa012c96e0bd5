"""The checks a session with a GPU runs once (tools/cuda_check.py): everything the CPU-only machine could not prove.

    from devicecheck import run_all
    summary = run_all(device='cuda', out='cuda-check')      # or device='cpu', tiny=True: the same logic, small

Steps (each returns a JSON-able dict with 'ok'; run_all runs them all, catching each one's failure):
  tests         the pytest suite (on a CUDA machine the runtime tests parametrize 'cuda' themselves)
  devices       forward blobs and parameter gradients of every thin reference net on the device against the CPU
                (forward within 1e-5, gradients within 1e-4 of each blob's largest magnitude; TF32 off)
  bench         tools/bench.py's measurements on the device at 500x500, exact fp32 and the fast modes (forward,
                training iteration, peak memory)
  fast_mode     the fast modes' effect on the demo: the demo's FCN-8s scored on its val images in fp32 and bf16
  ddp           2 processes (torchrun) against 1 process with iter_size 2: the same parameters after a few steps
In tiny mode (the CPU test of this logic) every step runs small: a test subset, two nets, 64x64 bench, a minutes-
short demo, a 2-process DDP on the CPU; the device compared against the CPU is then the CPU in channels_last.
"""
from .steps import STEPS, CheckFailed, DeviceUnavailable, check_device, failed_steps, run_all

__all__ = ['STEPS', 'run_all', 'check_device', 'failed_steps', 'CheckFailed', 'DeviceUnavailable']
