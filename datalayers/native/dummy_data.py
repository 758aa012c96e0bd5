"""Caffe's DummyData layer: tops of given shapes filled by fillers.

Shapes: `shape` once or once per top, or the legacy num/channels/height/width (each once or once per top), not
both. Fillers: none (constant 0), one for every top, or one per top. A top whose filler is constant is filled
once when the net is built; the others are filled again at every forward (Caffe's refill rule). The fillers are
the runtime's (runtime.fillers: Caffe's distributions, torch's random stream).
"""
from .datum import DataError


class DummyDataSource:
    def __init__(self, lp, phase):
        from netspec import caffe_pb2
        where = f'layer {lp.name!r} (type DummyData)'
        self.where = where
        p = lp.dummy_data_param
        n = len(lp.top)
        nf = len(p.data_filler)
        if nf not in (0, 1, n):
            raise DataError(f'{where}: give 0, 1 or one data_filler per top ({n}), not {nf}')
        legacy = len(p.num) or len(p.channels) or len(p.height) or len(p.width)
        shapes = []
        if legacy:
            if len(p.shape):
                raise DataError(f'{where}: both shape and the legacy num/channels/height/width are given')
            for field in ('num', 'channels', 'height', 'width'):
                k = len(getattr(p, field))
                if k not in (1, n):
                    raise DataError(f'{where}: give {field!r} once or once per top ({n}), not {k} times')
            for i in range(n):
                shapes.append(tuple(int(getattr(p, f)[0 if len(getattr(p, f)) == 1 else i])
                                    for f in ('num', 'channels', 'height', 'width')))
        else:
            if len(p.shape) not in (1, n):
                raise DataError(f'{where}: give shape once or once per top ({n}), not {len(p.shape)} times')
            for i in range(n):
                shapes.append(tuple(int(d) for d in p.shape[0 if len(p.shape) == 1 else i].dim))
        self.shapes = shapes
        if nf == 0:
            fillers = [caffe_pb2.FillerParameter(type='constant', value=0)] * n
        elif nf == 1:
            fillers = [p.data_filler[0]] * n
        else:
            fillers = list(p.data_filler)
        self.fillers = fillers

    def top_shapes(self):
        return list(self.shapes)

    def refill(self, i):
        """Whether top i is filled at every forward (its filler is not constant)."""
        return self.fillers[i].type != 'constant'

    def close(self):
        pass
