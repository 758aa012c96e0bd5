"""Atomic writes for weight files: netspec.atomic's, raising WeightsError."""
from netspec.atomic import atomic_file as _atomic_file, atomic_path as _atomic_path

from .errors import WeightsError


def atomic_path(path, kind='file'):
    """Yield a temporary path beside `path` that replaces it on success (see netspec.atomic.atomic_path)."""
    return _atomic_path(path, kind, WeightsError)


def atomic_file(path, kind='file', mode='wb'):
    """Yield an open file whose content replaces `path` on success (see netspec.atomic.atomic_file)."""
    return _atomic_file(path, kind, mode, WeightsError)
