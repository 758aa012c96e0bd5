"""caffe.proto: the schema (caffe.proto.caffe_pb2 is netspec.caffe_pb2)."""
from . import caffe_pb2  # noqa: F401

__all__ = ['caffe_pb2']
