"""The prefetching loader yields the same samples in the same order as the data layer, at any prefetch depth,
with threads or worker processes."""
import numpy as np
import pytest

import datalayers
from datalayers import SegLoader, SampleStream, synthetic
from test_data_layers import data_net, run


@pytest.fixture(scope='module')
def voc(tmp_path_factory):
    return synthetic.make_voc(str(tmp_path_factory.mktemp('data')), n_train=6, n_val=3, seed=5)


def dataset(info, split):
    module, layer = info['layers'][split]
    return datalayers.dataset_from_layer(module, layer, repr(info['params'][split]))


@pytest.mark.parametrize('prefetch,workers,processes', [(0, 1, False), (1, 1, False), (4, 2, False),
                                                        (3, 2, True)])
def test_loader_matches_the_layer_sample_for_sample(voc, prefetch, workers, processes):
    net = data_net('voc_layers', 'SBDDSegDataLayer', voc['params']['train'], ['data', 'label'])
    expected = run(net, ['data', 'label'], 10)
    with SegLoader(dataset(voc, 'train'), prefetch=prefetch, workers=workers, processes=processes,
                   limit=10) as loader:
        got = list(loader)
    assert len(got) == 10
    for g, e in zip(got, expected):
        assert set(g) == {'data', 'label'}
        for t in ('data', 'label'):
            assert g[t].dtype == np.float32
            np.testing.assert_array_equal(g[t], e[t])


def test_loader_order_on_an_eval_split_wraps_like_the_layer(voc):
    with SegLoader(dataset(voc, 'seg11valid'), prefetch=2, limit=7) as loader:
        idx = []
        for _ in loader:
            idx.append(loader.index)
    assert idx == [0, 1, 2, 0, 1, 2, 0]


def test_layer_prefetch_option_changes_nothing_but_speed(voc):
    """prefetch 0 reads on demand like the reference; the default reads ahead; both give the same samples."""
    plain = run(data_net('voc_layers', 'SBDDSegDataLayer', dict(voc['params']['train'], prefetch=0),
                         ['data', 'label']), ['label'], 8)
    params = dict(voc['params']['train'], prefetch=3, workers=2)
    assert 'prefetch' not in voc['params']['train']
    fast = run(data_net('voc_layers', 'SBDDSegDataLayer', params, ['data', 'label']), ['label'], 8)
    for a, b in zip(plain, fast):
        np.testing.assert_array_equal(a['label'], b['label'])


def test_a_read_error_surfaces_when_that_sample_is_reached(voc, tmp_path):
    import shutil
    root = tmp_path / 'copy'
    shutil.copytree(voc['sbdd_dir'], root)
    ds = datalayers.SBDDSeg(dict(voc['params']['train'], sbdd_dir=str(root), randomize=False))
    (root / 'img' / f"{ds.ids[1]}.jpg").unlink()
    stream = SampleStream(ds, prefetch=3)
    stream.current()
    stream.advance()
    with pytest.raises(datalayers.DatasetError, match=f"img/{ds.ids[1]}.jpg"):
        stream.current()
    stream.close()


@pytest.mark.parametrize('split,prefetch', [('train', 0), ('train', 3), ('seg11valid', 2)])
def test_layer_state_resumes_the_same_sample_order(voc, split, prefetch):
    """get_state after k forwards, set_state on a fresh layer: the next samples are those the first would give
    (what a solver snapshot/restore needs)."""
    import pickle
    module, layer = voc['layers'][split]
    params = dict(voc['params'][split], prefetch=prefetch)
    tops = ['data', 'label']
    a = data_net(module, layer, params, tops)
    run(a, tops, 3)
    impl = a.layers[0].impl
    state = pickle.loads(pickle.dumps(impl.get_state()))
    expected = run(a, tops, 5)
    b = data_net(module, layer, params, tops)
    b.layers[0].impl.set_state(state)
    got = run(b, tops, 5)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g['label'], e['label'])
        np.testing.assert_array_equal(g['data'], e['data'])
