"""Background prefetching as Caffe's BasePrefetchingDataLayer does it: one worker thread loads batches in order
into a bounded queue (`depth` batches ahead, Caffe's `prefetch`, default 4), the layer's forward takes the next.

One thread keeps Caffe's order of reads and random draws; the work that releases the GIL (OpenCV decoding and
resizing, numpy copies) runs beside the training iteration. An exception in the worker is raised at the next
`next()` with its message. `depth=0` loads synchronously in `next()` (no thread). `ordered_map` decodes records on a few more threads while
keeping their order, so that decoding (the costly part of JPEG/PNG data) uses several cores and the random draws
of the transformer stay in Caffe's sequence.
The worker holds `load_batch` (a bound method) weakly: when its owner is collected, the worker ends.
"""
import collections
import concurrent.futures as cf
import os
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


DECODE_WORKERS = max(1, min(4, (os.cpu_count() or 1) - 1))
_POOL = None
_POOL_LOCK = threading.Lock()


def _pool():
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = cf.ThreadPoolExecutor(DECODE_WORKERS, thread_name_prefix='caffe-decode')
        return _POOL


def ordered_map(fn, items, ahead):
    """fn(item) for each item of the (endless or finite) iterable, computed up to `ahead` items in advance on the
    shared decode threads, yielded in the items' order; an exception is raised where its item is yielded."""
    if ahead <= 1 or DECODE_WORKERS <= 1:
        for item in items:
            yield fn(item)
        return
    pool, pending = _pool(), collections.deque()
    it = iter(items)
    try:
        for item in it:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
