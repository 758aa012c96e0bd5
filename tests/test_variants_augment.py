"""Augmentation in the data layers (datalayers.augment): mirroring and translation jitter, seeded and resumable."""
import random

import numpy as np
import pytest

from datalayers import SampleOrder, synthetic
from datalayers.augment import AugmentedOrder, apply, shift
from test_data_layers import data_net, run

TOPS = ['data', 'label']


@pytest.fixture(scope='module')
def voc(tmp_path_factory):
    return synthetic.make_voc(str(tmp_path_factory.mktemp('data')), n_train=5, n_val=2, size=(24, 32), seed=7)


def _params(voc, **kw):
    return dict(voc['params']['train'], **dict(dict(prefetch=0), **kw))


def test_shift_moves_content_and_fills_the_uncovered_border():
    a = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    assert shift(a, 1, -2, 255)[0, 0].tolist() == [[255, 255, 255, 255], [2, 3, 255, 255], [6, 7, 255, 255]]
    assert shift(a, 0, 0, 0).tolist() == a.tolist()
    assert (shift(a, 3, 0, 9) == 9).all()


def test_apply_mirrors_then_shifts_every_top_with_image_fill_0_and_label_fill_255():
    img = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4) + 1
    lab = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    out_img, out_lab = apply((img, lab), ('data', 'label'), True, -1, 1)
    assert out_img[0, 0].tolist() == [[0, 8, 7, 6], [0, 12, 11, 10], [0, 0, 0, 0]]
    assert out_lab[0, 0].tolist() == [[255, 7, 6, 5], [255, 11, 10, 9], [255, 255, 255, 255]]
    assert out_img.dtype == np.float32 and out_img.flags['C_CONTIGUOUS']


def test_the_layer_applies_the_documented_draws_to_the_reference_samples(voc):
    """Same order as the plain layer; sample k gets the k-th (flip, dy, dx) of random.Random('augment:<seed>')."""
    plain = run(data_net('voc_layers', 'SBDDSegDataLayer', _params(voc), TOPS), TOPS, 6)
    got = run(data_net('voc_layers', 'SBDDSegDataLayer', _params(voc, mirror=True, jitter=8), TOPS), TOPS, 6)
    rng = random.Random(f"augment:{voc['params']['train']['seed']}")
    changed = 0
    for p, g in zip(plain, got):
        flip, dy, dx = rng.random() < 0.5, rng.randint(-8, 8), rng.randint(-8, 8)
        expected = apply((p['data'], p['label']), TOPS, flip, dy, dx)
        np.testing.assert_array_equal(g['data'], expected[0])
        np.testing.assert_array_equal(g['label'], expected[1])
        changed += not np.array_equal(g['label'], p['label'])
    assert changed >= 5


def test_draws_cover_mirror_and_the_whole_jitter_range():
    order = AugmentedOrder(SampleOrder(10, True, 1), mirror=True, jitter=32, seed=1)
    draws = order.take(4000)
    flips = np.mean([d[1] for d in draws])
    shifts = np.array([d[2:] for d in draws])
    assert 0.45 < flips < 0.55
    assert shifts.min() == -32 and shifts.max() == 32
    # the sample order is the plain one: the augmentation has its own stream
    assert [d[0] for d in draws[:50]] == SampleOrder(10, True, 1).take(50)


def test_prefetching_does_not_change_the_augmented_samples(voc):
    a = run(data_net('voc_layers', 'SBDDSegDataLayer', _params(voc, mirror=True, jitter=4), TOPS), TOPS, 6)
    params = dict(voc['params']['train'], prefetch=3, workers=2, mirror=True, jitter=4)
    b = run(data_net('voc_layers', 'SBDDSegDataLayer', params, TOPS), TOPS, 6)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x['data'], y['data'])
        np.testing.assert_array_equal(x['label'], y['label'])


def test_layer_state_resumes_the_same_augmented_samples(voc):
    import pickle
    params = _params(voc, mirror=True, jitter=8, prefetch=2)
    a = data_net('voc_layers', 'SBDDSegDataLayer', params, TOPS)
    run(a, TOPS, 3)
    state = pickle.loads(pickle.dumps(a.layers[0].impl.get_state()))
    expected = run(a, TOPS, 4)
    b = data_net('voc_layers', 'SBDDSegDataLayer', params, TOPS)
    b.layers[0].impl.set_state(state)
    for x, y in zip(run(b, TOPS, 4), expected):
        np.testing.assert_array_equal(x['data'], y['data'])
        np.testing.assert_array_equal(x['label'], y['label'])


def test_a_solver_snapshot_resumes_the_augmented_data_exactly(voc, tmp_path, one_thread):
    from netspec import NetSpec, layers as L, write_text
    from solvers import get_solver
    n = NetSpec()
    n.data, n.label = L.Python(module='voc_layers', layer='SBDDSegDataLayer', ntop=2,
                               param_str=repr(_params(voc, mirror=True, jitter=8)))
    n.score = L.Convolution(n.data, num_output=21, kernel_size=1, weight_filler=dict(type='gaussian', std=0.01))
    n.loss = L.SoftmaxWithLoss(n.score, n.label, loss_param=dict(normalize=False, ignore_label=255))
    write_text(n.to_proto(), str(tmp_path / 'net.prototxt'))
    (tmp_path / 'solver.prototxt').write_text(
        f'net: "{tmp_path / "net.prototxt"}"\nbase_lr: 1e-6\nlr_policy: "fixed"\nmomentum: 0.9\ndisplay: 0\n'
        f'max_iter: 100\nsnapshot_prefix: "{tmp_path / "snap"}"\nrandom_seed: 3\n')

    def labels(s, k):
        out = []
        for _ in range(k):
            s.step(1)
            out.append(s.net.blobs['label'].numpy().copy())
        return out
    first = get_solver(str(tmp_path / 'solver.prototxt'))
    labels(first, 3)
    state = first.snapshot()
    expected = labels(first, 4)
    resumed = get_solver(str(tmp_path / 'solver.prototxt'))
    resumed.restore(state)
    for x, y in zip(labels(resumed, 4), expected):
        np.testing.assert_array_equal(x, y)
    first.close()
    resumed.close()


@pytest.mark.parametrize('key,value,match', [('jitter', -1, 'jitter must be a non-negative'),
                                             ('jitter', 2.5, 'jitter must be a non-negative'),
                                             ('mirror', 'yes', 'mirror must be True or False')])
def test_bad_augmentation_settings_are_clear_errors(voc, key, value, match):
    with pytest.raises(Exception, match=match):
        data_net('voc_layers', 'SBDDSegDataLayer', _params(voc, **{key: value}), TOPS)
