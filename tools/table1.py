"""The paper's Table 1, computed from the generated nets, beside the published row.

    python tools/table1.py [--device cpu|cuda] [--repeat 3] [--size 500] [--threads N] [--no-time]

Conv. layers, parameters, receptive field and max stride come from the nets' geometry (netspec.table1); forward
time is measured here: full width, 500x500, batch 1 (the paper: a Tesla K40c).
"""
import argparse
import statistics
import sys
import time

import torch

from netspec import table1
from runtime.timing import forward_times
from tools._cli import UsageError, device, run


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='cpu', type=device,
                    help='cpu or cuda[:k] for the forward times (default cpu)')
    ap.add_argument('--repeat', type=int, default=3, help='timed forwards per net after a warm-up (the mean counts)')
    ap.add_argument('--size', type=int, default=500, help='input height and width of the timed forward (500)')
    ap.add_argument('--threads', type=int, help="torch's CPU threads (default: torch's choice)")
    ap.add_argument('--no-time', action='store_true', help='geometry only: no forward is run')
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 printed, 2 usage (a --repeat, --size or --threads below 1)."""
    return run(build_parser(), print_table, argv)


def print_table(args):
    for option in ('repeat', 'size', 'threads'):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise UsageError(f'--{option} must be at least 1, not {value}')
    times = None
    if not args.no_time:
        if args.threads:
            torch.set_num_threads(args.threads)
        times = {}
        for k, name in enumerate(table1.NETS, 1):   # a minute on a small CPU: say what runs, on stderr
            print(f'[{k}/{len(table1.NETS)}] timing {name}: {1 + args.repeat} forwards at {args.size}x{args.size} '
                  f'on {args.device} ...', end='', file=sys.stderr, flush=True)
            t = time.perf_counter()
            times[name] = statistics.mean(forward_times(table1.deploy_net(name, args.size), device=args.device,
                                                        repeat=args.repeat))
            print(f' {time.perf_counter() - t:.1f} s', file=sys.stderr, flush=True)
        where = (f'{args.device}, {torch.get_num_threads()} threads' if args.device == 'cpu'
                 else torch.cuda.get_device_name(args.device))
        print(f'forward time: mean of {args.repeat} after a warm-up, {args.size}x{args.size}, batch 1, {where}')
    lines, notes = table1.format_table(table1.rows(), times)
    print('\n'.join(lines))
    print()
    print('\n'.join(f'- {n}' for n in notes))
    print(f'The paper: {table1.PAPER_SOURCE}.')


if __name__ == '__main__':
    sys.exit(main())
