"""upgrade_net_proto_text: Caffe's tool of that name (tools.upgrade_proto holds the three upgrade tools)."""
import sys

from tools.upgrade_proto import net_text as main, net_text_parser as build_parser

__all__ = ['main', 'build_parser']

if __name__ == '__main__':
    sys.exit(main())
