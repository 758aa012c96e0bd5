"""Tables derived from the schema map every legacy enum value as the real Caffe maps it (the golden record of
tests/golden/make_upgrades.py: Caffe's UpgradeV1LayerType and UpgradeSolverAsNeeded), and each solver type has
its one entry."""
import json

import pytest

import pycaffe
import solvers
from netspec import caffe_pb2
from runtime.state import upgrade_net, v1_layer_type
from solvers import load_param
from solvers.rules import LEGACY_TYPES, SOLVER_TYPES, TYPES

from conftest import GOLDEN

UPGRADES = json.loads((GOLDEN / 'schema' / 'upgrades.json').read_text())
V1_TYPES = caffe_pb2.V1LayerParameter.LayerType
SOLVER_ENUM = caffe_pb2.SolverParameter.SolverType


def test_the_record_covers_every_enum_value_of_our_schema():
    assert sorted(UPGRADES['v1_layer_types']) == sorted(V1_TYPES.keys())
    assert sorted(UPGRADES['solver_types']) == sorted(SOLVER_ENUM.keys())


@pytest.mark.parametrize('name', V1_TYPES.keys())
def test_every_v1_layer_type_upgrades_to_caffes_v2_type(name):
    caffe = UPGRADES['v1_layer_types'][name]
    assert (v1_layer_type(V1_TYPES.Value(name)) or '') == caffe
    net = caffe_pb2.NetParameter()
    net.layers.add(name='l', type=V1_TYPES.Value(name))
    if caffe:
        assert upgrade_net(net).layer[0].type == caffe
    else:       # NONE: Caffe gives an empty type, which no layer has
        with pytest.raises(ValueError, match="layer 'l' has the V1 type NONE"):
            upgrade_net(net)


@pytest.mark.parametrize('name', SOLVER_ENUM.keys())
def test_every_legacy_solver_type_upgrades_to_caffes_solver(name):
    param, _ = load_param(f'net: "n.prototxt"\nlr_policy: "fixed"\nsolver_type: {name}\n')
    assert param.type == LEGACY_TYPES[SOLVER_ENUM.Value(name)] == UPGRADES['solver_types'][name]


def test_each_solver_type_has_one_entry_and_its_solver_class():
    assert sorted(TYPES) == sorted(UPGRADES['solver_types'].values())
    for name, kind in SOLVER_TYPES.items():
        assert getattr(solvers, f'{name}Solver').type == name
        assert getattr(pycaffe, f'{name}Solver')._kind == name
        assert callable(kind.update) and kind.history_sets in (1, 2)
    assert [t for t in TYPES if SOLVER_TYPES[t].history_sets == 2] == ['AdaDelta', 'Adam']
