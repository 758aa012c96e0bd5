"""Forward time of a deploy net on this machine, as the paper's Table 1 measures it (batch 1, TEST phase).

The parameters are drawn from N(0, 0.01) and the inputs from N(0, 50), magnitudes like a trained net's on
mean-subtracted pixels (the values do not change which kernels run); untimed warm-up forwards let torch pick its
kernels and allocate, then `repeat` forwards are timed, each waiting for a CUDA device to finish.
"""
import time

import numpy as np
import torch

from .net import Net

__all__ = ['forward_times']


def forward_times(net_param, device='cpu', repeat=3, warmup=1, seed=0):
    """Seconds of each of `repeat` timed forwards of `net_param` (its Input shapes) on `device`."""
    if repeat < 1 or warmup < 0:
        raise ValueError(f'repeat must be >= 1 and warmup >= 0, not {repeat} and {warmup}')
    device = torch.device(device)
    torch.manual_seed(seed)
    net = Net(net_param, phase='test', device=device)
    with torch.no_grad():
        for blobs in net.params.values():
            for p in blobs:
                p.normal_(0, 0.01)
    rng = np.random.RandomState(seed)
    inputs = {name: torch.from_numpy((rng.randn(*net.blob_shapes[name]) * 50).astype(np.float32)).to(device)
              for name in net.inputs}

    def forward():
        net.forward(**inputs)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    times = []
    with torch.no_grad():
        for i in range(warmup + repeat):
            t = time.perf_counter()
            forward()
            if i >= warmup:
                times.append(time.perf_counter() - t)
    return times
