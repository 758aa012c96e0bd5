"""Imports that leave the process environment as it was.

Some third-party modules write to os.environ when imported: opencv-python's loader adds its library folder to
LD_LIBRARY_PATH, threadpoolctl (which scipy.io imports when it is installed) sets KMP_DUPLICATE_LIB_OK. Every
child process would inherit such settings, so the project imports these modules inside ``environment_kept``.
"""
import contextlib
import os

__all__ = ['environment_kept']


@contextlib.contextmanager
def environment_kept():
    """Run the block, then put back every variable of os.environ that it added, removed or changed."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for k in [k for k in os.environ if k not in saved]:
            del os.environ[k]
        for k, v in saved.items():
            if os.environ.get(k) != v:
                os.environ[k] = v
