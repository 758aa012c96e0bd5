"""python -m pycaffe [--cpu] SCRIPT.py ARGS...: run an unchanged pycaffe script on this project (fcn-pycaffe).

--cpu: set_mode_gpu()/set_device() stay on the CPU where no CUDA device exists (said once on stderr), so
scripts written for a GPU run on a CPU machine. Caffe's log goes to stderr as pycaffe's glog does
(GLOG_minloglevel=1 or 2 keeps only warnings or errors).

Exit status: the script's own, as `python SCRIPT.py ARGS...` gives it: 0 when it ends, its sys.exit() code (a
message printed, status 1), and status 1 after its traceback when it raises. The runner's own (tools/_cli.py's
table): 2 usage (an unknown option before SCRIPT.py, no script named), 3 a missing or unreadable script, each
one line `fcn-pycaffe: error: ...` on stderr.
"""
import argparse
import logging
import os
import sys

from solvers import setup_logging
from tools._cli import BAD_INPUT, OK, fail

from ._mode import fall_back_to_cpu
from .runner import check_script, print_script_error, run_script

#: GLOG_minloglevel -> the level of the solvers' log
GLOG_LEVELS = {'0': logging.INFO, '1': logging.WARNING, '2': logging.ERROR, '3': logging.CRITICAL}


def build_parser():
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else 'fcn-pycaffe'
    ap = argparse.ArgumentParser(prog='python -m pycaffe' if prog == '__main__.py' else prog, allow_abbrev=False,
                                 description=__doc__.split('\n\n')[0],
                                 epilog=__doc__.split('\n\n', 1)[1], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--cpu', action='store_true', help='stay on the CPU where a script asks for a missing GPU')
    ap.add_argument('script', help='the pycaffe script, run as __main__ with its folder first on sys.path')
    ap.add_argument('args', nargs=argparse.REMAINDER, help="the script's arguments (its sys.argv[1:])")
    return ap


def exit_status(code):
    """The status Python exits with for SystemExit(code): None 0, an int itself, anything else printed and 1."""
    if code is None:
        return OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:     # argparse printed the help (0) or the usage and its error (2)
        return e.code
    try:
        check_script(args.script)
    except OSError as e:
        return fail(parser.prog, e, BAD_INPUT)
    setup_logging(GLOG_LEVELS.get(os.environ.get('GLOG_minloglevel', '0'), logging.INFO))
    if args.cpu:
        fall_back_to_cpu()
    try:
        run_script(args.script, args.args)
    except SystemExit as e:
        return exit_status(e.code)
    except Exception as e:      # the script's own error: its traceback, status 1, as `python SCRIPT.py` gives
        print_script_error(e, args.script)
        return 1
    return OK


if __name__ == '__main__':
    sys.exit(main())
