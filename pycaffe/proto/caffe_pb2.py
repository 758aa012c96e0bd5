"""caffe.proto.caffe_pb2: this module is netspec.caffe_pb2 itself (one set of message classes)."""
import sys

from netspec import caffe_pb2 as _schema

sys.modules[__name__] = _schema
