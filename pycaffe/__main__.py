"""python -m pycaffe [--cpu] SCRIPT.py ARGS...: run an unchanged pycaffe script on this project (fcn-pycaffe).

--cpu: set_mode_gpu()/set_device() stay on the CPU where no CUDA device exists (said once on stderr), so
scripts written for a GPU run on a CPU machine. Caffe's log goes to stderr as pycaffe's glog does
(GLOG_minloglevel=1 or 2 keeps only warnings or errors).
"""
import logging
import os
import sys

USAGE = 'usage: python -m pycaffe [--cpu] SCRIPT.py [ARGS...]'


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    cpu = False
    while argv and argv[0].startswith('-'):
        opt = argv.pop(0)
        if opt == '--cpu':
            cpu = True
        elif opt in ('-h', '--help'):
            print(USAGE + '\n\n' + __doc__)
            return 0
        else:
            print(f'pycaffe: unknown option {opt!r}\n{USAGE}', file=sys.stderr)
            return 2
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    from solvers import setup_logging
    from . import fall_back_to_cpu
    from .runner import run_script
    level = {'0': logging.INFO, '1': logging.WARNING, '2': logging.ERROR, '3': logging.CRITICAL}
    setup_logging(level.get(os.environ.get('GLOG_minloglevel', '0'), logging.INFO))
    if cpu:
        fall_back_to_cpu()
    run_script(argv[0], argv[1:])
    return 0


if __name__ == '__main__':
    sys.exit(main())
