"""The synthetic datasets: deterministic from the seed, varied small sizes, void where the format has void, and
class lists that match the reference's."""
import filecmp
import os

import numpy as np
import pytest

from datalayers import classes, synthetic


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a, b, c = (str(tmp_path / x) for x in 'abc')
    synthetic.make_all(a, seed=7, size=(40, 60))
    synthetic.make_all(b, seed=7, size=(40, 60))
    synthetic.make_all(c, seed=8, size=(40, 60))
    files = tree(a)
    assert files == tree(b) == tree(c) and len(files) > 50
    _, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert not mismatch and not errors
    _, mismatch, _ = filecmp.cmpfiles(a, c, [f for f in files if f.endswith(('.jpg', '.png'))], shallow=False)
    assert mismatch


def test_sizes_vary_within_the_range_and_void_is_where_the_format_has_it(tmp_path):
    info = synthetic.make_all(str(tmp_path), seed=3, size=(64, 120))
    shapes = set()
    for name, d in info.items():
        for idx, t in d['truth'].items():
            t = t if isinstance(t, tuple) else (t,)
            shapes.add(t[0].shape)
            assert all(64 <= s <= 120 for s in t[0].shape)
            has_void = any((x == 255).any() for x in t)
            if name == 'pascalcontext' or (name == 'voc' and idx in d['splits']['train']):
                assert not has_void  # PASCAL-Context and SBD have no void label
            else:
                assert has_void
    assert len(shapes) > 10


def test_each_class_has_its_own_colour():
    cols = np.array([synthetic.class_colour(c) for c in range(60)])
    d = np.abs(cols[:, None] - cols[None]).sum(-1) + np.eye(60) * 1e9
    assert d.min() > 10


def test_class_lists_match_the_reference(reference):
    data = reference / 'data'

    def lines(p):
        return [l.strip() for l in open(p, encoding='utf-8') if l.strip()]
    assert tuple(lines(data / 'pascal/classes.txt')[:21]) == classes.VOC
    assert tuple(lines(data / 'nyud/classes.txt')[:40]) == classes.NYUD40
    sift = lines(data / 'sift-flow/classes.txt')
    assert tuple(l.split(' ', 1)[1] for l in sift[2:35]) == classes.SIFTFLOW_SEM
    assert tuple(l.split(' ', 1)[1] for l in sift[36:39]) == classes.SIFTFLOW_GEO
    assert [classes.SIFTFLOW_SEM[i] for i in classes.SIFTFLOW_ABSENT] == ['cow', 'desert', 'moon']
    assert tuple(l.split(': ', 1)[1] for l in lines(data / 'pascal-context/classes-59.txt')) == classes.CONTEXT60


def test_the_real_class_lists_map_through_the_context_layer(reference, tmp_path):
    """With the real labels.txt (classes-400.txt) and classes-59.txt, every task class finds its full-list entry
    (after the three renames), so the layer can read the real dataset's label files."""
    import shutil
    from datalayers.datasets import PASCALContextSeg
    info = synthetic.make_pascalcontext(str(tmp_path), n_train=1, n_val=1)
    shutil.copy(reference / 'data/pascal-context/classes-400.txt', f"{info['context_dir']}/labels.txt")
    shutil.copy(reference / 'data/pascal-context/classes-59.txt', f"{info['context_dir']}/59_labels.txt")
    ds = PASCALContextSeg(info['params']['val'])
    assert len(ds.labels_59) == 59 and len(ds.labels_400) == 459
    assert sorted(ds.lut[ds.lut > 0].tolist()) == list(range(1, 60))
    assert ds.labels_400[int(np.flatnonzero(ds.lut == 11)[0]) - 1] == 'table'
