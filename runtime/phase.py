"""Caffe's phases, as pycaffe exposes them (caffe.TRAIN == 0, caffe.TEST == 1, the schema's Phase enum)."""
from netspec import caffe_pb2

Phase = caffe_pb2.Phase
TRAIN = caffe_pb2.TRAIN
TEST = caffe_pb2.TEST


def phase_of(phase):
    """TRAIN/TEST from 'train'/'test' (any case), the enum value, or its name."""
    if isinstance(phase, str):
        key = phase.strip().upper()
        if key in ('TRAIN', 'TEST'):
            return caffe_pb2.Phase.Value(key)
        raise ValueError(f"phase must be 'train' or 'test', not {phase!r}")
    if phase in (TRAIN, TEST):
        return int(phase)
    raise ValueError(f'phase must be TRAIN ({TRAIN}) or TEST ({TEST}), not {phase!r}')
