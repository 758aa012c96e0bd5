"""Shared test fixtures: where the reference material lies, and a quiet, deterministic torch.

The suite runs the reference nets as an application does: their Python data layers (`module: 'voc_layers'`, ...)
are found in datalayers, which the runtime searches only where an application adds it (fcnapps and the tools do;
tests/test_layering.py checks that the bare runtime does not).
"""
import os
import pathlib

import pytest

from runtime import add_layer_package

add_layer_package('datalayers')

ROOT = pathlib.Path(__file__).resolve().parents[1]
REFERENCE = pathlib.Path(os.environ.get('FCN_REFERENCE', ROOT.parent / 'shared' / 'reference'))
GOLDEN = ROOT / 'tests' / 'golden'

try:
    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
except ImportError:  # pragma: no cover
    pass


# Variables the tools of the suite set themselves, once per process: pytest's current test, and torch's inductor
# cache folder (torch._inductor.runtime.cache_dir_utils writes it on first use).
NOT_OURS = ('PYTEST_CURRENT_TEST', 'TORCHINDUCTOR_CACHE_DIR')


@pytest.fixture(autouse=True)
def environment_unchanged(request):
    """No test, and no library or tool call it makes, leaves os.environ changed for the tests after it (a child
    process that needs other settings gets its own environment). monkeypatch's changes are undone before this
    check, since this fixture is set up first and torn down last."""
    before = dict(os.environ)
    yield
    changed = sorted(k for k in before.keys() | os.environ.keys()
                     if before.get(k) != os.environ.get(k) and k not in NOT_OURS)
    if changed:
        for k in changed:
            if k in before:
                os.environ[k] = before[k]
            else:
                del os.environ[k]
        pytest.fail(f'{request.node.nodeid} changed os.environ: {", ".join(changed)}', pytrace=False)


@pytest.fixture(scope='session')
def reference():
    """The original project's files (../shared/reference: a checkout of shelhamer/fcn.berkeleyvision.org, see
    README); tests that need them skip where it is absent."""
    if not REFERENCE.is_dir():
        pytest.skip(f'reference folder {REFERENCE} is absent: the original FCN project\'s files, a checkout of '
                    f'https://github.com/shelhamer/fcn.berkeleyvision.org at 1305c73 (set FCN_REFERENCE to its path)')
    return REFERENCE


@pytest.fixture
def one_thread():
    """Tiny nets: one torch thread is faster on a shared machine and keeps reductions in one fixed order."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def solvers_log():
    """fcn-solve (tools/solve.py) installs a glog-format handler on the 'solvers' logger; take it away afterwards."""
    from solvers.logs import log
    before = list(log.handlers)
    yield log
    for h in list(log.handlers):
        if h not in before:
            log.removeHandler(h)


@pytest.fixture
def isolated():
    """Run a script in this process and put back what running it changes: sys.path (its folder first), sys.argv,
    the `caffe` alias and the caffe modules, so that no later test imports a `caffe` from the script's folder."""
    import sys
    saved = list(sys.path), list(sys.argv), list(sys.meta_path), {k: v for k, v in sys.modules.items()
                                                                    if k == 'caffe' or k.startswith('caffe.')}
    yield
    sys.path[:], sys.argv[:], sys.meta_path[:] = saved[0], saved[1], saved[2]
    for name in [n for n in sys.modules if n == 'caffe' or n.startswith('caffe.')]:
        del sys.modules[name]
    sys.modules.update(saved[3])


@pytest.fixture(scope='module')
def one_torch_thread():
    """Thin nets on small images: one torch thread is several times faster on a shared machine (the modules that
    train them use it: pytestmark = pytest.mark.usefixtures('one_torch_thread'))."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
