"""Scoring: the confusion matrix by bincount, the paper's four metrics, scoring a net over its split, and the
paper's published figures (scoring.paper.PAPER) to compare with."""
from .metrics import fast_hist, per_class, scores
from .evaluate import compute_hist, compute_hists, do_seg_tests, format_seg_tests, heads, seg_tests
from .paper import PAPER, published
from .classes import class_names, excluded_classes
