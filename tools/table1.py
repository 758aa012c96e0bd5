"""The paper's Table 1, computed from the generated nets, beside the published row.

    python tools/table1.py [--device cpu|cuda] [--repeat 3] [--threads N] [--no-time]

Conv. layers, parameters, receptive field and max stride come from the nets' geometry (netspec.table1); forward
time is measured here: full width, 500x500, batch 1 (the paper: a Tesla K40c).
"""
import argparse
import statistics
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='cpu', help='cpu or cuda[:k] for the forward times (default cpu)')
    ap.add_argument('--repeat', type=int, default=3, help='timed forwards per net after a warm-up (the mean counts)')
    ap.add_argument('--size', type=int, default=500, help='input height and width of the timed forward (500)')
    ap.add_argument('--threads', type=int, help="torch's CPU threads (default: torch's choice)")
    ap.add_argument('--no-time', action='store_true', help='geometry only: no forward is run')
    args = ap.parse_args(argv)
    from netspec import table1
    rows = table1.rows()
    times = None
    if not args.no_time:
        import torch
        from runtime.timing import forward_times
        if args.threads:
            torch.set_num_threads(args.threads)
        times = {}
        for name in table1.NETS:
            t = forward_times(table1.deploy_net(name, args.size), device=args.device, repeat=args.repeat)
            times[name] = statistics.mean(t)
        where = (f'{args.device}, {torch.get_num_threads()} threads' if args.device == 'cpu'
                 else torch.cuda.get_device_name(args.device))
        print(f'forward time: mean of {args.repeat} after a warm-up, {args.size}x{args.size}, batch 1, {where}')
    lines, notes = table1.format_table(rows, times)
    print('\n'.join(lines))
    print()
    print('\n'.join(f'- {n}' for n in notes))
    print(f'The paper: {table1.PAPER_SOURCE}.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
