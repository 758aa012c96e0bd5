"""One shape engine: netspec.sizes holds Caffe's size rules; netspec's infer_shapes and the runtime's layers both use
them, so the shapes netspec infers equal the shapes a runtime Net builds (device='meta'), and equal the shapes the
real Caffe made in the golden fixtures."""
import numpy as np
import pytest

from netspec import layertypes, models, parse_text, sizes
from netspec.coord_map import PASS_THROUGH_LAYERS
from netspec.shapes import DATA_TYPES, infer_shapes, param_shapes
from runtime import REGISTRY, Net, with_inputs

from conftest import GOLDEN

SEMANTICS = np.load(GOLDEN / 'runtime' / 'semantics.npz')
SEMANTIC_CASES = sorted({k.split('/', 1)[0] for k in SEMANTICS.files})
NET_FIXTURES = sorted((GOLDEN / 'runtime').glob('nets_*.npz'))


def pool_net(body, side=7):
    return parse_text('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 '
                      f'dim: {side} dim: {side} }} }} }}\n'
                      f'layer {{ name: "p" type: "Pooling" bottom: "x" top: "y" pooling_param {{ {body} }} }}')


def netspec_and_runtime_shapes(net_param, phase='test'):
    """(netspec's shapes, the meta Net's shapes); data layers' tops (Python) are given to netspec from the Net."""
    net = Net(net_param, phase=phase, device='meta')
    given = {t: net.blob_shapes[t] for lp in net.net_param.layer if lp.type in DATA_TYPES for t in lp.top}
    return infer_shapes(net.net_param, given), dict(net.blob_shapes), net


@pytest.mark.parametrize('mode,side', [('FLOOR', 3), ('CEIL', 4)])
def test_round_mode_gives_caffes_pooled_size_in_netspec_and_the_runtime(mode, side):
    # 7x7, kernel 2, stride 2: FLOOR floor((7 - 2) / 2) + 1 = 3, CEIL ceil(5 / 2) + 1 = 4
    ours, runtime, _ = netspec_and_runtime_shapes(pool_net(f'pool: MAX kernel_size: 2 stride: 2 round_mode: {mode}'))
    assert ours['y'] == runtime['y'] == (1, 2, side, side)


def test_pooling_drops_a_last_window_that_would_start_in_the_padding():
    # kernel 2, stride 2, pad 1: on 5, ceil(5 / 2) + 1 = 4 windows, but the 4th would start at 3 * 2 = 6 >= 5 + 1,
    # in the padding, so 3; on 6, the 4th starts at 6 < 6 + 1 and stays
    assert sizes.pooled_size(6, 2, 2, 1) == 4 and sizes.pooled_size(5, 2, 2, 1) == 3
    ours, runtime, _ = netspec_and_runtime_shapes(pool_net('pool: MAX kernel_size: 2 stride: 2 pad: 1', side=5))
    assert ours['y'] == runtime['y'] == (1, 2, 3, 3)


@pytest.mark.parametrize('case', SEMANTIC_CASES)
def test_netspec_shapes_equal_the_runtime_and_caffe_on_each_semantics_fixture(case, monkeypatch):
    monkeypatch.syspath_prepend(str(GOLDEN / 'runtime'))
    text = str(SEMANTICS[f'{case}/prototxt'])
    ours, runtime, _ = netspec_and_runtime_shapes(parse_text(text), str(SEMANTICS[f'{case}/phase']).lower())
    assert ours == runtime
    prefix = f'{case}/blob/'
    caffe = {k[len(prefix):]: tuple(SEMANTICS[k].shape) for k in SEMANTICS.files if k.startswith(prefix)}
    assert {b: ours[b] for b in caffe} == caffe


@pytest.mark.parametrize('path', NET_FIXTURES, ids=lambda p: p.stem[len('nets_'):])
def test_netspec_shapes_equal_the_runtime_and_caffe_on_each_thin_reference_net(path):
    store = np.load(path)
    for size in sorted({k.split('/', 1)[0] for k in store.files}):
        ours, runtime, _ = netspec_and_runtime_shapes(parse_text(str(store[f'{size}/prototxt'])), 'train')
        assert ours == runtime, size
        prefix, suffix = f'{size}/blob/', ':shape'
        caffe = {k[len(prefix):-len(suffix)]: tuple(int(d) for d in store[k]) for k in store.files
                 if k.startswith(prefix) and k.endswith(suffix)}
        assert {b: ours[b] for b in caffe} == caffe, size


def _data_shapes(net_param, deploy, side=(37, 45)):
    """Shapes for the tops of the Python data layers: image tops with the deploy net's channels, labels 1."""
    channels = {t: s.dim[1] for t, s in zip(deploy.layer[0].top, deploy.layer[0].input_param.shape)}
    if len(deploy.layer[0].input_param.shape) == 1:
        channels = {t: deploy.layer[0].input_param.shape[0].dim[1] for t in deploy.layer[0].top}
    return {t: (1, channels.get(t, 1)) + side for lp in net_param.layer if lp.type == 'Python' for t in lp.top}


@pytest.mark.parametrize('folder', models.FOLDERS)
def test_netspec_shapes_and_params_equal_the_runtime_on_every_generated_net(folder):
    files = models.make_folder(folder, width=1 / 16)
    deploy = files['deploy.prototxt']
    nets = {name: msg for name, msg in files.items() if name.endswith('.prototxt') and name != 'solver.prototxt'}
    assert len(nets) == 3
    for name, net_param in nets.items():
        phase = 'train' if name.startswith('train') else 'test'     # train / trainval; val / test / deploy
        given = _data_shapes(net_param, deploy)
        ours, runtime, net = netspec_and_runtime_shapes(with_inputs(net_param, given), phase)
        assert ours == runtime, name
        assert ours == infer_shapes(net_param, given), name     # the Python data layers themselves
        runtime_params = {n: [tuple(p.shape) for p in ps] for n, ps in net.params.items()}
        assert param_shapes(net.net_param) == runtime_params, name


def test_every_runtime_layer_type_takes_its_top_shapes_from_netspec():
    own = {t for t, cls in REGISTRY.items() if 'top_shapes' in vars(cls)}
    assert own == {'Python'}     # a Python layer's tops are what its reshape() says
    # the others without a rule are the data layers whose tops' shapes come from what they read (the record says so)
    from netspec.layertypes import LAYER_TYPES
    no_rule = {t for t in REGISTRY if sizes.rule_for(t) is None}
    assert no_rule == {t for t, r in LAYER_TYPES.items() if r.tops is None}
    assert no_rule - {'Python'} == {t for t in no_rule if LAYER_TYPES[t].data}


def test_crop_maps_and_shape_rules_share_one_pass_through_table():
    assert PASS_THROUGH_LAYERS == layertypes.pass_through()
    assert all(sizes.rule_for(t) is not None for t in PASS_THROUGH_LAYERS)
