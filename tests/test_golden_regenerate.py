"""tests/golden/regenerate.py: one command regenerates the fixtures; without --accept it only reports what changed."""
import io
import pathlib

from golden import regenerate as rg


def fixtures(tmp_path):
    """A fixture folder with one fixture and two generators: one rewrites it and adds a file, one fails."""
    (tmp_path / 'runtime').mkdir()
    (tmp_path / 'runtime' / 'a.npz').write_bytes(b'old')
    (tmp_path / 'runtime' / 'same.txt').write_text('kept')
    (tmp_path / 'make_new.py').write_text(
        'import os\nhere = os.path.dirname(os.path.abspath(__file__))\n'
        "open(os.path.join(here, 'runtime', 'a.npz'), 'wb').write(b'new')\n"
        "open(os.path.join(here, 'runtime', 'b.npz'), 'wb').write(b'added')\n")
    (tmp_path / 'make_broken.py').write_text(
        'import os\nhere = os.path.dirname(os.path.abspath(__file__))\n'
        "open(os.path.join(here, 'runtime', 'a.npz'), 'wb').write(b'half')\nraise SystemExit(3)\n")
    return rg.Generator('make_new', (), False), rg.Generator('make_broken', (), False)


def test_a_dry_run_reports_the_changes_and_puts_the_fixtures_back(tmp_path):
    new, _ = fixtures(tmp_path)
    out = io.StringIO()
    diff, status = rg.regenerate([new], accept=False, folder=str(tmp_path), out=out)
    assert diff == [('changed', 'runtime/a.npz'), ('added', 'runtime/b.npz')]
    assert status == 1 and '--accept' in out.getvalue()
    assert (tmp_path / 'runtime' / 'a.npz').read_bytes() == b'old'
    assert not (tmp_path / 'runtime' / 'b.npz').exists()


def test_accept_keeps_the_regenerated_fixtures(tmp_path):
    new, _ = fixtures(tmp_path)
    diff, status = rg.regenerate([new], accept=True, folder=str(tmp_path), out=io.StringIO())
    assert status == 0 and len(diff) == 2
    assert (tmp_path / 'runtime' / 'a.npz').read_bytes() == b'new'
    assert (tmp_path / 'runtime' / 'b.npz').read_bytes() == b'added'
    assert (tmp_path / 'runtime' / 'same.txt').read_text() == 'kept'


def test_a_failing_generator_leaves_the_fixtures_as_they_were_even_with_accept(tmp_path):
    new, broken = fixtures(tmp_path)
    out = io.StringIO()
    _, status = rg.regenerate([new, broken], accept=True, folder=str(tmp_path), out=out)
    assert status == 2 and 'make_broken failed' in out.getvalue()
    assert (tmp_path / 'runtime' / 'a.npz').read_bytes() == b'old'
    assert not (tmp_path / 'runtime' / 'b.npz').exists()


def test_every_generator_script_is_in_the_table():
    names = sorted(p.stem for p in pathlib.Path(rg.HERE).glob('make_*.py'))
    assert sorted(g.name for g in rg.GENERATORS) == names


def test_an_oracle_generator_runs_in_the_oracles_environment():
    argv, env = rg.command(rg.Generator('make_runtime', ('x',), True), '/opt/o/env.sh')
    assert argv[:2] == ['bash', '-c'] and argv[2].startswith('source /opt/o/env.sh && python ')
    assert argv[2].endswith('make_runtime.py x')
