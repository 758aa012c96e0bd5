"""The own-data layer (datalayers.own_layers.OwnSegDataLayer) run by the runtime: the reference layers' seeded
order, the same arrays as the dataset and the prefetching loader, and the registration that lets scoring and the
applications find its dataset in a net."""
import numpy as np
import pytest

import datalayers
from datalayers import synthetic
from datalayers.loader import SegLoader
from datalayers.own import OwnSeg
from netspec.models import OWN_LAYER, family_of_layer
from test_data_order import PY2_RECORDED


@pytest.fixture(scope='module')
def described(tmp_path_factory):
    return synthetic.make_own(str(tmp_path_factory.mktemp('own') / 'folders'), 'folders', n_train=8, n_val=3,
                              size=(20, 28), seed=3)


def data_net(params, phase='train'):
    from netspec import caffe_pb2
    from runtime import Net
    net_param = caffe_pb2.NetParameter(name='own-data')
    lp = net_param.layer.add(name='data', type='Python')
    lp.top.extend(['data', 'label'])
    lp.python_param.module, lp.python_param.layer = OWN_LAYER.module, OWN_LAYER.layer
    lp.python_param.param_str = repr(params)
    return net_param, Net(net_param, phase=phase)


def forwards(net, k):
    out = []
    for _ in range(k):
        net.forward()
        out.append((net.blobs['data'].detach().cpu().numpy().copy(), net.blobs['label'].detach().cpu().numpy()
                    .copy()))
    return out


def test_training_draws_the_reference_seeded_order_and_yields_the_datasets_arrays(described):
    params = {'description': described, 'split': 'train', 'seed': 1337}
    _, net = data_net(params)
    ds = OwnSeg(params)
    order = PY2_RECORDED[8]
    for i, (data, label) in zip(order, forwards(net, len(order))):
        want = ds.load(i)
        np.testing.assert_array_equal(data, want[0])
        np.testing.assert_array_equal(label, want[1])


def test_val_is_sequential_and_wraps(described):
    params = {'description': described, 'split': 'val', 'seed': 1337}
    _, net = data_net(params, phase='test')
    ds = OwnSeg(params)
    assert not ds.randomize
    got = forwards(net, 4)
    for i, (data, _) in zip([0, 1, 2, 0], got):
        np.testing.assert_array_equal(data, ds.load(i)[0])


def test_the_order_follows_the_seed_and_randomize(described):
    def order(**kw):
        return OwnSeg({'description': described, 'split': 'train', **kw}).order().take(16)
    assert order(seed=1337) == order(seed=1337) != order(seed=7)
    assert order(seed=1337, randomize=False) == [i % 8 for i in range(16)]


def test_prefetching_loader_gives_the_layers_samples(described):
    params = {'description': described, 'split': 'train', 'seed': 5}
    ds = OwnSeg(params)
    with SegLoader(ds, prefetch=3, workers=2, limit=6) as loader:
        got = list(loader)
    _, net = data_net({**params, 'prefetch': 0})
    for sample, (data, label) in zip(got, forwards(net, 6)):
        np.testing.assert_array_equal(sample['data'], data)
        np.testing.assert_array_equal(sample['label'], label)


def test_the_net_finds_the_own_dataset_and_its_family(described):
    net_param, _ = data_net({'description': described, 'split': 'val'}, phase='test')
    assert datalayers.data_layers(net_param) == [net_param.layer[0]]
    ds = datalayers.dataset_for_net(net_param)
    assert isinstance(ds, OwnSeg) and ds.split == 'val' and len(ds) == 3
    assert ds.family.num_classes == 5 and ds.family.head('label').classes[0] == 'background'
    assert datalayers.LAYERS[(OWN_LAYER.module, OWN_LAYER.layer)] is OwnSeg
    assert family_of_layer(OWN_LAYER.module, OWN_LAYER.layer) is None   # one family per description, not a record


def test_mirror_jitter_fill_the_label_with_the_descriptions_ignore_label(tmp_path):
    import json
    path = synthetic.make_own(str(tmp_path / 'l'), 'lists', n_train=2, n_val=1, size=(16, 16), seed=1)
    data = json.load(open(path))
    data['ignore_label'] = 200
    data['map_to_ignore'] = [254]
    with open(path, 'w') as f:
        json.dump(data, f)
    ds = datalayers.base.augmented(OwnSeg({'description': path, 'split': 'val'}), {'jitter': 8})
    key = next(k for k in ds.order().take(50) if k[2] > 0)
    label = ds.load(key)[1]
    assert (label[0, 0, :key[2]] == 200).all() and 255 not in label


def test_family_for_net_gives_the_descriptions_family_or_the_reference_one(described):
    from netspec import caffe_pb2, models
    net_param, _ = data_net({'description': described, 'split': 'val'}, phase='test')
    fam = datalayers.family_for_net(net_param)
    assert fam.name == 'shapes-folders' and fam.num_classes == 5 and fam.eval_images == 3
    voc = models.make_folder('voc-fcn32s', width=1 / 16)['val.prototxt']
    assert datalayers.family_for_net(voc) is models.VOC
    assert datalayers.family_for_net(caffe_pb2.NetParameter()) is None
