"""The embedded demo: the whole FCN paper on one CPU, from a classifier to FCN-8s, on synthetic data.

    from fcndemo import Config, run
    results = run(Config(out='demo-output'))      # or Config.quick(...) for the shortened run

fcndemo.nets holds the demo's nets (NetSpec DSL), fcndemo.pipeline the steps; tools/demo.py is the command line.
fcndemo.ablate runs the paper's studies (Table 2 with FCN-32s-fixed and FCN-4s/2s, loss sampling, class balancing,
augmentation, learned upsampling, shift-and-stitch) on the same data; tools/ablate.py is its command line.
"""
from .pipeline import Config, run, STAGES, METRICS, format_table

__all__ = ['Config', 'run', 'STAGES', 'METRICS', 'format_table']
