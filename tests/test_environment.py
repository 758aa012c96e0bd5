"""Importing the project leaves the process environment as it was, in a fresh interpreter (where the conftest
guard cannot see it: pytest's collection has imported everything before the first test runs). Third-party modules
that write to os.environ at import (opencv-python's loader, threadpoolctl under scipy.io) are imported through
netspec.environ.environment_kept."""
import os
import subprocess
import sys

from netspec.environ import environment_kept

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ('netspec', 'weights', 'runtime', 'datalayers', 'datalayers.synthetic', 'datalayers.own', 'solvers',
            'scoring', 'pycaffe', 'fcnapps', 'fcndemo', 'tools.own', 'tools.caffe_cli')


def test_importing_every_package_changes_no_variable():
    code = ('import os, importlib, json; before = dict(os.environ)\n'
            f'for m in {PACKAGES!r}: importlib.import_module(m)\n'
            'from runtime.caffe_data.images import cv2_module; cv2_module()\n'
            'after = dict(os.environ)\n'
            'print(json.dumps(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))))')
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == '[]'


def test_environment_kept_puts_back_added_changed_and_removed_variables(monkeypatch):
    monkeypatch.setenv('FCN_ENV_CHANGED', 'a')
    monkeypatch.setenv('FCN_ENV_REMOVED', 'b')
    monkeypatch.delenv('FCN_ENV_ADDED', raising=False)
    with environment_kept():
        os.environ['FCN_ENV_CHANGED'] = 'z'
        del os.environ['FCN_ENV_REMOVED']
        os.environ['FCN_ENV_ADDED'] = 'c'
    assert os.environ['FCN_ENV_CHANGED'] == 'a'
    assert os.environ['FCN_ENV_REMOVED'] == 'b'
    assert 'FCN_ENV_ADDED' not in os.environ
