"""Background prefetching as Caffe's BasePrefetchingDataLayer does it: one worker thread loads batches in order
into a bounded queue (`depth` batches ahead, Caffe's `prefetch`, default 4), the layer's forward takes the next.

One thread keeps Caffe's order of reads and random draws; the work that releases the GIL (OpenCV decoding and
resizing, numpy copies) runs beside the training iteration. An exception in the worker is raised at the next
`next()` with its message. `depth=0` loads synchronously in `next()` (no thread).
The worker holds `load_batch` (a bound method) weakly: when its owner is collected, the worker ends.
"""
import queue
import threading
import weakref


class _Failure:
    def __init__(self, exc):
        self.exc = exc


def _put(q, stop, load, item):
    while not stop.is_set() and load() is not None:
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _work(load, q, stop):
    try:
        while not stop.is_set():
            fn = load()
            if fn is None:
                return
            item = fn()
            del fn
            if not _put(q, stop, load, item):
                return
    except BaseException as e:    # handed to the consumer
        _put(q, stop, load, _Failure(e))


class Prefetcher:
    def __init__(self, load_batch, depth=4, name='prefetch'):
        self._load = weakref.WeakMethod(load_batch) if hasattr(load_batch, '__self__') else (lambda: load_batch)
        self.depth = int(depth)
        self._stop = threading.Event()
        self._thread = None
        if self.depth > 0:
            self._queue = queue.Queue(maxsize=self.depth)
            self._thread = threading.Thread(target=_work, args=(self._load, self._queue, self._stop), name=name,
                                            daemon=True)
            self._thread.start()

    def next(self):
        """The next batch (waits for the worker); the worker's exception, if it failed."""
        if self._thread is None:
            return self._load()()
        item = self._queue.get()
        if isinstance(item, _Failure):
            self._queue.put(item)      # every later call fails the same way
            raise item.exc
        return item

    def close(self):
        """Stop the worker (it finishes the batch it is loading)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __del__(self):
        try:
            self._stop.set()
        except Exception:
            pass
