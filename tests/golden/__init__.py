"""The golden fixtures and their generators (make_*.py, run in the real Caffe's environment; regenerate.py runs them
all). The tests import the generators' helpers as modules (`from golden import make_runtime as mk`): tests/ is on
sys.path in a pytest run."""
