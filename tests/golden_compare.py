"""Comparison against the oracle's fixtures, shared by the tests: errors relative to the reference blob's scale."""
import numpy as np


def close(ours, ref, rtol, what):
    """Assert max|ours - ref| <= rtol * max|ref| (shapes equal); the message names the blob and shows both."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f'{what}: shape {ours.shape} != {ref.shape}'
    scale = max(float(np.abs(ref).max(initial=0.0)), 1e-30)
    err = float(np.abs(ours - ref).max(initial=0.0))
    assert err <= rtol * scale, f'{what}: max error {err:.3g} is over {rtol} x {scale:.4g}\nours {ours}\ncaffe {ref}'
