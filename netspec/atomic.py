"""Atomic writes: write beside the destination, then os.replace; a failure leaves the destination untouched.

Every file the project writes (prototxt, weights, snapshots) goes through here, so a crash or a full disk mid-write
never destroys a user's previous file.
"""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, kind='file', error=OSError):
    """Yield a temporary path in the destination's folder; on success it replaces `path`, on failure it is removed.
    A folder that cannot be written raises `error` naming the path and the kind of file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp', dir=folder)
    except OSError as e:
        raise error(f'{path}: cannot write {kind}: {e.strerror}') from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a plain open() would honour the umask
    try:
        yield tmp
        os.replace(tmp, path)
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
