"""The confusion matrix and the four metrics equal an independent computation, including the reference's NaN
handling and the paper's exclusion of SIFT Flow's absent classes."""
import re

import numpy as np
import pytest

from scoring import fast_hist, scores
from scoring.paper import METRICS, PAPER


def independent_hist(a, b, n):
    """H[i, j] = #pixels with label i and prediction j, one class pair at a time (no bincount)."""
    a, b = np.asarray(a).ravel().astype(np.int64), np.asarray(b).ravel().astype(np.int64)
    H = np.zeros((n, n), np.int64)
    for i in range(n):
        for j in range(n):
            H[i, j] = np.count_nonzero((a == i) & (b == j))
    return H


def independent_metrics(H, exclude=()):
    """The four metrics written out with explicit loops over classes."""
    n = len(H)
    t = [sum(H[i]) for i in range(n)]
    p = [sum(H[k][j] for k in range(n)) for j in range(n)]
    total = sum(t)
    accs, ius, fw = [], [], 0.0
    for i in range(n):
        if i in exclude:
            continue
        if t[i] > 0:
            accs.append(H[i][i] / t[i])
        union = t[i] + p[i] - H[i][i]
        if union > 0:
            ius.append(H[i][i] / union)
            if t[i] > 0:
                fw += t[i] / total * H[i][i] / union
    return {'overall_acc': sum(H[i][i] for i in range(n)) / total, 'mean_acc': sum(accs) / len(accs),
            'mean_iu': sum(ius) / len(ius), 'fwavacc': fw}


@pytest.mark.parametrize('dtype', [np.uint8, np.int64, np.int32, np.float32])
def test_fast_hist_equals_an_independent_count_with_ignored_pixels(dtype):
    rng = np.random.default_rng(0)
    n = 7
    a = rng.integers(0, n, (50, 60))
    a[rng.random(a.shape) < 0.15] = 255          # void
    a[rng.random(a.shape) < 0.05] = n + 3         # any other out-of-range label is skipped too
    if np.dtype(dtype).kind != 'u':
        a[rng.random(a.shape) < 0.05] = -1        # and negative ones
    b = rng.integers(0, n, a.shape)
    H = fast_hist(a.astype(dtype), b.astype(np.uint8 if dtype == np.uint8 else np.int64), n)
    np.testing.assert_array_equal(H, independent_hist(a, b, n))
    assert H.sum() == np.count_nonzero((a >= 0) & (a < n))


def test_fast_hist_rejects_predictions_outside_the_classes():
    with pytest.raises(ValueError, match='class ids'):
        fast_hist(np.zeros(4, np.uint8), np.array([0, 1, 5, 0], np.uint8), 3)
    with pytest.raises(ValueError, match='negative'):
        fast_hist(np.zeros(4, np.int64), np.array([0, -1, 0, 0]), 3)


def test_metrics_equal_an_independent_computation_on_random_labels():
    rng = np.random.default_rng(1)
    n = 21
    H = np.zeros((n, n), np.int64)
    for _ in range(5):
        a = rng.integers(0, n, (40, 50)).astype(np.uint8)
        a[rng.random(a.shape) < 0.2] = 255
        b = np.where(rng.random(a.shape) < 0.6, a, rng.integers(0, n, a.shape)).astype(np.uint8)
        b[b == 255] = 0
        H += fast_hist(a, b, n)
    s, e = scores(H), independent_metrics(H.tolist())
    for m in METRICS:
        assert s[m] == pytest.approx(e[m], rel=1e-12)


def test_nan_classes_follow_the_reference():
    """Class 2 absent from labels but predicted: accuracy NaN (skipped), IU 0 (counted). Class 3 absent from
    both: NaN in both, skipped."""
    H = np.array([[5, 1, 2, 0],
                  [0, 4, 1, 0],
                  [0, 0, 0, 0],
                  [0, 0, 0, 0]])
    s = scores(H)
    acc, iu = s['per_class_acc'], s['per_class_iu']
    assert np.isnan(acc[2]) and np.isnan(acc[3]) and iu[2] == 0.0 and np.isnan(iu[3])
    assert s['mean_acc'] == pytest.approx((5 / 8 + 4 / 5) / 2)
    assert s['mean_iu'] == pytest.approx((5 / 8 + 4 / 6 + 0) / 3)
    assert s['overall_acc'] == pytest.approx(9 / 13)
    assert s['fwavacc'] == pytest.approx(8 / 13 * 5 / 8 + 5 / 13 * 4 / 6)
    for m in METRICS:
        assert s[m] == pytest.approx(independent_metrics(H.tolist())[m])


def test_excluding_siftflow_absent_classes_changes_only_the_class_averages():
    rng = np.random.default_rng(2)
    n = 33
    a = rng.integers(0, n, 20000)
    a[np.isin(a, [8, 10, 15])] = 0                # cow, desert, moon absent from the ground truth
    b = np.where(rng.random(a.shape) < 0.7, a, rng.integers(0, n, a.shape))  # but sometimes predicted
    H = fast_hist(a, b, n)
    plain, paper = scores(H), scores(H, exclude=(8, 10, 15))
    assert plain['overall_acc'] == paper['overall_acc']
    assert paper['mean_iu'] > plain['mean_iu']    # the three IU-0 classes no longer drag the mean down
    assert paper['mean_iu'] == pytest.approx(independent_metrics(H.tolist(), exclude=(8, 10, 15))['mean_iu'])
    assert paper['mean_acc'] == plain['mean_acc']  # their accuracy was NaN, skipped either way
    assert paper['excluded'] == [8, 10, 15]


def test_every_paper_figure_has_a_source_and_appears_in_paper_md(reference):
    if not (reference / 'PAPER.md').is_file():   # written for this project: not in a clone of the original repository
        pytest.skip(f'{reference / "PAPER.md"} is absent (the paper\'s tables, beside the original project\'s files)')
    text = (reference / 'PAPER.md').read_text()
    rows = [re.sub(r'\s+', ' ', l) for l in text.splitlines() if l.startswith('|')]
    for (folder, split), entries in PAPER.items():
        assert entries and split in ('seg11valid', 'test', 'val')
        for e in entries:
            assert e.source
            vals = [getattr(e, m) for m in METRICS]
            if all(v is not None for v in vals):
                cells = ' | '.join(f'{v:.1f}' for v in vals)
                assert any(cells in r for r in rows), (folder, e.row, cells)
            else:
                assert f'{e.mean_iu:.1f}' in text
            if e.geo_acc is not None:
                assert any(cells + f' | {e.geo_acc:.1f}' in r for r in rows)
            if all(v is not None for v in vals):
                assert e.verified == (not any('UNVERIFIED' in r for r in rows if cells in r)), (folder, e.row)


def test_benchmark_tool_runs_and_prints_the_metric_time(capsys):
    from tools import bench_score
    bench_score.main(['--images', '12'])
    out = capsys.readouterr().out
    assert re.search(r'metric time .* s', out) and 'mean IU' in out


def test_seg_tests_prints_the_reference_lines_and_shares_weights():
    import io
    from scoring import seg_tests

    class FakeNet:
        """Two forwards over a 2-image split: scores and labels known in advance."""
        def __init__(self):
            self.k, self.blobs = 0, {}
            self.labels = [np.array([[0, 1], [1, 255]]), np.array([[2, 2], [0, 1]])]

        def forward(self):
            lab = self.labels[self.k % 2]
            score = np.zeros((1, 3, 2, 2), np.float32)
            score[0, 1] = 1.0  # always predicts class 1
            self.blobs = {'score': score, 'label': lab[None, None].astype(np.float32),
                          'loss': np.array(2.0 + self.k, np.float32)}
            self.k += 1

    class FakeSolver:
        iter = 4000
        shared = False

        def __init__(self):
            self.test_nets = [FakeNet()]

        def share_weights(self):
            self.shared = True

    solver, out = FakeSolver(), io.StringIO()
    hist = seg_tests(solver, None, ['a', 'b'], out=out)
    assert solver.shared
    np.testing.assert_array_equal(hist, [[0, 2, 0], [0, 3, 0], [0, 2, 0]])
    lines = out.getvalue().splitlines()
    assert lines[0].startswith('>>> ') and lines[0].endswith('Begin seg tests')
    tail = [l.split(' Iteration 4000 ', 1)[1] for l in lines[1:]]
    assert tail == ['loss 2.5', f'overall accuracy {3 / 7}', f'mean accuracy {1 / 3}',
                    f'mean IU {(3 / 7) / 3}', f'fwavacc {3 / 7 * 3 / 7}']
