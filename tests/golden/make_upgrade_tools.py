"""Golden outputs of Caffe's upgrade tools (the oracle's upgrade_net_proto_text, upgrade_net_proto_binary and
upgrade_solver_proto_text). Run from the project root:

    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_upgrade_tools.py'

Reads tests/golden/upgrade/v1_net.prototxt (a V1 net: enum layer types, blobs_lr and weight_decay, a named param,
input/input_dim fields) and old_solver.prototxt (solver_type: NESTEROV) and writes beside them:
- v1_net.binaryproto: the V1 net as a binary NetParameter (written with the oracle's caffe_pb2);
- upgraded_net.prototxt, upgraded_net.binaryproto, upgraded_solver.prototxt: what the tools wrote;
- current_net.prototxt: upgrade_net_proto_text run again on its own output (a net already in the current format).
Never import the project here.
"""
import os
import subprocess

from caffe.proto import caffe_pb2
from google.protobuf import text_format

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'upgrade')


def main():
    def p(name):
        return os.path.join(OUT, name)
    net = caffe_pb2.NetParameter()
    with open(p('v1_net.prototxt')) as f:
        text_format.Merge(f.read(), net)
    with open(p('v1_net.binaryproto'), 'wb') as f:
        f.write(net.SerializeToString())
    subprocess.run(['upgrade_net_proto_text', p('v1_net.prototxt'), p('upgraded_net.prototxt')], check=True)
    subprocess.run(['upgrade_net_proto_binary', p('v1_net.binaryproto'), p('upgraded_net.binaryproto')], check=True)
    subprocess.run(['upgrade_solver_proto_text', p('old_solver.prototxt'), p('upgraded_solver.prototxt')], check=True)
    subprocess.run(['upgrade_net_proto_text', p('upgraded_net.prototxt'), p('current_net.prototxt')], check=True)
    print('wrote', sorted(os.listdir(OUT)))


if __name__ == '__main__':
    main()
