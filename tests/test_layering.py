"""The line between the library and its applications (tools/import_graph.py draws it): no library module imports an
application module, README shows the graph as it is, and the runtime finds Python layer modules only where an
application says."""
import importlib
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import runtime
from runtime.layers import python as python_layers
from tools import import_graph

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: a net with one Python layer from datalayers (loss_layers: keep 1 copies the label and needs no dataset)
SAMPLING_NET = textwrap.dedent('''
    layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }
    layer { name: "sample" type: "Python" bottom: "label" top: "sampled"
            python_param { module: "loss_layers" layer: "LossSamplingLayer" param_str: "{'keep': 1}" } }
''')


def test_no_library_module_imports_an_application_module():
    sites = import_graph.upward(import_graph.edges())
    assert sites == [], 'library modules import applications: ' + '; '.join(
        f'{module} line {line} imports {name}' for module, line, name in sites)


def test_the_check_sees_an_upward_import_inside_a_function(tmp_path):
    (tmp_path / 'solvers').mkdir()
    (tmp_path / 'solvers' / '__init__.py').write_text('')
    (tmp_path / 'solvers' / 'late.py').write_text('def f():\n    from fcnapps.recipe import train\n')
    (tmp_path / 'fcnapps').mkdir()
    (tmp_path / 'fcnapps' / '__init__.py').write_text('')
    (tmp_path / 'fcnapps' / 'recipe.py').write_text('import solvers\n')
    sites = import_graph.upward(import_graph.edges(str(tmp_path)))
    assert sites == [('solvers.late', 2, 'fcnapps.recipe')]


def test_the_check_sees_a_relative_import_and_import_module(tmp_path):
    (tmp_path / 'runtime').mkdir()
    (tmp_path / 'runtime' / '__init__.py').write_text('from . import net\n')
    (tmp_path / 'runtime' / 'net.py').write_text('import importlib\nimportlib.import_module("fcndemo.nets")\n')
    graph = import_graph.edges(str(tmp_path))
    assert import_graph.upward(graph) == [('runtime.net', 2, 'fcndemo.nets')]


def test_an_import_cycle_is_named():
    graph = {('netspec', 'weights'): [], ('weights', 'runtime'): [], ('runtime', 'netspec'): []}
    with pytest.raises(ValueError, match='import cycle: .*netspec.*weights.*runtime'):
        import_graph.floors(graph)


def test_the_library_has_no_import_cycle_and_sits_under_the_applications():
    floor = import_graph.floors(import_graph.edges())
    assert max(floor[n] for n in import_graph.LIBRARY) < min(floor[n] for n in import_graph.APPLICATIONS)
    assert floor['netspec'] == 1


def test_readme_shows_the_import_graph_the_script_draws():
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    assert import_graph.readme_block() in readme, \
        'README\'s import graph is out of date: run python tools/import_graph.py --readme README.md'


def test_the_runtime_alone_searches_no_package_for_python_layers():
    code = ('import sys, runtime\n'
            'from runtime.layers import python\n'
            'assert python.LAYER_PACKAGES == [], python.LAYER_PACKAGES\n'
            'assert not [m for m in sys.modules if m.split(".")[0] in ("datalayers", "fcnapps")]\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, '-c', code], check=True, cwd=ROOT, env=env, timeout=120)


def test_a_python_layer_module_on_no_searched_path_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(python_layers, 'LAYER_PACKAGES', [])
    with pytest.raises(ImportError, match=r"layer 'sample' \(type Python\): cannot find the Python layer module "
                                          r"'loss_layers' on sys.path$"):
        runtime.Net(SAMPLING_NET)


def test_the_application_adds_the_package_where_python_layers_are_found(monkeypatch):
    monkeypatch.setattr(python_layers, 'LAYER_PACKAGES', [])
    runtime.add_layer_package('datalayers')
    runtime.add_layer_package('datalayers')
    assert python_layers.LAYER_PACKAGES == ['datalayers']
    net = runtime.Net(SAMPLING_NET)
    assert type(net.layer_dict['sample'].impl).__module__ == 'datalayers.loss_layers'


def test_sys_path_comes_before_the_added_packages(monkeypatch, tmp_path):
    layer = textwrap.dedent('''
        import runtime as caffe
        class LossSamplingLayer(caffe.Layer):
            def reshape(self, bottom, top):
                top[0].reshape(*bottom[0].shape)
    ''')
    (tmp_path / 'probe_layering_pkg').mkdir()
    (tmp_path / 'probe_layering_pkg' / '__init__.py').write_text('')
    (tmp_path / 'probe_layering_pkg' / 'probe_layering_layers.py').write_text(layer)
    (tmp_path / 'probe_layering_layers.py').write_text(layer)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(python_layers, 'LAYER_PACKAGES', ['probe_layering_pkg'])
    try:
        net = runtime.Net(SAMPLING_NET.replace('loss_layers', 'probe_layering_layers'))
        assert type(net.layer_dict['sample'].impl).__module__ == 'probe_layering_layers'
        (tmp_path / 'probe_layering_layers.py').unlink()
        del sys.modules['probe_layering_layers']
        importlib.invalidate_caches()
        net = runtime.Net(SAMPLING_NET.replace('loss_layers', 'probe_layering_layers'))
        assert type(net.layer_dict['sample'].impl).__module__ == 'probe_layering_pkg.probe_layering_layers'
    finally:
        for name in ('probe_layering_layers', 'probe_layering_pkg', 'probe_layering_pkg.probe_layering_layers'):
            sys.modules.pop(name, None)


def test_the_error_names_the_packages_searched(monkeypatch):
    monkeypatch.setattr(python_layers, 'LAYER_PACKAGES', ['datalayers'])
    with pytest.raises(ImportError, match="cannot find the Python layer module 'no_such_layers' on sys.path or in "
                                          "the packages datalayers"):
        runtime.Net(SAMPLING_NET.replace('loss_layers', 'no_such_layers'))


def test_the_applications_and_the_tools_that_build_nets_add_datalayers():
    code = ('import importlib, sys\nfrom runtime.layers import python\n'
            'for name in ("fcnapps", "tools.convert", "tools.surgery", "tools.score", "pycaffe.__main__"):\n'
            '    python.LAYER_PACKAGES.clear()\n'
            '    for m in [m for m in sys.modules if m == "fcnapps" or m.startswith(("fcnapps.", "tools."))]:\n'
            '        del sys.modules[m]\n'
            '    importlib.import_module(name)\n'
            '    assert python.LAYER_PACKAGES == ["datalayers"], (name, python.LAYER_PACKAGES)\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, '-c', code], check=True, cwd=ROOT, env=env, timeout=120)
