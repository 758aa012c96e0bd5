"""The fast path: a dataset's samples in the reference layer's order, read ahead by background workers.

``SampleStream`` is what the Caffe data layers themselves read from (prefetch 0 reads on demand, like the
reference), and ``SegLoader`` is the same stream as a Python iterator for training loops that feed a net
directly. Both take indices from ``dataset.order()`` and arrays from ``dataset.load``, so a loader and a layer
built on the same param_str yield identical arrays in identical order, however deep the prefetch.
"""
import collections
import concurrent.futures as cf


class SampleStream:
    """current() -> (split index, arrays); advance() moves on. With prefetch k > 0 the next k samples are being
    read by `workers` background threads (or processes) while the current one is in use."""

    def __init__(self, dataset, prefetch=0, workers=1, processes=False, order=None):
        self.dataset = dataset
        self.order = order if order is not None else dataset.order()
        self.prefetch = max(0, int(prefetch))
        self._pending = collections.deque()
        self._pool = None
        if self.prefetch:
            pool = cf.ProcessPoolExecutor if processes else cf.ThreadPoolExecutor
            self._pool = pool(max(1, int(workers)))

    def _fill(self):
        while len(self._pending) < self.prefetch + 1:
            i = next(self.order)
            if self._pool is None:
                self._pending.append((i, None))  # read lazily on current()
            else:
                self._pending.append((i, self._pool.submit(self.dataset.load, i)))

    def peek_index(self):
        """The split index of the current sample, without reading it."""
        self._fill()
        return self._pending[0][0]

    def current(self):
        """The current sample (index into dataset.ids, tuple of float32 arrays); errors of its reading surface here."""
        self._fill()
        i, job = self._pending[0]
        if job is None:
            arrays = self.dataset.load(i)
            self._pending[0] = (i, _Done(arrays))
            return i, arrays
        return i, job.result()

    def advance(self):
        self._fill()
        self._pending.popleft()
        self._fill()

    def get_state(self):
        """A picklable snapshot of the stream's position (for resuming training with the same sample order):
        the order's state and the indices already drawn but not yet consumed (the current one first)."""
        return {'order': self.order.get_state(), 'pending': [i for i, _ in self._pending]}

    def set_state(self, state):
        """Resume from get_state(): the next samples are those the snapshotted stream would have given."""
        for _, job in self._pending:
            if job is not None:
                job.cancel()
        self.order.set_state(state['order'])
        self._pending = collections.deque(
            (i, None if self._pool is None else self._pool.submit(self.dataset.load, i)) for i in state['pending'])

    def close(self):
        if self._pool is not None:
            for _, job in self._pending:
                if job is not None:
                    job.cancel()
            self._pool.shutdown(wait=True)
            self._pool = None
        self._pending.clear()

    def __del__(self):
        try:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
        except Exception:
            pass


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def cancel(self):
        return False


class SegLoader:
    """Iterate a dataset's samples as {top name: float32 array (1 x C x H x W)} in the reference order.

    Endless by default (training draws with replacement; test order wraps), or `limit` samples. Use as a context
    manager or call close() to stop the workers.

        ds = datalayers.dataset_from_layer('voc_layers', 'SBDDSegDataLayer', param_str)
        with SegLoader(ds, prefetch=4, workers=2) as loader:
            for sample in loader:            # {'data': ..., 'label': ...}
                net.forward(**sample) ...
    """

    def __init__(self, dataset, prefetch=4, workers=2, processes=False, limit=None):
        self.dataset = dataset
        self.stream = SampleStream(dataset, prefetch=prefetch, workers=workers, processes=processes)
        self.limit = limit
        self.count = 0
        self.index = None  # split index of the sample last yielded

    def __iter__(self):
        return self

    def __next__(self):
        if self.limit is not None and self.count >= self.limit:
            raise StopIteration
        i, arrays = self.stream.current()
        self.stream.advance()
        self.count += 1
        self.index = i
        return dict(zip(self.dataset.tops, arrays))

    def close(self):
        self.stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
