"""Command lines written as Caffe's gflags take them: `-flag value`, `-flag=value`, `--flag value`; boolean flags
as `-flag`, `-flag=true|false`, `-noflag` (a boolean flag never takes the next argument as its value)."""
import argparse
import sys

__all__ = ['GflagsParser', 'flag', 'bool_flag']

TRUE, FALSE = ('true', 't', 'yes', 'y', '1'), ('false', 'f', 'no', 'n', '0')


class GflagsParser(argparse.ArgumentParser):
    """An ArgumentParser that also reads `-boolflag=true|false` as gflags does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bool_flags = set()

    def parse_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        out = []
        for a in args:
            name, eq, value = a.lstrip('-').partition('=')
            if a.startswith('-') and eq and name in self.bool_flags:
                v = value.lower()
                if v not in TRUE + FALSE:
                    self.error(f'argument -{name}: expected true or false, not {value!r}')
                a = f'--{name}' if v in TRUE else f'--no{name}'
            out.append(a)
        return super().parse_args(out, namespace)


def flag(ap, name, **kw):
    """A valued flag reachable as -name and --name."""
    ap.add_argument(f'-{name}', f'--{name}', dest=name, **kw)


def bool_flag(ap, name, help=None):
    """A boolean flag: -name / --name (true), -name=false, -noname / --noname (false)."""
    ap.bool_flags.add(name)
    ap.add_argument(f'-{name}', f'--{name}', dest=name, action='store_true', default=False, help=help)
    ap.add_argument(f'-no{name}', f'--no{name}', dest=name, action='store_false', help=argparse.SUPPRESS)
