"""The reference train/val (trainval/test) prototxts of all 15 model folders run unchanged through the runtime
on generated datasets laid out where their param_str points (../data/... or ../../data/... from the working
directory), producing losses and scores.

Only the backbone's num_output values are thinned (by 16) for speed; data layers, param_str, heads, crops and
losses are the reference's. The runtime zero-initialises weights (Caffe's default constant filler), so every
score is 0 and each SoftmaxWithLoss (normalize: false) must equal (#non-void pixels) * ln(#classes), exactly the
labels the data layer delivered; AlexNet's (normalize: true) is ln(21)."""
import math
import os

import numpy as np
import pytest

from datalayers import synthetic
from netspec import read_net
from netspec.models import REFERENCE_FOLDERS, folder as folder_record
from runtime import Net
from scoring import compute_hists, heads, scores
from test_data_order import PY2_RECORDED

FOLDERS = list(REFERENCE_FOLDERS)
N_TRAIN = 8  # every training split has 8 ids, so the Python 2 draws of PY2_RECORDED[8] apply


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    """<tmp>/data holds all four datasets (keyed by family name); nets run from <tmp>/a (../data) or <tmp>/a/b
    (../../data)."""
    top = tmp_path_factory.mktemp('world')
    root = str(top / 'data')
    size = (32, 48)
    info = {'voc': synthetic.make_voc(root, n_train=N_TRAIN, n_val=3, size=size, seed=11),
            'siftflow': synthetic.make_siftflow(root, n_trainval=N_TRAIN, n_test=3, size=size, seed=12),
            'nyud': synthetic.make_nyud(root, n_train=5, n_val=3, n_test=3, size=size, seed=13),
            'pascalcontext': synthetic.make_pascalcontext(root, n_train=N_TRAIN, n_val=3, size=size, seed=14)}
    os.makedirs(top / 'a' / 'b')
    return top, info


def thin(net_param, factor=16):
    """Divide the backbone's widths (conv*/fc* layers) by `factor`; score and upsampling layers keep #classes."""
    for layer in net_param.layer:
        if layer.type == 'Convolution' and layer.name.startswith(('conv', 'fc')):
            p = layer.convolution_param
            p.num_output = max(2, p.num_output // factor)
    return net_param


def nets_of(folder):
    """(net file, phase, split) of the folder's train and eval nets, from its family's record."""
    (train, train_split), (evaluation, eval_split) = folder_record(folder).family.nets
    return [(train, 'train', train_split), (evaluation, 'test', eval_split)]


def expected_labels(info, folder, phase, split, k):
    """The label maps (per head) the k-th forward must deliver."""
    d = info[folder_record(folder).family.name]
    ids = d['splits'][split]
    i = PY2_RECORDED[N_TRAIN][k] if phase == 'train' else k % len(ids)
    t = d['truth'][ids[i]]
    return t if isinstance(t, tuple) else (t,)


@pytest.mark.parametrize('folder', FOLDERS)
def test_reference_nets_run_on_generated_data_with_exact_losses(reference, world, folder, monkeypatch):
    top, info = world
    for proto, phase, split in nets_of(folder):
        net_param = thin(read_net(str(reference / folder / proto)))
        data_layer = net_param.layer[0]
        assert data_layer.type == 'Python'
        depth = data_layer.python_param.param_str.count('../')
        monkeypatch.chdir(top / 'a' if depth == 1 else top / 'a' / 'b')
        net = Net(net_param, phase=phase)
        losses = [l for l in net_param.layer if l.type == 'SoftmaxWithLoss']
        assert losses
        for k in range(1):  # one forward each; test_data_layers checks longer sequences
            net.forward()
            labels = expected_labels(info, folder, phase, split, k)
            for loss_layer, label in zip(losses, labels):
                score, gt = loss_layer.bottom[0], loss_layer.bottom[1]
                got_label = net.blobs[gt].detach().cpu().numpy()
                np.testing.assert_array_equal(got_label, label[None, None].astype(np.float32))
                s = net.blobs[score]
                n_classes = s.shape[1]
                assert tuple(s.shape[2:]) == label.shape  # cropped back to the input size
                valid = np.count_nonzero(label != 255)
                expected = math.log(n_classes) if loss_layer.loss_param.normalize else valid * math.log(n_classes)
                got = float(net.blobs[loss_layer.top[0]].detach().cpu().reshape(-1)[0])
                assert got == pytest.approx(expected, rel=1e-5), (folder, proto, loss_layer.name)


def test_scoring_a_reference_val_net_counts_every_labelled_pixel(reference, world, monkeypatch):
    top, info = world
    net_param = thin(read_net(str(reference / 'siftflow-fcn16s' / 'test.prototxt')))
    monkeypatch.chdir(top / 'a')
    net = Net(net_param, phase='test')
    ids = info['siftflow']['splits']['test']
    (hs, ls), (hg, lg) = compute_hists(net, ids, heads(net_param), progress=False)
    sem = [info['siftflow']['truth'][i][0] for i in ids]
    geo = [info['siftflow']['truth'][i][1] for i in ids]
    assert hs.shape == (33, 33) and hg.shape == (3, 3)
    assert hs.sum() == sum(np.count_nonzero(s != 255) for s in sem)
    # all-zero scores: argmax is class 0 everywhere, so column 0 holds every pixel
    assert hs[:, 0].sum() == hs.sum() and hg[:, 0].sum() == hg.sum()
    assert scores(hg)['overall_acc'] == pytest.approx(sum(np.count_nonzero(g == 0) for g in geo) / hg.sum())
    assert ls == pytest.approx(np.mean([np.count_nonzero(s != 255) * math.log(33) for s in sem]), rel=1e-5)
