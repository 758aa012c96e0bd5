"""The paper's published figures, keyed by reference model folder and evaluation split, each with its source.

Values are percentages as printed (pixel acc., mean acc., mean IU, f.w. IU, and geometric acc. for SIFT Flow);
None where the source gives none. ``verified`` is False for values attributed to the PAMI paper that no public
source confirms (printed as UNVERIFIED beside them).
"""
from collections import namedtuple

from netspec.models import folder_name

from .metrics import METRICS

Entry = namedtuple('Entry', 'row overall_acc mean_acc mean_iu fwavacc geo_acc source verified')

CVPR = 'CVPR 2015 paper (arXiv 1411.4038 v2+)'
REPO = 'shelhamer/fcn.berkeleyvision.org README'
WKENTARO = 'wkentaro/pytorch-fcn README'
PAMI = 'PAMI 2016 (arXiv 1605.06211)'


def _e(row, acc, macc, miu, fw, source, verified=True, geo=None):
    return Entry(row, acc, macc, miu, fw, geo, source, verified)


PAPER = {
    ('voc-fcn32s', 'seg11valid'): [
        _e('FCN-32s, released heavy model', 90.5, 76.5, 63.6, 83.5,
           f'{REPO} (mean IU 63.6); {WKENTARO} (90.49 / 76.48 / 63.63 / 83.47)'),
        _e('FCN-32s, CVPR recipe (batch 20, momentum 0.9)', 89.1, 73.3, 59.4, 81.4, f'{CVPR}, Table 2'),
    ],
    ('voc-fcn16s', 'seg11valid'): [
        _e('FCN-16s, released heavy model', 91.0, 78.1, 65.0, 84.3,
           f'{REPO} (mean IU 65.0); {WKENTARO} (91.00 / 78.07 / 65.01 / 84.27)'),
        _e('FCN-16s, CVPR recipe', 90.0, 75.7, 62.4, 83.0, f'{CVPR}, Table 2'),
    ],
    ('voc-fcn8s', 'seg11valid'): [
        _e('FCN-8s staged, released heavy model', 91.2, 77.6, 65.5, 84.5,
           f'{REPO} (mean IU 65.5); {WKENTARO} (91.23 / 77.61 / 65.51 / 84.55)'),
        _e('FCN-8s, CVPR recipe', 90.3, 75.9, 62.7, 83.2, f'{CVPR}, Table 2'),
    ],
    ('voc-fcn8s-atonce', 'seg11valid'): [
        _e('FCN-8s at-once, released model', 91.1, 78.5, 65.4, 84.4,
           f'{REPO} (mean IU 65.4); {WKENTARO} (91.13 / 78.50 / 65.40 / 84.44)'),
    ],
    ('voc-fcn-alexnet', 'seg11valid'): [
        _e('FCN-AlexNet, repo recipe', None, None, 48.0, None, REPO),
        _e('FCN-AlexNet trained with SBD', None, None, 48.0, None, f'{CVPR}, text after Table 1'),
    ],
    ('siftflow-fcn16s', 'test'): [
        _e('FCN-16s (3 absent classes excluded)', 85.2, 51.7, 39.5, 76.1, f'{CVPR}, Table 5', geo=94.3),
    ],
    ('siftflow-fcn8s', 'test'): [
        _e('FCN-8s (3 absent classes excluded)', 85.9, 53.9, 41.2, 77.2, f'{PAMI}, SIFT Flow table', False,
           geo=94.5),
    ],
    ('nyud-fcn32s-color', 'test'): [
        _e('FCN-32s RGB', 60.0, 42.2, 29.2, 43.9, f'{CVPR}, Table 4'),
        _e('FCN-32s RGB (PAMI)', 61.8, 44.7, 31.6, 46.0, f'{PAMI}, NYUDv2 table', False),
    ],
    ('nyud-fcn32s-color-d', 'test'): [
        _e('FCN-32s RGBD (early fusion)', 61.5, 42.4, 30.5, 45.5, f'{CVPR}, Table 4'),
        _e('FCN-32s RGBD (PAMI)', 62.1, 44.8, 31.7, 46.3, f'{PAMI}, NYUDv2 table', False),
    ],
    ('nyud-fcn32s-hha', 'test'): [
        _e('FCN-32s HHA', 57.1, 35.2, 24.2, 40.4, f'{CVPR}, Table 4'),
        _e('FCN-32s HHA (PAMI)', 58.3, 35.7, 25.2, 41.7, f'{PAMI}, NYUDv2 table', False),
    ],
    ('nyud-fcn32s-color-hha', 'test'): [
        _e('FCN-32s RGB-HHA (late fusion)', 64.3, 44.9, 32.8, 48.0, f'{CVPR}, Table 4'),
        _e('FCN-32s RGB-HHA (PAMI)', 65.3, 44.0, 33.3, 48.6,
           f'{PAMI}, NYUDv2 table (mean acc. 44 corroborated by Papers with Code; the rest unverified)', False),
    ],
    ('pascalcontext-fcn32s', 'val'): [
        _e('FCN-32s, 59 class', 63.8, 42.7, 31.8, 48.3, 'arXiv 1411.4038 v2, Appendix B, Table 6'),
        _e('FCN-32s, 59 class (PAMI)', 65.5, 49.1, 36.7, 50.9, f'{PAMI}, PASCAL-Context table', False),
    ],
    ('pascalcontext-fcn16s', 'val'): [
        _e('FCN-16s, 59 class', 65.7, 46.2, 34.8, 50.7, 'arXiv 1411.4038 v2, Appendix B, Table 6'),
        _e('FCN-16s, 59 class (PAMI)', 66.9, 51.3, 38.4, 52.3, f'{PAMI}, PASCAL-Context table', False),
    ],
    ('pascalcontext-fcn8s', 'val'): [
        _e('FCN-8s, 59 class', 65.9, 46.5, 35.1, 51.0, 'arXiv 1411.4038 v2, Appendix B, Table 6'),
        _e('FCN-8s, 59 class (later arXiv / model zoo)', None, None, 37.8, None,
           'arXiv 1411.4038 v3, Appendix B; developmentseed/caffe-fcn fcn-8s/readme.md'),
        _e('FCN-8s, 59 class (PAMI)', 67.5, 52.3, 39.1, 53.0, f'{PAMI}, PASCAL-Context table', False),
    ],
}


def published(folder, split):
    """The published rows for a model folder (a path or a reference folder name) and split; [] if none."""
    return list(PAPER.get((folder_name(str(folder)), split), []))
