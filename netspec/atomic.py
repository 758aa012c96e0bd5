"""Atomic writes: write beside the destination, then os.replace; a failure leaves the destination untouched.

Every file the project writes (prototxt, weights, snapshots) goes through here, so a crash or a full disk mid-write
never destroys a user's previous file. A write that fails (a full disk, a quota, a file-size limit) raises the
caller's error naming the destination and the kind of file. The temporary file is hidden (`.NAME.XXXXXXXX.tmp`);
one that a killed process left behind is found by `stale_temps` and removed by `remove_stale_temps`.
"""
import contextlib
import fnmatch
import os
import tempfile

__all__ = ['atomic_path', 'atomic_file', 'temp_pattern', 'stale_temps', 'remove_stale_temps']


def temp_pattern(name):
    """The glob pattern of the temporary files of destinations whose base name matches `name` (itself a glob)."""
    return f'.{name}.*.tmp'


def stale_temps(folder, name='*'):
    """The temporary files in `folder` of destinations whose base name matches the glob `name`, sorted."""
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    pattern = temp_pattern(name)
    return sorted(os.path.join(folder, e) for e in entries if fnmatch.fnmatchcase(e, pattern))


def remove_stale_temps(folder, name='*'):
    """Remove what stale_temps finds (the leftovers of a write that a kill -9 or a crash cut short); returns
    [(path, bytes)] of the files removed. Only call it while no other process may be writing those destinations."""
    removed = []
    for path in stale_temps(folder, name):
        try:
            size = os.path.getsize(path)
            os.unlink(path)
        except OSError:
            continue
        removed.append((path, size))
    return removed


def _write_error(error, path, kind, e):
    return error(f'{path}: cannot write {kind}: {e.strerror or e}')


@contextlib.contextmanager
def atomic_path(path, kind='file', error=OSError):
    """Yield a temporary path in the destination's folder; on success it replaces `path`, on failure it is removed.
    A folder that cannot be written, or a write that fails there (no space left, ...), raises `error` naming the
    path and the kind of file; an OSError about another file is not the write's and propagates as it is."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp', dir=folder)
    except OSError as e:
        raise _write_error(error, path, kind, e) from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a plain open() would honour the umask
    try:
        try:
            yield tmp
            os.replace(tmp, path)
        except OSError as e:
            if e.filename not in (None, tmp, path):
                raise
            raise _write_error(error, path, kind, e) from e
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextlib.contextmanager
def atomic_file(path, kind='file', mode='wb', error=OSError):
    """Yield an open (buffered) file whose content replaces `path` only when the block completes (fsync'd)."""
    with atomic_path(path, kind, error) as tmp:
        with open(tmp, mode, buffering=1 << 20) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
