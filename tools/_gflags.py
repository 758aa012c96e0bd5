"""Command lines written as Caffe's gflags take them: `-flag value`, `-flag=value`, `--flag value`; boolean flags
as `-flag`, `-flag=true|false`, `-noflag`."""
import argparse

__all__ = ['flag', 'bool_flag']

TRUE, FALSE = ('true', 't', 'yes', 'y', '1'), ('false', 'f', 'no', 'n', '0')


def flag(ap, name, **kw):
    """A valued flag reachable as -name and --name."""
    ap.add_argument(f'-{name}', f'--{name}', dest=name, **kw)


def _bool(text):
    t = text.lower()
    if t in TRUE:
        return True
    if t in FALSE:
        return False
    raise argparse.ArgumentTypeError(f'expected true or false, not {text!r}')


def bool_flag(ap, name, help=None):
    """A boolean flag: -name / --name (true), -name=false, -noname / --noname (false)."""
    ap.add_argument(f'-{name}', f'--{name}', dest=name, nargs='?', const=True, default=False, type=_bool, help=help)
    ap.add_argument(f'-no{name}', f'--no{name}', dest=name, action='store_false', help=argparse.SUPPRESS)
