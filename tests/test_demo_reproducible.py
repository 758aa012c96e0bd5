"""The demo's figures do not depend on the machine: tools/demo.py pins the kernel path (fcndemo.kernels).

Two short runs of tools/demo.py in fresh processes (so the pinning happens before torch loads): the second as on an
x86-64 machine with AVX2 but no AVX-512 (oneDNN, MKL and numpy capped at AVX2, OpenBLAS on its Haswell kernels).
Both must give bit-identical weights, and those of the expect file (made on the machine its `machine` field names).
"""
import hashlib
import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from fcndemo import kernels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ['--quick', '--no-progress', '--clf-iters', '4', '--iters', '12,6,6', '--n-train', '3', '--n-val', '2',
        '--score-every', '6']
PINNING = ('ATEN_CPU_CAPABILITY', 'MKL_CBWR', 'MKL_ENABLE_INSTRUCTIONS', 'ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA',
           'NPY_DISABLE_CPU_FEATURES', 'OPENBLAS_CORETYPE')


def avx2_machine():
    """The environment that makes this machine's libraries run as on one whose widest ISA is AVX2."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:     # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    wider = [f for f in __cpu_dispatch__ if f != 'X86_V3' and __cpu_features__.get(f)
             and (f.startswith('AVX512') or f == 'X86_V4')]
    env = {'ONEDNN_MAX_CPU_ISA': 'AVX2', 'MKL_ENABLE_INSTRUCTIONS': 'AVX2', 'OPENBLAS_CORETYPE': 'Haswell'}
    if wider:
        env['NPY_DISABLE_CPU_FEATURES'] = ' '.join(wider)
    return env


def _demo(out, **env):
    environ = {k: v for k, v in os.environ.items() if k not in PINNING}
    environ.update(env, PYTHONPATH=ROOT + os.pathsep + environ.get('PYTHONPATH', ''))
    res = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'demo.py'), '--out', str(out)] + TINY,
                         env=environ, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    with open(os.path.join(out, 'results.json')) as f:
        return json.load(f), res.stdout


def _weights(out):
    from weights.caffemodel import read_caffemodel
    return {stride: read_caffemodel(os.path.join(out, f'voc-fcn{stride}s', 'final.caffemodel'))
            for stride in (32, 16, 8)}


def weights_digest(out):
    """SHA-256 over every final weight of the three stages, in a fixed order (layer names, shapes and float32 bytes)."""
    h = hashlib.sha256()
    for stride, layers in sorted(_weights(out).items()):
        for layer in sorted(layers):
            for blob in layers[layer]:
                a = np.ascontiguousarray(blob, np.float32)
                h.update(f'{stride}/{layer}/{a.shape}'.encode())
                h.update(a.tobytes())
    return h.hexdigest()


EXPECT = os.path.join(ROOT, 'tests', 'golden', 'demo', 'tiny.json')


@pytest.fixture(scope='module')
def two_runs(tmp_path_factory):
    a, b = tmp_path_factory.mktemp('demo_a'), tmp_path_factory.mktemp('demo_b')
    return (a, *_demo(a)), (b, *_demo(b, **avx2_machine()))


@pytest.mark.skipif(platform.machine().lower() not in ('x86_64', 'amd64'), reason='the pinned path is x86-64 AVX2')
def test_demo_runs_on_the_pinned_kernel_path(two_runs):
    for _, results, stdout in two_runs:
        assert kernels.differences(results['kernels']) == []
        assert 'not the pinned path' not in stdout


def test_demo_figures_do_not_depend_on_the_cpus_isa(two_runs):
    (a, ra, _), (b, rb, _) = two_runs
    assert ra['kernels']['data_sha256'] == rb['kernels']['data_sha256']
    assert ra['table'] == rb['table']
    wa, wb = _weights(a), _weights(b)
    for stride in wa:
        for layer, blobs in wa[stride].items():
            for x, y in zip(blobs, wb[stride][layer]):
                assert np.array_equal(x, y), (stride, layer)


def test_dataset_fingerprint_follows_names_and_bytes(tmp_path):
    (tmp_path / 'a').mkdir()
    (tmp_path / 'a' / 'x.txt').write_bytes(b'1')
    before = kernels.dataset_fingerprint(tmp_path)
    assert kernels.dataset_fingerprint(tmp_path) == before
    (tmp_path / 'a' / 'x.txt').write_bytes(b'2')
    assert kernels.dataset_fingerprint(tmp_path) != before
    (tmp_path / 'a' / 'x.txt').rename(tmp_path / 'a' / 'y.txt')
    (tmp_path / 'a' / 'y.txt').write_bytes(b'1')
    assert kernels.dataset_fingerprint(tmp_path) != before


@pytest.mark.skipif(platform.machine().lower() not in ('x86_64', 'amd64'), reason='the pinned path is x86-64 AVX2')
def test_tiny_demo_gives_the_expected_figures(two_runs):
    """Same seed, same numbers on every x86-64 machine with AVX2: the tiny run's weights are those of the expect
    file (its `machine` says which CPU made it). A change of the arithmetic (kernel path, order of sums) changes
    the full demo's README figures too."""
    with open(EXPECT) as f:
        expect = json.load(f)
    assert expect['settings'] == TINY
    (a, results, _) = two_runs[0]
    hint = ('the demo\'s arithmetic changed: re-run the full demo (tools/demo.py --seed 0/1/2), update README\'s '
            'demo table, then python tests/golden/make_demo.py')
    assert results['table'] == expect['table'], hint
    assert weights_digest(a) == expect['weights_sha256'], hint
