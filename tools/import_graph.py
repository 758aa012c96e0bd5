"""The project's import graph, package by package, drawn as floors: the library below, the applications above.

    python tools/import_graph.py                 # print the picture
    python tools/import_graph.py --readme README.md   # write it into README between its import-graph markers

Every import statement of every module counts (module level or inside a function), and importlib.import_module
with a literal name; the graph is read from the source (ast), so nothing is imported. A package's floor is one
above the highest floor it imports (netspec, which imports no other package of the project, is floor 1); each line
names the packages one imports. `pycaffe.__main__` (`python -m pycaffe`, fcn-pycaffe) is a command line, so it is
drawn with the applications, apart from the pycaffe API.

The split itself is LIBRARY and APPLICATIONS below; tests/test_layering.py fails when a library module imports an
application module and when README's picture is not what this script draws.
"""
import argparse
import ast
import os
import sys

from netspec.atomic import atomic_file
from tools._cli import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: the library: what a net is, runs, learns and is scored by (each package imports only packages of this list)
LIBRARY = ('netspec', 'weights', 'runtime', 'datalayers', 'solvers', 'scoring', 'pycaffe')
#: the applications: training recipes, reports, inference, benchmarks, the demo and its studies, the device check,
#: the command lines; a module of a library package that is a command line of its own is one of them
APPLICATIONS = ('fcnapps', 'fcndemo', 'devicecheck', 'tools', 'pycaffe.__main__')

BEGIN, END = '<!-- import-graph: python tools/import_graph.py --readme README.md -->', '<!-- /import-graph -->'


def node_of(module):
    """The graph node of a dotted module name: an application module named in APPLICATIONS, else its top package;
    None for a module outside the project."""
    for name in APPLICATIONS:
        if '.' in name and (module == name or module.startswith(name + '.')):
            return name
    top = module.split('.')[0]
    return top if top in LIBRARY + APPLICATIONS else None


def modules(root=ROOT):
    """(dotted module name, path) of every Python file of the project's packages."""
    out = []
    for package in sorted({n.split('.')[0] for n in LIBRARY + APPLICATIONS}):
        for folder, dirs, files in os.walk(os.path.join(root, package)):
            dirs[:] = sorted(d for d in dirs if d != '__pycache__')
            for name in sorted(files):
                if name.endswith('.py'):
                    path = os.path.join(folder, name)
                    rel = os.path.relpath(path, root)[:-3].replace(os.sep, '.')
                    out.append((rel[:-len('.__init__')] if rel.endswith('.__init__') else rel, path))
    return out


def imports_of(module, path):
    """The dotted names that the file `path` (module `module`) imports, with the line of each."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    package = module if path.endswith('__init__.py') else module.rpartition('.')[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.append((name, node.lineno))
            # `from pkg import mod` imports pkg.mod where mod is a module
            found += [(f'{name}.{a.name}', node.lineno) for a in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == 'import_module' and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.args[0].value, node.lineno))
    return found


def edges(root=ROOT):
    """{(from node, to node): [(module, line, imported name)]} between different nodes of the project."""
    known = {m for m, _ in modules(root)}
    out = {}
    for module, path in modules(root):
        a = node_of(module)
        for name, line in imports_of(module, path):
            # `from pkg import name` where name is not a module adds nothing beyond pkg itself
            if name not in known and name.rpartition('.')[0] in known:
                name = name.rpartition('.')[0]
            b = node_of(name)
            if b is not None and b != a and (module, line, name) not in out.get((a, b), ()):
                out.setdefault((a, b), []).append((module, line, name))
    return out


def upward(graph):
    """The imports from a library node into an application node: [(module, line, imported name)]."""
    return sorted(site for (a, b), sites in graph.items() if a in LIBRARY and b in APPLICATIONS for site in sites)


def floors(graph):
    """{node: floor}: 1 for a node that imports no other node, else one above the highest node it imports (a cycle
    raises ValueError naming it)."""
    deps = {n: set() for n in LIBRARY + APPLICATIONS}
    for a, b in graph:
        deps[a].add(b)
    floor, visiting = {}, []

    def visit(n):
        if n in floor:
            return floor[n]
        if n in visiting:
            raise ValueError('import cycle: ' + ' -> '.join(visiting[visiting.index(n):] + [n]))
        visiting.append(n)
        floor[n] = 1 + max((visit(d) for d in deps[n]), default=0)
        visiting.pop()
        return floor[n]

    for n in deps:
        visit(n)
    return floor


def picture(root=ROOT):
    """The text picture: one line per node, the highest floor first, the library's floors under a rule."""
    graph = edges(root)
    floor = floors(graph)
    deps = {n: sorted(b for a, b in graph if a == n) for n in floor}
    width = max(len(n) for n in floor)
    lines = ['floor  package -> the packages it imports', 'applications']
    for title, names in (('applications', APPLICATIONS), ('library', LIBRARY)):
        if title == 'library':
            lines += ['-' * 20 + ' no import crosses this line upwards ' + '-' * 20, 'library']
        for n in sorted(names, key=lambda n: (-floor[n], n)):
            lines.append(f'{floor[n]:4d}   {n:<{width}}  -> {" ".join(deps[n]) if deps[n] else "(none)"}')
    arrows = len(graph)
    lines.append(f'{max(floor.values())} floors, {arrows} arrows between packages; '
                 f'{len(upward(graph))} imports from the library into an application')
    return '\n'.join(lines) + '\n'


def readme_block(root=ROOT):
    """README's block: the markers around the picture in a code block."""
    return f'{BEGIN}\n```\n{picture(root)}```\n{END}'


def write_readme(path, root=ROOT):
    """Replace the block between README's markers with readme_block(); ValueError where the markers are absent."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f'{path}: no import-graph block (a line {BEGIN!r} and later {END!r})')
    text = text[:start] + readme_block(root) + text[end + len(END):]
    with atomic_file(path, 'README', mode='w') as f:
        f.write(text)


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--readme', metavar='README.md', help='write the picture into this file between its markers')
    return ap


def main(argv=None):
    """Exit status as tools/_cli.py documents it: 0 printed or written, 3 a README without the markers."""
    return run(build_parser(), draw, argv)


def draw(args):
    if args.readme:
        write_readme(args.readme)
    else:
        sys.stdout.write(picture())


if __name__ == '__main__':
    sys.exit(main())
