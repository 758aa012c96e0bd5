"""How a net computes in float32: exactly (the default), or an opt-in fast mode.

    'fp32'  IEEE float32 throughout, as Caffe computes: TF32 is turned off for the net's CUDA convolutions and matrix
            products while it runs forward and backward, whatever the process default is (torch enables TF32 for
            cuDNN convolutions by default), and CPU matrix products run at 'highest' precision.
    'tf32'  TF32 allowed for CUDA convolutions and matrix products (10-bit mantissa products, float32 sums).
    'bf16'  'tf32' plus autocast to bfloat16 in forward (convolutions and matrix products in bfloat16 on CUDA and
            on CPUs with bfloat16 support); parameters, their gradients and the loss stay float32, and the net's
            outputs are returned as float32.

The fast modes change results beyond Caffe's rounding (the oracle tests hold for 'fp32' only); tools/bench.py and
tools/cuda_check.py measure what they change.
"""
import contextlib

import torch

PRECISIONS = ('fp32', 'tf32', 'bf16')


def check(precision):
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {", ".join(PRECISIONS)}, not {precision!r}')
    return precision


@contextlib.contextmanager
def _tf32(allow):
    """Set TF32 for cuDNN convolutions and CUDA matrix products for the duration (restored after), through the
    fp32_precision settings where this torch has them, else the allow_tf32 flags."""
    cudnn_conv = getattr(getattr(torch.backends.cudnn, 'conv', None), 'fp32_precision', None)
    matmul = getattr(torch.backends.cuda.matmul, 'fp32_precision', None)
    if cudnn_conv is not None and matmul is not None:
        want = 'tf32' if allow else 'ieee'
        torch.backends.cudnn.conv.fp32_precision = want
        torch.backends.cuda.matmul.fp32_precision = want
        try:
            yield
        finally:
            torch.backends.cudnn.conv.fp32_precision = cudnn_conv
            torch.backends.cuda.matmul.fp32_precision = matmul
        return
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@contextlib.contextmanager
def _highest_cpu_matmul():
    old = torch.get_float32_matmul_precision()
    if old != 'highest':
        torch.set_float32_matmul_precision('highest')
    try:
        yield
    finally:
        if old != 'highest':
            torch.set_float32_matmul_precision(old)


def context(precision, device, forward=True):
    """The context a net of `precision` on `device` runs its forward (forward=True) or backward in."""
    device = torch.device(device)
    stack = contextlib.ExitStack()
    if device.type == 'cuda':
        stack.enter_context(_tf32(precision != 'fp32'))
    elif device.type == 'cpu' and precision == 'fp32':
        stack.enter_context(_highest_cpu_matmul())
    if precision == 'bf16' and forward and device.type in ('cuda', 'cpu'):
        stack.enter_context(torch.autocast(device.type, dtype=torch.bfloat16))
    return stack


def autocast_on_cpu():
    """Whether CPU autocast is active (torch < 2.4 spells it is_autocast_cpu_enabled)."""
    try:
        return torch.is_autocast_enabled('cpu')
    except TypeError:
        return torch.is_autocast_cpu_enabled()
