"""Reading a Caffe training log back: the rows Caffe's tools/extra/parse_log.py makes of it.

`parse_log(path)` -> (train rows, test rows), each row a dict NumIters, Seconds, LearningRate and one entry per
output name, with parse_log.py's rules: its four regular expressions; nothing before the first `Iteration N`;
Seconds from glog's line prefix, counted from the `Solving ...` line (extract_seconds.py; the year from the file's
time, a month going backwards starting a new year; a newer glog's prefix with the year, which parse_log.py cannot
read, is read too); the rate of the last `lr = ` line; a row is complete when it
has as many entries as the first row; the first row's rate copied from the second's. It reads logs of the real
Caffe, of `caffe train` here and of fcn-solve alike.
"""
import datetime
import os
import re

__all__ = ['REGEX_ITERATION', 'REGEX_TRAIN_OUTPUT', 'REGEX_TEST_OUTPUT', 'REGEX_LEARNING_RATE', 'parse_log',
           'parse_lines', 'line_time', 'learning_rates']

REGEX_RATE_LINE = re.compile(r'Iteration (\d+), lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)')

REGEX_ITERATION = re.compile(r'Iteration (\d+)')
REGEX_TRAIN_OUTPUT = re.compile(r'Train net output #(\d+): (\S+) = ([\.\deE+-]+)')
REGEX_TEST_OUTPUT = re.compile(r'Test net output #(\d+): (\S+) = ([\.\deE+-]+)')
REGEX_LEARNING_RATE = re.compile(r'lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)')


def line_time(line, year):
    """The datetime of a glog line (`I0210 13:39:22.381027 25210 solver.cpp:204] ...`, or a newer glog's
    `I20260210 ...`, whose year is used); ValueError otherwise."""
    parts = line.strip().split()
    if len(parts) < 2 or len(parts[0]) < 5:
        raise ValueError(f'not a glog line: {line!r}')
    if len(parts[0]) == 9:                 # a newer glog's prefix with the year: I20261206
        year, parts[0] = int(parts[0][1:5]), parts[0][0] + parts[0][5:]
    month, day = int(parts[0][1:3]), int(parts[0][3:])
    stamp = parts[1]
    pos = stamp.rfind('.')
    hour, minute, second = (int(x) for x in stamp[:pos].split(':'))
    return datetime.datetime(year, month, day, hour, minute, second, int(stamp[pos + 1:]))


def parse_log(path):
    """(train rows, test rows) of a log file, as parse_log.py makes them."""
    year = datetime.datetime.fromtimestamp(os.path.getctime(path)).year
    with open(path) as f:
        return parse_lines(f.read().splitlines(), year)


def parse_lines(lines, year):
    start = None
    rest = iter(lines)
    for line in rest:                      # extract_seconds.get_start_time: the first line with 'Solving'
        if 'Solving' in line:
            start = line_time(line, year)
            break
    if start is None:
        raise ValueError('no "Solving ..." line: the log has no start time')
    iteration, rate = -1, float('nan')
    train, test = [], []
    rows = {'train': None, 'test': None}
    last = start
    for line in rest:
        m = REGEX_ITERATION.search(line)
        if m:
            iteration = float(m.group(1))
        if iteration == -1:
            continue
        try:
            t = line_time(line, year)
        except ValueError:
            continue
        if t.month < last.month:
            year += 1
            t = line_time(line, year)
        last = t
        seconds = (t - start).total_seconds()
        m = REGEX_LEARNING_RATE.search(line)
        if m:
            rate = float(m.group(1))
        for key, regex, out in (('train', REGEX_TRAIN_OUTPUT, train), ('test', REGEX_TEST_OUTPUT, test)):
            rows[key] = _row(regex, rows[key], out, line, iteration, seconds, rate)
    for out in (train, test):
        if len(out) > 1:
            out[0]['LearningRate'] = out[1]['LearningRate']
    return train, test


def _row(regex, row, out, line, iteration, seconds, rate):
    m = regex.search(line)
    if m:
        if not row or row['NumIters'] != iteration:
            if row:
                out.append(row)
            row = {'NumIters': iteration, 'Seconds': seconds, 'LearningRate': rate}
        row[m.group(2)] = float(m.group(3))
    if row and out and len(row) == len(out[0]):
        out.append(row)
        row = None
    return row


def learning_rates(path):
    """[{'NumIters', 'LearningRate'}] from the `Iteration N, lr = X` lines themselves: the rate each iteration
    used (parse_log.py's LearningRate column lags: a row takes the rate printed before its outputs, the previous
    iteration's)."""
    out = []
    with open(path) as f:
        for line in f:
            m = REGEX_RATE_LINE.search(line)
            if m:
                out.append({'NumIters': float(m.group(1)), 'LearningRate': float(m.group(2))})
    return out
