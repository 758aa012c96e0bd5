"""Golden record of Caffe's legacy-enum upgrades, made by the real Caffe (the oracle). Run from the project root in
the oracle's venv:

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_upgrades.py'

Writes tests/golden/schema/upgrades.json:
- v1_layer_types: every V1LayerParameter.LayerType name -> the V2 type string Caffe's UpgradeV1LayerType returns
  (called in the oracle's own library; NONE gives "").
- solver_types: every SolverParameter.SolverType name -> the solver type Caffe builds for a solver.prototxt that
  gives only `solver_type: NAME` (caffe.get_solver after UpgradeSolverAsNeeded; the class name without 'Solver').
The tests check that runtime.state's V1 upgrade and solvers' legacy solver_type table give the same answers.
Never import the project here (the oracle's protobuf is older).
"""
import ctypes
import json
import os
import tempfile

import caffe
from caffe.proto import caffe_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'schema', 'upgrades.json')
# caffe::UpgradeV1LayerType(caffe::V1LayerParameter_LayerType) -> const char*
UPGRADE_V1_LAYER_TYPE = '_ZN5caffe18UpgradeV1LayerTypeENS_26V1LayerParameter_LayerTypeE'

NET = 'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 } } }\n' \
      'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip" inner_product_param { num_output: 2 } }\n'


def v1_layer_types():
    lib = ctypes.CDLL(caffe._caffe.__file__)
    upgrade = getattr(lib, UPGRADE_V1_LAYER_TYPE)
    upgrade.restype, upgrade.argtypes = ctypes.c_char_p, [ctypes.c_int]
    return {name: upgrade(value).decode() for name, value in caffe_pb2.V1LayerParameter.LayerType.items()}


def solver_types():
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, 'net.prototxt'), 'w') as f:
            f.write(NET)
        for name in caffe_pb2.SolverParameter.SolverType.keys():
            path = os.path.join(tmp, 'solver.prototxt')
            with open(path, 'w') as f:
                f.write(f'net: "{tmp}/net.prototxt"\nbase_lr: 0.01\nlr_policy: "fixed"\nsolver_type: {name}\n')
            cls = type(caffe.get_solver(path)).__name__
            assert cls.endswith('Solver'), cls
            out[name] = cls[:-len('Solver')]
    return out


def main():
    record = {'v1_layer_types': v1_layer_types(), 'solver_types': solver_types()}
    with open(OUT, 'w') as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write('\n')
    print(f'wrote {OUT}: {len(record["v1_layer_types"])} V1 layer types, {len(record["solver_types"])} solver types')


if __name__ == '__main__':
    main()
