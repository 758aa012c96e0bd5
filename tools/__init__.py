"""The command-line tools: argument parsing and printing only, the work done by the packages.

Each module is one tool with `main(argv=None)` returning its exit status (tools._cli documents the statuses):
make_nets (fcn-make-nets), surgery (fcn-surgery), convert (fcn-convert), solve (fcn-solve), score (fcn-score),
infer (fcn-infer), own (fcn-own: the recipe on a user's dataset), demo (fcn-demo), ablate (fcn-ablate), table1
(fcn-table1), cuda_check (fcn-cuda-check), the benchmarks bench and bench_score, and import_graph (README's picture
of the imports) (fcn-pycaffe is pycaffe's own `python -m pycaffe`). Run one as `python tools/NAME.py`,
`python -m tools.NAME` or by its console script.

A tool that builds nets imports fcnapps, which puts datalayers on the runtime's Python-layer path, so that it runs
the reference nets, whose data layers name datalayers' modules.
"""

__all__ = ['make_nets', 'surgery', 'convert', 'solve', 'score', 'infer', 'own', 'demo', 'ablate', 'table1', 'cuda_check',
           'bench', 'bench_score', 'import_graph']
