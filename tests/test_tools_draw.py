"""caffe.draw (pycaffe.draw) and the draw_net tool against Caffe's own draw.py (tests/golden/make_draw.py): the same
nodes, with the same labels and styles, and the same edges."""
import os
import shutil

import pytest

from netspec import caffe_pb2, models, read_net
from tools import _cli

pydot = pytest.importorskip('pydot', reason='caffe.draw draws through pydot')

GOLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden', 'draw')
NET = os.path.join(os.path.dirname(GOLD), 'cli', 'net.prototxt')


CASES = {
    'cli_all_LR': ('cli', 'LR', None, False),
    'cli_test_TB': ('cli', 'TB', caffe_pb2.TEST, False),
    'cli_train_BT_lrm': ('cli', 'BT', caffe_pb2.TRAIN, True),
    'fcn8s_train_LR_lrm': ('fcn8s', 'LR', caffe_pb2.TRAIN, True),
}


def structure(dot_text):
    """(graph name, attributes, [(node, attributes)], [(src, dst, attributes)]) of a DOT text."""
    g = pydot.graph_from_dot_data(dot_text)[0]
    return (g.get_name(), g.get_attributes(), [(n.get_name(), n.get_attributes()) for n in g.get_nodes()],
            [(e.get_source(), e.get_destination(), e.get_attributes()) for e in g.get_edges()])


@pytest.mark.parametrize('case', sorted(CASES))
def test_the_graph_is_caffes_draw_py_graph(case):
    from pycaffe.draw import get_pydot_graph
    net, rankdir, phase, lrm = CASES[case]
    net = read_net(NET) if net == 'cli' else models.make_folder('voc-fcn8s', width=1 / 16)['train.prototxt']
    ours = get_pydot_graph(net, rankdir, phase=phase, display_lrm=lrm).to_string()
    with open(os.path.join(GOLD, case + '.dot')) as f:
        assert structure(ours) == structure(f.read())


def test_one_node_per_layer_and_blob():
    from pycaffe.draw import get_pydot_graph
    net = read_net(NET)
    _, _, nodes, edges = structure(get_pydot_graph(net, 'LR', phase=caffe_pb2.TEST).to_string())
    layers = [l for l in net.layer if not l.include or l.include[0].phase == caffe_pb2.TEST]
    blobs = {b for l in layers for b in list(l.bottom) + list(l.top)}
    assert len(nodes) == len({l.name for l in layers}) + len(blobs)
    assert len(edges) == sum(len(l.bottom) + len(l.top) for l in layers)


def test_draw_net_writes_dot_without_graphviz(tmp_path, capsys):
    from tools.draw_net import main
    out = tmp_path / 'net.dot'
    assert main(['--phase', 'TEST', '--rankdir', 'TB', NET, str(out)]) == 0
    assert capsys.readouterr().out == f'Drawing net to {out}\n'
    with open(os.path.join(GOLD, 'cli_test_TB.dot')) as f:
        assert structure(out.read_text()) == structure(f.read())


@pytest.mark.skipif(shutil.which('dot') is None, reason="images need graphviz's dot program")
@pytest.mark.parametrize('ext, magic', [('png', b'\x89PNG'), ('svg', b'<?xml')])
def test_draw_net_renders_images_through_graphviz(tmp_path, ext, magic):
    from tools.draw_net import main
    out = tmp_path / f'net.{ext}'
    assert main([NET, str(out)]) == 0
    assert out.read_bytes().startswith(magic)


def test_draw_net_refuses_an_unknown_phase_and_a_missing_net(tmp_path, capsys):
    from tools.draw_net import main
    assert main(['--phase', 'VAL', NET, str(tmp_path / 'x.dot')]) == _cli.USAGE
    assert capsys.readouterr().err.splitlines()[-1] == 'draw_net: error: Unknown phase: VAL'
    assert main([str(tmp_path / 'none.prototxt'), str(tmp_path / 'x.dot')]) == _cli.BAD_INPUT


def test_caffe_draw_is_served_to_pycaffe_scripts(isolated):
    import pycaffe
    pycaffe.alias_caffe()
    import caffe.draw
    assert caffe.draw.get_pydot_graph is __import__('pycaffe.draw').draw.get_pydot_graph


DRAW_NET_PY = '/opt/caffe-oracle/brocolli-caffe-9.0.2/python/draw_net.py'


@pytest.mark.skipif(not os.path.exists(DRAW_NET_PY), reason=f'{DRAW_NET_PY} (the oracle source) is absent')
@pytest.mark.skipif(shutil.which('dot') is None, reason="images need graphviz's dot program")
def test_caffes_draw_net_py_runs_unchanged_through_pycaffe(tmp_path, capsys, isolated):
    from pycaffe.__main__ import main
    out = tmp_path / 'net.svg'
    assert main([DRAW_NET_PY, NET, str(out), '--rankdir', 'TB', '--phase', 'TEST']) == 0
    assert capsys.readouterr().out == f'Drawing net to {out}\n'
    svg = out.read_text()
    assert svg.startswith('<?xml') and 'conv1' in svg and 'accuracy' in svg
