"""The model-folder and dataset-family records (netspec.models.folders.Folder, netspec.models.families):
every folder resolves a family, every fact of a family reaches the lookups of the packages that use it, and no
package decides a dataset by a folder-name prefix, so adding a dataset family is one record."""
import ast
import importlib
import pathlib
import re

import pytest

import datalayers
from fcnapps.inference import LABEL_TOPS, folder_family
from fcnapps.recipe import RECIPES, recipe
from netspec import caffe_pb2, models
from netspec.models import FAMILIES, family, family_of_layer, family_of_net
from scoring import class_names, dataset_family, excluded_classes
from scoring.paper import PAPER

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ('netspec', 'runtime', 'weights', 'solvers', 'datalayers', 'scoring', 'fcndemo', 'tools')


def data_layer(net_param):
    layer, = datalayers.data_layers(net_param)
    return layer


@pytest.mark.parametrize('name', models.FOLDERS)
def test_every_folder_resolves_its_family_and_its_nets_follow_it(name):
    f = models.folder(name)
    assert f.family in FAMILIES and f.classes == f.family.num_classes
    nets = models.make_folder(name, width=1 / 16)
    (train, train_split), (test, eval_split) = f.family.nets
    solver = nets['solver.prototxt']
    assert (solver.train_net, list(solver.test_net)) == (train, [test])
    assert list(solver.test_iter) == [f.family.eval_images]
    for fname, split in f.family.nets:
        layer = data_layer(nets[fname])
        assert family_of_net(nets[fname]) is f.family
        assert (layer.python_param.module, layer.python_param.layer) in {(l.module, l.layer) for l in f.family.layers}
        assert datalayers.parse_param_str(layer.python_param.param_str)['split'] == split
    labels = [l.bottom[1] for l in nets[test].layer if l.type == 'SoftmaxWithLoss']
    assert labels == [h.label for h in f.family.heads]
    assert RECIPES[name] is f and recipe(f'runs/{name}/') == (name, f)
    assert f.iters % f.score_every == 0


@pytest.mark.parametrize('fam', FAMILIES, ids=lambda f: f.name)
def test_every_family_fact_reaches_the_lookups(fam):
    assert family(fam.name) is fam
    for ref in fam.layers:
        assert family_of_layer(ref.module, ref.layer) is fam
        assert family_of_layer('datalayers.' + ref.module, ref.layer) is fam
        cls = datalayers.LAYERS[(ref.module, ref.layer)]
        assert cls.__name__ == ref.dataset
        # the Caffe layer class the prototxt names reads that dataset (the layer modules import the runtime)
        assert getattr(importlib.import_module('datalayers.' + ref.module), ref.layer).dataset_class is cls
    for h in fam.heads:
        assert class_names(fam, h.label, len(h.classes)) == h.classes
        assert excluded_classes(fam, h.label) == h.absent
        assert all(0 <= k < len(h.classes) for k in h.absent)
        assert h.label in LABEL_TOPS
    assert fam.mean.shape == (3,) and not fam.mean.flags.writeable
    assert any(f.family is fam for f in map(models.folder, models.FOLDERS))


def test_folder_lookups_take_names_or_paths():
    assert models.folder('x/y/voc-fcn8s/').name == 'voc-fcn8s'
    assert models.find_folder('voc-fcn8s-mine') is None
    with pytest.raises(KeyError, match='unknown model folder'):
        models.folder('voc-fcn8s-mine')


def test_a_net_is_scored_on_the_family_of_its_data_layer_whatever_its_folder_is_called(tmp_path):
    sift = models.make_folder('siftflow-fcn32s', width=1 / 16)['test.prototxt']
    assert dataset_family(sift, folder='my-run') is models.SIFTFLOW
    assert dataset_family(None, folder='runs/nyud-fcn32s-hha') is models.NYUD
    assert dataset_family(caffe_pb2.NetParameter(), folder='other') is None
    assert class_names(None, 'label', 2) == ('class 0', 'class 1')
    assert excluded_classes(models.SIFTFLOW, 'geo') == () and excluded_classes(None, 'sem') == ()
    assert folder_family(tmp_path / 'unknown') is models.VOC   # the reference infer.py's default


def test_a_net_reading_two_families_is_refused():
    net = caffe_pb2.NetParameter(name='mixed')
    for ref in (models.VOC.layers[0], models.NYUD.layers[0]):
        l = net.layer.add(type='Python')
        l.python_param.module, l.python_param.layer = ref.module, ref.layer
    with pytest.raises(ValueError, match='nyud, voc'):
        family_of_net(net)


def test_published_figures_are_for_known_folders_on_their_eval_split():
    for name, split in PAPER:
        assert split == models.folder(name).family.eval_split, name


PREFIX = re.compile(r"""(startswith|endswith|match)\(\s*\(?\s*['"](voc|siftflow|sift|nyud|pascalcontext|pascal)""")


def test_no_package_decides_a_dataset_by_a_folder_name_prefix():
    offenders = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob('*.py')):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if PREFIX.search(line):
                    offenders.append(f'{path.relative_to(ROOT)}:{n}: {line.strip()}')
    assert not offenders, '\n'.join(offenders)


#: dict literals keyed by family names that are results, not lookup tables (make_all returns {family: info})
RESULT_DICTS = {'datalayers/synthetic.py'}


def test_no_package_keeps_a_table_or_list_of_family_names():
    """Literals naming two or more families (a dict such as the old EVAL_SPLIT, a tuple to match folder names
    against) belong in the records."""
    names = {f.name for f in FAMILIES}
    offenders = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob('*.py')):
            if str(path.relative_to(ROOT)) in RESULT_DICTS:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                items = node.keys if isinstance(node, ast.Dict) else getattr(node, 'elts', [])
                if isinstance(node, (ast.Dict, ast.Tuple, ast.List, ast.Set)):
                    keys = {k.value for k in items if isinstance(k, ast.Constant)}
                    if len(keys & names) >= 2:
                        offenders.append(f'{path.relative_to(ROOT)}:{node.lineno}')
    assert not offenders, offenders
