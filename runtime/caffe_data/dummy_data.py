"""Caffe's DummyData layer: tops of given shapes (the layer type's record, netspec.layertypes, reads them) filled
by fillers.

Fillers: none (constant 0), one for every top, or one per top. A top whose filler is constant is filled once when
the net is built; the others are filled again at every forward (Caffe's refill rule). The fillers are the
runtime's (runtime.fillers: Caffe's distributions, torch's random stream).
"""
from .datum import DataError


class DummyDataSource:
    def __init__(self, lp, phase):
        from netspec import caffe_pb2
        self.where = f'layer {lp.name!r} (type DummyData)'
        p = lp.dummy_data_param
        n, nf = len(lp.top), len(p.data_filler)
        if nf not in (0, 1, n):
            raise DataError(f'{self.where}: give 0, 1 or one data_filler per top ({n}), not {nf}')
        if nf == 0:
            self.fillers = [caffe_pb2.FillerParameter(type='constant', value=0)] * n
        elif nf == 1:
            self.fillers = [p.data_filler[0]] * n
        else:
            self.fillers = list(p.data_filler)

    def refill(self, i):
        """Whether top i is filled at every forward (its filler is not constant)."""
        return self.fillers[i].type != 'constant'

    def close(self):
        pass
