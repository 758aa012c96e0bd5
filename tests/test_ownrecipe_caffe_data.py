"""Caffe's own data layers as the alternative to OwnSegDataLayer, for a user whose images and label maps go (or
already are) in LMDB: convert_imageset writes the images and, with --gray, the label maps; two Data layers (the
images with transform_param's mean_value, the labels untouched) replace the Python data layer of a net that
`fcn-own nets` wrote, and feed it the blobs OwnSegDataLayer feeds (BGR minus the dataset's mean, the class
indices); `caffe train` trains it."""
import os

import numpy as np
import pytest

from datalayers.own import load_description, load_sample
from datalayers.synthetic import make_own
from netspec import caffe_pb2
from netspec.io import read_text, write_text
from tools import caffe_cli, convert_imageset, own

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def lmdb_pair(tmp_path, desc):
    """The train split's images and label maps as two LMDBs, in the split's order."""
    ids = desc.splits['train']
    pairs = [desc.paths('train', i) for i in ids]
    root = os.path.commonpath([p for pair in pairs for p in pair]) + os.sep
    dbs = {}
    for k, what in enumerate(('images', 'labels')):
        listing = tmp_path / f'{what}.txt'
        listing.write_text(''.join(f'{os.path.relpath(pair[k], root)} 0\n' for pair in pairs))
        db = str(tmp_path / f'{what}_lmdb')
        gray = ['--gray'] if what == 'labels' else []
        assert convert_imageset.main([*gray, root, str(listing), db]) == 0
        dbs[what] = db
    return dbs, ids


def with_data_layers(net_param, dbs, mean):
    """The net with its Python data layer replaced by Data layers over the two LMDBs (batch 1, in order)."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    del out.layer[:]
    for layer in net_param.layer:
        if layer.type != 'Python':
            out.layer.add().CopyFrom(layer)
            continue
        for top, db in (('data', dbs['images']), ('label', dbs['labels'])):
            d = out.layer.add(name=top, type='Data', top=[top])
            d.data_param.source, d.data_param.batch_size = db, 1
            d.data_param.backend = caffe_pb2.DataParameter.LMDB
            if top == 'data':
                d.transform_param.mean_value.extend(float(m) for m in mean)
    return out


@pytest.fixture(scope='module')
def lmdb_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('lmdb')
    desc_path = make_own(str(tmp / 'data'), 'lists', n_train=3, n_val=1, size=(32, 48), void_width=0)
    desc = load_description(desc_path)
    run = tmp / 'run'
    assert own.main(['nets', desc_path, str(run), '--width', '0.0625', '--iters', '2', '--score-every', '1']) == 0
    dbs, ids = lmdb_pair(tmp, desc)
    net = with_data_layers(read_text(str(run / 'fcn32s' / 'train.prototxt')), dbs, desc.mean)
    path = str(tmp / 'lmdb_train.prototxt')
    write_text(net, path)
    return desc, ids, path, tmp


def test_data_layers_over_lmdbs_feed_the_blobs_of_the_own_data_layer(lmdb_run):
    from runtime import Net
    desc, ids, path, _ = lmdb_run
    net = Net(path, phase='train')
    for sample_id in ids[:2]:
        net.forward()
        image, label = load_sample(desc, 'train', sample_id, np.asarray(desc.mean, np.float32))
        data = net.blobs['data'].detach().numpy()[0]
        assert data.shape == image.shape
        assert np.array_equal(data, image)
        assert np.array_equal(net.blobs['label'].detach().numpy()[0, 0], label)


def test_caffe_train_trains_the_fcn_on_the_lmdbs(lmdb_run, monkeypatch, capsys):
    _, _, path, tmp = lmdb_run
    monkeypatch.chdir(tmp)
    (tmp / 'solver.prototxt').write_text(
        f'train_net: "{path}"\nbase_lr: 1e-8\nlr_policy: "fixed"\nmomentum: 0.99\nmax_iter: 2\ndisplay: 1\n'
        'snapshot_prefix: "snap/lmdb"\n')
    (tmp / 'snap').mkdir()
    assert caffe_cli.main(['train', '-solver', 'solver.prototxt']) == 0
    losses = [float(l.rsplit('=', 1)[1]) for l in capsys.readouterr().err.splitlines() if ', loss = ' in l]
    assert len(losses) >= 2 and all(np.isfinite(losses))
    assert (tmp / 'snap' / 'lmdb_iter_2.caffemodel').is_file()
