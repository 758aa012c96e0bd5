"""Scoring: the confusion matrix by bincount, the paper's four metrics, scoring a net over its split, and the
paper's published figures (scoring.paper.PAPER) to compare with.

Modules: metrics (fast_hist, scores), evaluate (the reference seg_tests, for every head of a net: the one scoring
path of tools/score.py and fcnapps.recipe), classes (a head's class names and the classes the paper leaves out,
from netspec.models' dataset-family records), paper (published figures). Scoring a model folder end to end
(tools/score.py) and inference on image files (tools/infer.py) are applications: fcnapps.report, fcnapps.inference.
"""
from .metrics import METRIC_LABELS, METRICS, fast_hist, per_class, scores
from .evaluate import (compute_hist, compute_hists, do_seg_tests, do_seg_tests_heads, format_seg_tests, heads,
                       seg_tests, seg_tests_heads)
from .paper import PAPER, published
from .classes import class_names, dataset_family, excluded_classes

__all__ = ['METRICS', 'METRIC_LABELS', 'fast_hist', 'per_class', 'scores', 'compute_hist', 'compute_hists', 'do_seg_tests', 'do_seg_tests_heads',
           'format_seg_tests', 'heads', 'seg_tests', 'seg_tests_heads', 'PAPER', 'published', 'class_names',
           'dataset_family', 'excluded_classes']
