"""The applications over the library: what a run of the reference project does, as functions the tools call.

Modules: recipe (the reference training loop, each folder's solve.py: `train(folder, ...)`, behind tools/solve.py
and the demo), report (scoring a model folder end to end, behind tools/score.py), inference (label images from
image files, behind tools/infer.py), bench (the runtime against a hand-written nn.Module, behind tools/bench.py),
bench_weights (`python -m fcnapps.bench_weights`: reading and writing a large .caffemodel).

The library (netspec, weights, runtime, datalayers, solvers, scoring, pycaffe) never imports this package or the
other applications (fcndemo, devicecheck, tools); tests/test_layering.py checks it and tools/import_graph.py draws
the graph that README shows.

Importing this package makes the reference nets runnable: their Python data layers (`module: 'voc_layers'`, ...)
are this project's datalayers modules, which the runtime finds only in the packages an application names
(runtime.add_layer_package).
"""
from runtime import add_layer_package

add_layer_package('datalayers')
