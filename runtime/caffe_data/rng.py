"""Caffe's random generators, followed draw for draw where Caffe's data layers use them.

- `MT19937`: Caffe's `rng_t` (boost::mt19937): the same 32-bit outputs for the same seed (numpy's MT19937 with
  the reference seeding). `rand()` is one output, as `(*rng)()` or `caffe_rng_rand()`.
- The process-wide stream (`caffe_rng_rand`): Caffe::rng_stream(), reseeded by `set_random_seed` (pycaffe's
  `caffe.set_random_seed`, the solver's `random_seed`). Here only the data layers draw from it (Caffe's fillers
  draw from it too; the runtime's fillers use torch's generator), so a data layer built after layers with random
  fillers gets other seeds than in Caffe.
- `uniform_int(gen, lo, hi)`: boost::uniform_int<>(lo, hi)(gen) (boost's bucket rejection); `shuffle(items, gen)`:
  caffe::shuffle (Fisher-Yates with it), as ImageData shuffles its list.
- `GlibcRand` / `random_shuffle`: std::random_shuffle without a generator (libstdc++ over glibc's rand(), never
  seeded by Caffe: srand(1)), as HDF5Data shuffles its files and rows; one stream per process, as in Caffe.
"""
import os
import threading

import numpy as np

_U32 = 0xFFFFFFFF


class MT19937:
    """boost::mt19937 seeded with a 32-bit seed; `rand()` gives its next output."""

    def __init__(self, seed):
        state = np.random.RandomState(int(seed) & _U32).get_state()
        self._bg = np.random.MT19937()
        self._bg.state = {'bit_generator': 'MT19937', 'state': {'key': state[1], 'pos': state[2]}}

    def rand(self):
        return int(self._bg.random_raw())

    def rand_n(self, n):
        """The next n outputs as a uint64 array."""
        return self._bg.random_raw(n)


def uniform_int(gen, lo, hi):
    """boost::uniform_int<>(lo, hi)(gen) for a 32-bit engine: bucket rejection on the engine's outputs."""
    rng = hi - lo
    if rng == 0:
        return lo
    if rng >= _U32:
        raise ValueError(f'uniform_int over {rng + 1} values needs more than one 32-bit draw')
    bucket = _U32 // (rng + 1)
    if _U32 % (rng + 1) == rng:
        bucket += 1
    while True:
        r = gen.rand() // bucket
        if r <= rng:
            return lo + r


def shuffle(items, gen):
    """caffe::shuffle (util/rng.hpp): Fisher-Yates from the end, positions by boost::uniform_int; in place."""
    for i in range(len(items) - 1, 0, -1):
        j = uniform_int(gen, 0, i)
        items[i], items[j] = items[j], items[i]
    return items


class GlibcRand:
    """glibc's rand() (the TYPE_3 additive feedback generator of random_r), as srand(seed) starts it."""

    def __init__(self, seed=1):
        seed = int(seed) & _U32 or 1
        r = [seed] + [0] * 33
        word = seed
        for i in range(1, 31):      # state[i] = 16807 * state[i-1] % 2147483647, computed as glibc does
            hi, lo = divmod(word, 127773)
            word = 16807 * lo - 2836 * hi
            if word < 0:
                word += 2147483647
            r[i] = word
        for i in range(31, 34):
            r[i] = r[i - 31]
        self._r = [x & _U32 for x in r]
        for _ in range(310):        # srand discards the first 310 outputs
            self._next()
        self._lock = threading.Lock()

    def _next(self):
        r = self._r
        v = (r[-31] + r[-3]) & _U32
        r.append(v)
        del r[0]
        return v >> 1

    def rand(self):
        with self._lock:
            return self._next()


_glibc = GlibcRand(1)


def random_shuffle(items, gen=None):
    """std::random_shuffle(first, last) of libstdc++: for i = 1..n-1 swap i with rand() % (i + 1); in place."""
    gen = gen or _glibc
    for i in range(1, len(items)):
        j = gen.rand() % (i + 1)
        if i != j:
            items[i], items[j] = items[j], items[i]
    return items


def reset_glibc_rand(seed=1):
    """Restart the process's rand() stream (srand(seed)); a fresh Caffe process starts at srand(1)."""
    global _glibc
    _glibc = GlibcRand(seed)


class _Stream:
    def __init__(self):
        self.gen = MT19937(int.from_bytes(os.urandom(4), 'little'))   # Caffe: cluster_seedgen() until seeded
        self.lock = threading.Lock()


_stream = _Stream()


def set_random_seed(seed):
    """Caffe::set_random_seed: restart the process-wide stream the data layers draw their seeds from."""
    with _stream.lock:
        _stream.gen = MT19937(seed)


def caffe_rng_rand():
    """caffe_rng_rand(): the next output of the process-wide stream."""
    with _stream.lock:
        return _stream.gen.rand()
