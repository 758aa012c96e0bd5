"""Read and write Caffe messages (NetParameter, SolverParameter, ...) as prototxt text or binary protobuf.

Errors name the file, and for text the line and column, plus the field and message type where protobuf knows them.
"""
import os
import re

from google.protobuf import message as _message
from google.protobuf import text_format

from . import caffe_pb2
from .atomic import atomic_file


class PrototxtError(ValueError):
    """A prototxt or binary proto file that cannot be parsed; the message names the file and the place."""


def _message_of(kind):
    if isinstance(kind, str):
        return getattr(caffe_pb2, kind)()
    if isinstance(kind, type):
        return kind()
    return kind


def parse_text(text, kind='NetParameter', source='<string>'):
    """Parse prototxt text into a fresh message of `kind` (a caffe_pb2 class name, class or instance)."""
    msg = _message_of(kind)
    try:
        text_format.Merge(text, msg)
    except text_format.ParseError as e:
        line, col = e.GetLine(), e.GetColumn()
        where = f'{source}:{line}:{col}' if line is not None else source
        detail = str(e)
        # protobuf prefixes "line:col : "; keep only the description
        if line is not None and detail.startswith(f'{line}:'):
            detail = detail.split(' : ', 1)[-1]
        raise PrototxtError(f'{where}: cannot parse {msg.DESCRIPTOR.name}: {detail}') from None
    return msg


def read_text(path, kind='NetParameter'):
    """Read a prototxt file into a message of `kind`."""
    path = os.fspath(path)
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except OSError as e:
        raise PrototxtError(f'{path}: cannot read {_message_of(kind).DESCRIPTOR.name} prototxt: {e.strerror}') from None
    return parse_text(text, kind, source=path)


def read_binary(path, kind='NetParameter'):
    """Read a binary protobuf file (e.g. a .caffemodel or .solverstate) into a message of `kind`."""
    path = os.fspath(path)
    msg = _message_of(kind)
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise PrototxtError(f'{path}: cannot read binary {msg.DESCRIPTOR.name}: {e.strerror}') from None
    try:
        msg.ParseFromString(data)
    except _message.DecodeError as e:
        raise PrototxtError(f'{path}: not a valid binary {msg.DESCRIPTOR.name} '
                            f'(truncated or another format; {len(data)} bytes): {e}') from None
    return msg


_WHOLE_FLOAT = re.compile(r'^(\s*\w+: -?\d+)\.0$', re.M)


def to_text(msg):
    """Protobuf text format as Caffe's C++ printer writes it: integral floats without '.0' (lr_mult: 1)."""
    return _WHOLE_FLOAT.sub(r'\1', text_format.MessageToString(msg))


def _atomic_write(path, data, mode):
    kind = 'text file' if 'b' not in mode else 'binary file'
    with atomic_file(path, kind, mode, PrototxtError) as f:
        f.write(data)


def write_text(msg, path):
    """Write a message as prototxt, atomically (the old file survives a failed write)."""
    _atomic_write(path, to_text(msg), 'w')


def write_binary(msg, path):
    """Write a message as binary protobuf, atomically."""
    _atomic_write(path, msg.SerializeToString(), 'wb')


def read_net(path_or_text):
    """A NetParameter from a prototxt path, prototxt text, a binary file, or a NetParameter (returned as is)."""
    return _read_any(path_or_text, 'NetParameter')


def read_solver(path_or_text):
    """A SolverParameter from a prototxt path, prototxt text or a SolverParameter."""
    return _read_any(path_or_text, 'SolverParameter')


def _read_any(src, kind):
    cls = getattr(caffe_pb2, kind)
    if isinstance(src, cls):
        return src
    if isinstance(src, (bytes, bytearray)):
        msg = cls()
        msg.ParseFromString(bytes(src))
        return msg
    src = os.fspath(src)
    if '\n' not in src and (os.path.exists(src) or src.endswith(('.prototxt', '.pt', '.caffemodel', '.txt'))):
        if src.endswith(('.caffemodel', '.binaryproto', '.solverstate')):
            return read_binary(src, kind)
        return read_text(src, kind)
    try:
        return parse_text(src, kind)
    except PrototxtError:
        if '\n' in src or not src.strip() or any(c in src for c in '{}"') or ': ' in src:
            raise
        # one line that names no file, does not parse and does not look like prototxt text: a mistyped path
        raise PrototxtError(f'{src}: no such file (and not {cls.DESCRIPTOR.name} prototxt text)') from None
