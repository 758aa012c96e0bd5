"""Regenerate the committed fixtures with one command, as torchvision's expect files are:

    python tests/golden/regenerate.py                  # run every generator, list what changed, put the old back
    python tests/golden/regenerate.py --accept         # ... and keep the new fixtures
    python tests/golden/regenerate.py make_runtime make_solvers --accept   # some generators only

Each generator runs in its own environment: the real Caffe's (`source ENV_SH` first; --oracle, default
/opt/caffe-oracle/env.sh, which `bash ../shared/oracle/build.sh` builds) or this project's (this Python, the
checkout first on PYTHONPATH). Without --accept every fixture file under tests/golden is kept in memory first and
written back afterwards (new files removed), so a dry run only reports: `changed`, `added` and `removed`, one file a
line. Exit status: 0 when nothing changed or --accept kept it, 1 when a fixture would change, 2 when a generator
failed (the fixtures are put back then, --accept or not).
"""
import argparse
import collections
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORACLE_ENV = '/opt/caffe-oracle/env.sh'

Generator = collections.namedtuple('Generator', 'name args oracle')

#: every generator, in the order they run, with its arguments and whether it needs the real Caffe's environment
#: (make_weights and make_pycaffe_scripts run their Caffe steps in it themselves)
GENERATORS = (
    Generator('make_schema', (), True),
    Generator('make_upgrades', (), True),
    Generator('make_runtime', (), True),
    Generator('make_variants', (), True),
    Generator('make_solvers', (), True),
    Generator('make_pycaffe', ('api', 'io', 'shapes'), True),
    Generator('make_weights', ('all',), False),
    Generator('make_pycaffe_scripts', (), False),
    Generator('make_demo', (), False),
    Generator('make_layers', (), True),
    Generator('make_datalayers', (), False),
    Generator('make_cli', (), True),
    Generator('make_imageset', (), True),
    Generator('make_upgrade_tools', (), True),
    Generator('make_draw', (), False),
    Generator('make_classify', (), True),
)


def fixture_files(folder=HERE):
    """{path relative to folder: bytes} of every fixture (every file but the Python sources and their caches)."""
    out = {}
    for d, dirs, files in os.walk(folder):
        dirs[:] = sorted(x for x in dirs if x != '__pycache__')
        for name in sorted(files):
            if not name.endswith(('.py', '.pyc')):
                path = os.path.join(d, name)
                with open(path, 'rb') as f:
                    out[os.path.relpath(path, folder)] = f.read()
    return out


def differences(before, after):
    """[(kind, path)] with kind 'changed', 'added' or 'removed', sorted by path."""
    out = [('changed', p) for p in before if p in after and before[p] != after[p]]
    out += [('added', p) for p in after if p not in before] + [('removed', p) for p in before if p not in after]
    return sorted(out, key=lambda e: e[1])


def put_back(before, folder=HERE):
    """Write the fixtures of `before` back and remove the ones it did not have."""
    for path in fixture_files(folder):
        if path not in before:
            os.unlink(os.path.join(folder, path))
    for path, data in before.items():
        full = os.path.join(folder, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'wb') as f:
            f.write(data)


def command(gen, oracle_env=ORACLE_ENV, folder=HERE):
    """(argv, env) that runs one generator from the project root."""
    script = os.path.join(folder, gen.name + '.py')
    env = dict(os.environ)
    if gen.oracle:
        line = f'source {shlex.quote(oracle_env)} && python {shlex.quote(script)} ' + ' '.join(gen.args)
        return ['bash', '-c', line], env
    env['PYTHONPATH'] = os.pathsep.join([ROOT] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    return [sys.executable, script, *gen.args], env


def regenerate(generators, accept=False, oracle_env=ORACLE_ENV, folder=HERE, out=sys.stdout):
    """Run the generators; print and return the differences and the exit status (see the module docstring)."""
    before = fixture_files(folder)
    status = 0
    for gen in generators:
        argv, env = command(gen, oracle_env, folder)
        print(f'regenerate: {gen.name} {" ".join(gen.args)}'.rstrip(), file=out, flush=True)
        if subprocess.run(argv, cwd=ROOT, env=env).returncode != 0:
            print(f'regenerate: {gen.name} failed; the fixtures are put back', file=out)
            status = 2
            break
    diff = differences(before, fixture_files(folder))
    for kind, path in diff:
        print(f'{kind:8s} {os.path.join(os.path.relpath(folder, ROOT), path)}', file=out)
    if status or not accept:
        put_back(before, folder)
    if not status and diff and not accept:
        print('regenerate: fixtures would change (put back); run again with --accept to keep them', file=out)
        status = 1
    return diff, status


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('names', nargs='*', metavar='GENERATOR',
                    help='generators to run (default: all): ' + ', '.join(g.name for g in GENERATORS))
    ap.add_argument('--accept', action='store_true', help='keep the regenerated fixtures')
    ap.add_argument('--oracle', default=ORACLE_ENV, metavar='ENV_SH', help=f"the real Caffe's env.sh ({ORACLE_ENV})")
    args = ap.parse_args(argv)
    known = {g.name: g for g in GENERATORS}
    unknown = [n for n in args.names if n.removesuffix('.py') not in known]
    if unknown:
        ap.error(f'unknown generator(s) {", ".join(unknown)}; known: {", ".join(known)}')
    chosen = [known[n.removesuffix('.py')] for n in args.names] or list(GENERATORS)
    return regenerate(chosen, args.accept, args.oracle)[1]


if __name__ == '__main__':
    sys.exit(main())
