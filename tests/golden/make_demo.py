"""The demo's expected output on the pinned kernels (an expect file, as torchvision keeps them; not an oracle fixture):

    python tests/golden/make_demo.py

demo/tiny.json: the table and a SHA-256 of every final weight of a tiny run of tools/demo.py (tests/
test_demo_reproducible.py's TINY settings), in a fresh process so the kernel pinning happens before torch loads.
The full demo's figures in README's demo table come from the same code path: a change that alters this file alters
them too. When tests/test_demo_reproducible.py::test_tiny_demo_gives_the_expected_figures fails because the
arithmetic changed on purpose (a new kernel path, another order of sums), run the full demo again
(`python tools/demo.py --seed S` for the README's rows), update README's demo table, then re-run this script.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:] = [ROOT, os.path.join(ROOT, 'tests')] + [p for p in sys.path if os.path.abspath(p or '.') != HERE]  # not golden/runtime

import test_demo_reproducible as t   # noqa: E402  (its TINY settings and its digest)


def machine():
    """The CPU that made the file (the test expects the same weights on any other x86-64 CPU with AVX2)."""
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            model = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return model


def main():
    with tempfile.TemporaryDirectory() as out:
        results, _ = t._demo(out)
        expect = {'settings': t.TINY, 'table': results['table'], 'weights_sha256': t.weights_digest(out),
                  'kernels': {k: results['kernels'][k] for k in ('aten_capability', 'mkl_cbwr', 'onednn')},
                  'machine': machine()}
    path = os.path.join(HERE, 'demo', 'tiny.json')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(expect, f, indent=1, sort_keys=True)
        f.write('\n')
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
