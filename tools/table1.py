"""The paper's Table 1, computed from the generated nets, beside the published row.

    python tools/table1.py [--device cpu|cuda] [--repeat 3] [--size 500] [--threads N] [--no-time] [--results PATH]

Conv. layers, parameters, receptive field and max stride come from the nets' geometry (netspec.table1); forward
time is measured here: full width, 500x500, batch 1 (the paper: a Tesla K40c). --results takes the results.json
of `fcn-ablate --studies table1` and fills the mean IU row with its FCN-32s figures (the mean over its seeds),
labelled as what they are: the synthetic data, the width and the seeds, beside the paper's VOC2011 val figures.
"""
import argparse
import json
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
    ap.add_argument('--results', metavar='PATH', help="results.json of 'fcn-ablate --studies table1': its trained "
                                                      "mean IU fills the mean IU row")
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 printed, 2 usage (a --repeat, --size or --threads below 1),
    3 a --results file that is missing, not JSON or holds no table1 study."""
    return run(build_parser(), print_table, argv)


def trained_mean_iu(path):
    """({net: mean IU in %, the mean over seeds}, the description of those figures) from a results.json of
    fcn-ablate's table1 study; ValueError naming the file where it is not one, OSError where it cannot be read."""
    with open(path) as f:
        try:
            results = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: not a JSON file ({e})') from None
    if not isinstance(results, dict) or 'table1' not in results.get('studies', ()):
        raise ValueError(f"{path}: no table1 study in this results file (run 'fcn-ablate --studies table1')")
    per_seed = {name: [] for name in table1.NETS}
    try:
        seeds = [s['seed'] for s in results['seeds']]
        for s in results['seeds']:
            found = {r['label']: r for r in s['runs'].values()}
            for name in table1.NETS:
                per_seed[name].append(100 * float(found[name]['metrics']['mean_iu']))
        cfg = results['config']
        width, iters, n_val, classes = cfg['table1_width'], cfg['iters'], cfg['n_val'], cfg['num_classes']
    except (KeyError, TypeError) as e:
        raise ValueError(f'{path}: a table1 results file lacks {_message(e)}') from None
    mean = {name: statistics.mean(v) for name, v in per_seed.items()}
    seeds_text = ', '.join(map(str, seeds))
    width_text = f'1/{round(1 / width)}' if abs(1 / width - round(1 / width)) < 1e-9 else f'{width:g}'
    description = [
        f"{table1.TRAINED_LABEL}: here FCN-32s trained by fcn-ablate on its synthetic shapes ({classes} classes, "
        f"{n_val} val images), at {width_text} of the channels, {iters} iterations, the mean over seed(s) "
        f"{seeds_text}; the paper's on PASCAL VOC 2011 val (21 classes, full width). Compare the order, not the "
        f"values.",
        'mean IU per seed: ' + '; '.join(f"{n} {' / '.join(f'{v:.1f}' for v in per_seed[n])}"
                                         for n in table1.NETS) + '.']
    return mean, description


def _message(error):
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


def print_table(args):
    for option in ('repeat', 'size', 'threads'):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise UsageError(f'--{option} must be at least 1, not {value}')
    mean_iu, described = trained_mean_iu(args.results) if args.results else (None, [])
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
    lines, notes = table1.format_table(table1.rows(), times, mean_iu=mean_iu)
    print('\n'.join(lines))
    print()
    print('\n'.join(f'- {n}' for n in described + notes))
    print(f'The paper: {table1.PAPER_SOURCE}.')


if __name__ == '__main__':
    sys.exit(main())
