"""What every tool shares: how it runs, how it reports an error, and what its exit status means.

Exit status of every tool (the fcn-* console scripts, `python tools/NAME.py`, `python -m tools.NAME`):

    0    success
    1    an unexpected error, i.e. a bug: Python's traceback (no tool returns 1 on purpose)
    2    usage: an unknown or missing option, or an option value the tool refuses (argparse's own status; a
         --device that torch does not name or this machine lacks)
    3    bad input: a file or data the tool cannot use: a missing or unreadable file, a malformed prototxt, a
         truncated or mismatched weight file, wrong blob shapes, an unknown model folder, an incomplete dataset, a
         blob larger than the device's memory, a Python layer module that is missing or fails to import; a file
         that cannot be written (a full disk); a snapshot prefix that another fcn-solve run is writing
    4    fcn-solve: training stopped because the loss became NaN or infinite
    5    fcn-cuda-check: a step of the check failed (OUT/summary.json records which and why)
    130  interrupted by Ctrl-C (fcn-solve instead snapshots, stops and exits 0, as Caffe's `caffe train` does)

fcn-pycaffe (`python -m pycaffe SCRIPT.py`) runs a user's script: the script's own exit status and its own
exceptions (traceback, status 1) are what `python SCRIPT.py` gives; only the runner's bad input (a missing or
unreadable script) is status 3 with one line, and its unknown options status 2.

An error is one line on stderr, `PROG: error: MESSAGE` (argparse's form), the message naming the file and, where it
applies, the layer and the shapes involved; a usage error also prints the usage line first, as argparse does.

A warning (the tool goes on) is one line on stderr too, `warning: MESSAGE` (`warn`).

A tool is `main(argv=None)` returning `run(build_parser(), body, argv)`: `body(args)` does the work and prints; it
raises the packages' own errors (ValueError subclasses such as WeightsError or PrototxtError, OSError, KeyError) on
bad input and UsageError for an option value it refuses after parsing. `main` returns the status, never raises
SystemExit, so `sys.exit(main())` (what a console script does) exits with it. `run` makes every parser take options
only by their full names (no abbreviations: `--weight` is not `--weights`); a `--device` option has type=`device`.
"""
import argparse
import sys

__all__ = ['OK', 'USAGE', 'BAD_INPUT', 'DIVERGED', 'CHECK_FAILED', 'INTERRUPTED', 'BAD_INPUT_ERRORS', 'UsageError',
           'run', 'fail', 'warn', 'device', 'no_abbreviations']

OK = 0
USAGE = 2
BAD_INPUT = 3
DIVERGED = 4
CHECK_FAILED = 5
INTERRUPTED = 130

# The packages' errors for bad input: WeightsError, PrototxtError, LayerError, ShapeError, CropError and
# SolverParamError are ValueErrors, DatasetError is an OSError, unknown names in the packages' tables are KeyErrors.
BAD_INPUT_ERRORS = (ValueError, OSError, KeyError)


class UsageError(Exception):
    """An option value the tool refuses after argparse accepted it (exit status USAGE)."""


def _message(error):
    """The error's text on one line (a KeyError's str() would be the repr of its message)."""
    if isinstance(error, KeyError) and len(error.args) == 1:
        text = str(error.args[0])
    else:
        text = str(error) or type(error).__name__
    return ' '.join(text.split())


def fail(prog, error, status):
    """Print `PROG: error: MESSAGE` on one line to stderr and return `status`."""
    print(f'{prog}: error: {_message(error)}', file=sys.stderr, flush=True)
    return status


def warn(message):
    """Print `warning: MESSAGE` on one line to stderr."""
    print(f'warning: {_message(message)}', file=sys.stderr, flush=True)


def device(text):
    """argparse type of a --device option: a device torch names and this machine has (cpu, cuda, cuda:K), else a
    usage error in one line (a misspelt name such as 'gpu', CUDA on a CPU-only torch, a GPU index past the last)."""
    import torch
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError) as e:
        raise argparse.ArgumentTypeError(f'{text!r} is not a device torch names (give cpu, cuda or cuda:K)') \
            from None
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f'{text!r}: torch {torch.__version__} sees no CUDA device '
                                             f'(a CPU-only build of torch, or no GPU); give cpu')
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f'{text!r}: this machine has {torch.cuda.device_count()} CUDA '
                                             f'device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}')
    elif dev.type not in ('cpu', 'mps') or (dev.type == 'mps' and not torch.backends.mps.is_available()):
        raise argparse.ArgumentTypeError(f'{text!r}: not a device this machine runs nets on (give cpu, cuda or '
                                         f'cuda:K)')
    return text


def run(parser, body, argv=None, codes=()):
    """Parse argv, run body(args) and return the exit status (see the module docstring).

    codes: extra (exception types, status) pairs, tried before the bad-input errors (fcn-solve: a diverged loss;
    fcn-cuda-check: a failed check).
    Any other exception propagates: a traceback and status 1 mark a bug, not bad input.
    """
    no_abbreviations(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse printed the help (status 0) or the usage and its error (status 2)
        return e.code
    try:
        body(args)
    except UsageError as e:
        parser.print_usage(sys.stderr)
        return fail(parser.prog, e, USAGE)
    except KeyboardInterrupt:
        return fail(parser.prog, 'interrupted', INTERRUPTED)
    except Exception as e:
        for types, status in (*codes, (BAD_INPUT_ERRORS, BAD_INPUT)):
            if isinstance(e, types):
                return fail(parser.prog, e, status)
        raise
    return OK


def no_abbreviations(parser):
    """Options by their full names only (argparse's allow_abbrev=False), the parser's sub-parsers too."""
    parser.allow_abbrev = False
    for action in parser._actions:
        for sub in getattr(action, 'choices', None).values() if isinstance(action, argparse._SubParsersAction) \
                else ():
            no_abbreviations(sub)
