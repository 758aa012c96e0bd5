"""Caffe's upgrade tools: upgrade_net_proto_text, upgrade_net_proto_binary, upgrade_solver_proto_text.

    upgrade_net_proto_text v0_net_proto_file_in net_proto_file_out
    upgrade_net_proto_binary v0_net_proto_file_in net_proto_file_out
    upgrade_solver_proto_text old_solver_proto_file_in solver_proto_file_out

A net in a legacy format (V1 `layers` with enum types, blobs_lr and weight_decay; `input`/`input_dim`/`input_shape`
fields) is rewritten in the current one (runtime.state.upgrade_net: V1 layers become `layer` with type strings and
ParamSpecs, the inputs an Input layer); a solver's `solver_type` enum becomes its `type` string. A file already in
the current format is said so (as Caffe logs it) and written out unchanged. The V0 format (layers wrapping a
`layer`) is refused.

Exit status (tools/_cli.py): 0 written, 2 usage, 3 bad input (unreadable or malformed input, a V0 net).
"""
import argparse
import logging
import sys

from netspec import caffe_pb2, read_binary, read_text, write_binary, write_text
from runtime.state import upgrade_net
from solvers import setup_logging
from solvers.logs import log
from solvers.rules import LEGACY_TYPES
from tools._cli import run


def _parser(prog, what):
    ap = argparse.ArgumentParser(prog=prog, description=f'Upgrade an old {what} to the current format.')
    ap.add_argument('input', help=f'the old {what}')
    ap.add_argument('output', help=f'the upgraded {what}')
    return ap


def net_needs_upgrade(net):
    """Caffe's NetNeedsUpgrade, for the formats upgraded here (V0 and V1 layers, the input fields)."""
    return bool(len(net.layers) or len(net.input) or len(net.input_dim) or len(net.input_shape))


def _upgrade_net(args, binary):
    setup_logging(logging.INFO)
    net = read_binary(args.input) if binary else read_text(args.input)
    if net_needs_upgrade(net):
        net = upgrade_net(net, args.input)
    else:
        log.error('File already in latest proto format: %s', args.input)
    (write_binary if binary else write_text)(net, args.output)
    log.info('Wrote upgraded NetParameter %s proto to %s', 'binary' if binary else 'text', args.output)


def upgrade_solver(param, where):
    """Caffe's UpgradeSolverAsNeeded: the solver_type enum as the type string (both set is an error)."""
    out = caffe_pb2.SolverParameter()
    out.CopyFrom(param)
    if out.HasField('solver_type'):
        legacy = LEGACY_TYPES[out.solver_type]
        if out.HasField('type') and out.type != legacy:
            raise ValueError(f'{where}: Failed to upgrade solver: old solver_type field (enum) and new type field '
                             '(string) cannot be both specified.')
        out.type = legacy
        out.ClearField('solver_type')
    return out


def _upgrade_solver(args):
    setup_logging(logging.INFO)
    param = read_text(args.input, 'SolverParameter')
    if param.HasField('solver_type'):
        param = upgrade_solver(param, args.input)
    else:
        log.error('File already in latest proto format: %s', args.input)
    write_text(param, args.output)
    log.info('Wrote upgraded SolverParameter text proto to %s', args.output)


def net_text_parser():
    return _parser('upgrade_net_proto_text', 'NetParameter text file')


def net_binary_parser():
    return _parser('upgrade_net_proto_binary', 'NetParameter binary file')


def solver_text_parser():
    return _parser('upgrade_solver_proto_text', 'SolverParameter text file')


def net_text(argv=None):
    return run(net_text_parser(), lambda a: _upgrade_net(a, False), argv)


def net_binary(argv=None):
    return run(net_binary_parser(), lambda a: _upgrade_net(a, True), argv)


def solver_text(argv=None):
    return run(solver_text_parser(), _upgrade_solver, argv)


if __name__ == '__main__':
    sys.exit({'net_text': net_text, 'net_binary': net_binary, 'solver_text': solver_text}[sys.argv[1]](sys.argv[2:]))
