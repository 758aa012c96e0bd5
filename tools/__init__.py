"""The command-line tools: argument parsing and printing only, the work done by the packages.

Each module is one tool with `main(argv=None)` returning its exit status (tools._cli documents the statuses):
make_nets (fcn-make-nets), surgery (fcn-surgery), convert (fcn-convert), solve (fcn-solve), score (fcn-score),
infer (fcn-infer), demo (fcn-demo), and the benchmarks bench and bench_score. Run one as `python tools/NAME.py`,
`python -m tools.NAME` or by its console script.
"""
__all__ = ['make_nets', 'surgery', 'convert', 'solve', 'score', 'infer', 'demo', 'bench', 'bench_score']
