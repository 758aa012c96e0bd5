"""Running an unchanged pycaffe script here: `import caffe` (and caffe.io, caffe.proto.caffe_pb2, ...) resolves
to this package, the script runs as __main__ with its folder first on sys.path and sys.argv = [script, args...],
as `python SCRIPT.py ARGS...` would run it with Caffe installed."""
import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys
import traceback

from .served import NOT_SERVED


class _CaffeAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`caffe` and `caffe.X` are `pycaffe` and `pycaffe.X` (the same module objects)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'caffe' and not fullname.startswith('caffe.'):
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        name = 'pycaffe' + spec.name[len('caffe'):]
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            part = spec.name.split('.', 1)[1]
            why = f' ({NOT_SERVED[part]})' if part in NOT_SERVED else ''
            raise ModuleNotFoundError(f'{spec.name} is not served by this project{why}', name=spec.name) from None

    def exec_module(self, module):
        pass


_ALIAS = _CaffeAlias()


def alias_caffe():
    """Make `import caffe` give this package (for Python-layer modules that `import caffe`). Idempotent."""
    if _ALIAS not in sys.meta_path:
        sys.meta_path.insert(0, _ALIAS)
    for name in [n for n in sys.modules if n == 'caffe' or n.startswith('caffe.')]:
        mod = sys.modules[name]
        if not getattr(mod, '__name__', '').startswith('pycaffe'):
            del sys.modules[name]          # a real Caffe imported earlier would shadow the alias


def unalias_caffe():
    """Undo alias_caffe()."""
    if _ALIAS in sys.meta_path:
        sys.meta_path.remove(_ALIAS)
    for name in [n for n in sys.modules if n == 'caffe' or n.startswith('caffe.')]:
        del sys.modules[name]


def check_script(path):
    """The script's path, or the OSError `python SCRIPT.py` would stop at (missing, a folder, unreadable), its
    message naming the script."""
    path = os.fspath(path)
    try:
        with open(path, 'rb'):
            pass
    except OSError as e:
        raise type(e)(f"can't open script {path!r}: {e.strerror or e}") from None
    return path


def print_script_error(error, path):
    """Print `error`, raised by the script at `path`, as `python SCRIPT.py` prints it: the traceback from the
    script's own first frame on (the runner's frames left out; none for a SyntaxError in the script itself)."""
    script = os.path.abspath(path)
    tb = error.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != script:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb)


def run_script(path, args=(), isolate=False):
    """Run the pycaffe script at `path` as `python path args...` would with Caffe installed. With `isolate`, the
    modules it imported from its folder, sys.argv, sys.path and the caffe alias are restored afterwards (for
    running several scripts in one process)."""
    path = check_script(path)
    saved = (list(sys.argv), list(sys.path), set(sys.modules), _ALIAS in sys.meta_path)
    alias_caffe()
    sys.argv = [path] + [str(a) for a in args]
    folder = os.path.dirname(os.path.abspath(path))
    if sys.path and sys.path[0] in ('', os.getcwd()):
        sys.path[0] = folder
    else:
        sys.path.insert(0, folder)
    try:
        return runpy.run_path(path, run_name='__main__')
    finally:
        if isolate:
            argv, spath, modules, aliased = saved
            sys.argv[:] = argv
            sys.path[:] = spath
            for name in set(sys.modules) - modules:
                del sys.modules[name]
            if not aliased:
                unalias_caffe()
