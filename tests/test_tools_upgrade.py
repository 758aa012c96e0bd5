"""upgrade_net_proto_text / upgrade_net_proto_binary / upgrade_solver_proto_text against the real Caffe's tools
(tests/golden/make_upgrade_tools.py): the same upgraded files."""
import os

import pytest

from netspec import caffe_pb2
from tools import _cli
from tools.upgrade_proto import net_binary, net_text, solver_text

pytestmark = pytest.mark.usefixtures('solvers_log')

GOLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden', 'upgrade')


def gold(name, mode='r'):
    with open(os.path.join(GOLD, name), mode) as f:
        return f.read()


def test_a_v1_net_text_is_upgraded_as_caffe_upgrades_it(tmp_path, capsys):
    out = tmp_path / 'net.prototxt'
    assert net_text([os.path.join(GOLD, 'v1_net.prototxt'), str(out)]) == 0
    assert out.read_text() == gold('upgraded_net.prototxt')
    assert capsys.readouterr().err.splitlines()[-1].endswith(f'] Wrote upgraded NetParameter text proto to {out}')


def test_a_v1_net_binary_is_upgraded_as_caffe_upgrades_it(tmp_path):
    out = tmp_path / 'net.binaryproto'
    assert net_binary([os.path.join(GOLD, 'v1_net.binaryproto'), str(out)]) == 0
    ours, theirs = caffe_pb2.NetParameter(), caffe_pb2.NetParameter()
    ours.ParseFromString(out.read_bytes())
    theirs.ParseFromString(gold('upgraded_net.binaryproto', 'rb'))
    assert ours == theirs


def test_a_current_net_is_said_to_be_current_and_written_unchanged(tmp_path, capsys):
    out = tmp_path / 'net.prototxt'
    src = os.path.join(GOLD, 'upgraded_net.prototxt')
    assert net_text([src, str(out)]) == 0
    assert out.read_text() == gold('current_net.prototxt')
    assert any(l.startswith('E') and l.endswith(f'] File already in latest proto format: {src}')
               for l in capsys.readouterr().err.splitlines())


def test_a_legacy_solver_type_is_upgraded_as_caffe_upgrades_it(tmp_path):
    out = tmp_path / 'solver.prototxt'
    assert solver_text([os.path.join(GOLD, 'old_solver.prototxt'), str(out)]) == 0
    assert out.read_text() == gold('upgraded_solver.prototxt')


def test_bad_input_and_usage(tmp_path, capsys):
    assert net_text([str(tmp_path / 'none.prototxt'), str(tmp_path / 'out')]) == _cli.BAD_INPUT
    assert solver_text([os.path.join(GOLD, 'v1_net.prototxt'), str(tmp_path / 'out')]) == _cli.BAD_INPUT
    assert net_text([os.path.join(GOLD, 'v1_net.prototxt')]) == _cli.USAGE
