"""upgrade_net_proto_binary: Caffe's tool of that name (tools.upgrade_proto holds the three upgrade tools)."""
import sys

from tools.upgrade_proto import net_binary as main, net_binary_parser as build_parser

__all__ = ['main', 'build_parser']

if __name__ == '__main__':
    sys.exit(main())
