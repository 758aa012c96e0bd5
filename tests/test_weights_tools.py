"""tools/surgery.py and tools/convert.py on thin reference nets (netspec.models at width 1/32)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import weights
from netspec import caffe_pb2, write_text
from netspec.models import make_folder
from tools import convert, surgery
from weights.surgery import upsample_filt

from golden import make_weights as MW

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTH = 1 / 32          # VGG16 channels 2, 4, 8, 16, 16 and fc 128
WIDTHS = (2, 4, 8, 16, 16)
FC = 128




@pytest.fixture(scope='module')
def thin(tmp_path_factory):
    """Thin VGG16 classifier (V1 caffemodel with legacy dims, as the ILSVRC release) and thin FCN folders."""
    d = tmp_path_factory.mktemp('thin')
    (d / 'vgg16_deploy.prototxt').write_text(MW.vgg16_classifier(224, fc=FC, classes=7, widths=WIDTHS))
    from runtime import Net
    clf = Net(str(d / 'vgg16_deploy.prototxt'))
    rng = np.random.RandomState(0)
    net = caffe_pb2.NetParameter(name='VGG_ILSVRC_16_layers')
    arrays = {}
    for name, blobs in clf.params.items():
        layer = net.layers.add(name=name, type=caffe_pb2.V1LayerParameter.CONVOLUTION if name.startswith('conv')
                               else caffe_pb2.V1LayerParameter.INNER_PRODUCT)
        arrays[name] = []
        for p in blobs:
            a = rng.randn(*p.shape).astype(np.float32)
            arrays[name].append(a)
            legacy = (1,) * (4 - a.ndim) + a.shape
            layer.blobs.add(num=legacy[0], channels=legacy[1], height=legacy[2], width=legacy[3]).data.extend(
                a.ravel())
    (d / 'vgg16.caffemodel').write_bytes(net.SerializeToString())
    for folder in ('voc-fcn32s', 'voc-fcn16s', 'nyud-fcn32s-color-d', 'nyud-fcn32s-color-hha'):
        (d / folder).mkdir()
        for fname, msg in make_folder(folder, width=WIDTH, num_classes=5).items():
            if fname.endswith('.prototxt') and 'solver' not in fname:
                write_text(msg, d / folder / fname)
    return d, arrays


def _fcn32s_init(d):
    """The convolutionalized FCN-32s init that tools/surgery.py makes from the thin classifier (made once)."""
    init32 = d / 'vgg16-fcn.caffemodel'
    if not init32.exists():
        surgery.main(['--classifier', str(d / 'vgg16_deploy.prototxt'), '--weights', str(d / 'vgg16.caffemodel'),
                      '--fcn', str(d / 'voc-fcn32s' / 'train.prototxt'), '--out', str(init32)])
    return init32


def test_surgery_makes_the_convolutionalized_init_from_a_v1_classifier(thin, capsys):
    d, clf = thin
    out = d / 'vgg16-fcn.caffemodel'
    rc = surgery.main(['--classifier', str(d / 'vgg16_deploy.prototxt'), '--weights', str(d / 'vgg16.caffemodel'),
                       '--fcn', str(d / 'voc-fcn32s' / 'train.prototxt'), '--out', str(out)])
    log = capsys.readouterr().out
    assert rc == 0
    assert 'coercing fc6: blob 0 (1, 1, 128, 784) -> (128, 16, 7, 7)' in log and 'coercing fc7' in log
    assert 'dropping fc8' in log
    got = weights.read_weights(out)
    assert np.array_equal(got['conv1_1'][0], clf['conv1_1'][0])
    assert np.array_equal(got['fc6'][0].reshape(128, -1), clf['fc6'][0])
    assert np.array_equal(got['fc7'][1], clf['fc7'][1])
    assert not got['score_fr'][0].any() and not got['score_fr'][1].any()          # zero: Caffe's default filler
    up = got['upscore'][0]
    assert up.shape == (5, 5, 64, 64)
    assert np.array_equal(up[3, 3], upsample_filt(64).astype(np.float32)) and not up[3, 2].any()
    assert got['relu1_1'] == [] and got['data'] == []                               # every layer, as Net::ToProto


def test_surgery_from_stage_makes_fcn16s_from_a_trained_fcn32s(thin, capsys):
    d, _ = thin
    init32 = _fcn32s_init(d)
    trained = weights.read_weights(init32)
    trained['score_fr'] = [np.full_like(a, 0.5) for a in trained['score_fr']]  # "trained" score layer
    weights.write_weights(d / 'fcn32s.caffemodel', trained)
    out = d / 'fcn16s-init.caffemodel.h5'
    rc = surgery.main(['--from-stage', str(d / 'voc-fcn32s' / 'deploy.prototxt'), str(d / 'fcn32s.caffemodel'),
                       '--fcn', str(d / 'voc-fcn16s' / 'train.prototxt'), '--out', str(out)])
    assert rc == 0
    got = weights.read_weights(out)
    assert np.array_equal(got['fc6'][0], trained['fc6'][0]) and np.all(got['score_fr'][0] == 0.5)
    assert not got['score_pool4'][0].any()                                           # new skip layer: zero
    assert got['upscore2'][0].shape == (5, 5, 4, 4) and got['upscore16'][0].shape == (5, 5, 32, 32)
    assert np.array_equal(got['upscore16'][0][0, 0], upsample_filt(32).astype(np.float32))
    assert 'upscore' not in got                                                     # 32s' own deconv is gone


def test_surgery_from_stage_refuses_mismatched_shapes_and_keeps_the_destination(thin, capsys):
    d, _ = thin
    init32 = _fcn32s_init(d)
    bad = weights.read_weights(init32)
    bad['fc6'] = weights.read_weights(d / 'vgg16.caffemodel')['fc6']  # legacy IP weights: not the 32s conv shape
    weights.write_weights(d / 'bad32.caffemodel', bad)
    out = d / 'keep.caffemodel'
    out.write_bytes(b'precious')
    rc = surgery.main(['--from-stage', str(d / 'voc-fcn32s' / 'deploy.prototxt'), str(d / 'bad32.caffemodel'),
                       '--fcn', str(d / 'voc-fcn16s' / 'train.prototxt'), '--out', str(out)])
    err = capsys.readouterr().err
    assert rc == 3 and 'bad32.caffemodel' in err and "'fc6'" in err and '(128, 16, 7, 7)' in err
    assert out.read_bytes() == b'precious'


def test_surgery_on_a_truncated_classifier_keeps_the_destination(thin, capsys):
    d, _ = thin
    data = (d / 'vgg16.caffemodel').read_bytes()
    (d / 'cut.caffemodel').write_bytes(data[:len(data) // 2])
    out = d / 'keep2.caffemodel'
    out.write_bytes(b'precious')
    rc = surgery.main(['--classifier', str(d / 'vgg16_deploy.prototxt'), '--weights', str(d / 'cut.caffemodel'),
                       '--fcn', str(d / 'voc-fcn32s' / 'train.prototxt'), '--out', str(out)])
    assert rc == 3 and 'cut.caffemodel: truncated caffemodel' in capsys.readouterr().err
    assert out.read_bytes() == b'precious'


def test_surgery_inits_the_depth_channel_with_the_mean_of_the_color_filters(thin, capsys):
    d, clf = thin
    out = d / 'color-d.caffemodel'
    rc = surgery.main(['--classifier', str(d / 'vgg16_deploy.prototxt'), '--weights', str(d / 'vgg16.caffemodel'),
                       '--fcn', str(d / 'nyud-fcn32s-color-d' / 'trainval.prototxt'), '--out', str(out),
                       '--mean-channels', 'conv1_1:conv1_1_bgrd'])
    assert rc == 0, capsys.readouterr().err
    got = weights.read_weights(out)
    w = got['conv1_1_bgrd'][0]
    assert w.shape == (2, 4, 3, 3)
    assert np.array_equal(w[:, :3], clf['conv1_1'][0])
    assert np.array_equal(w[:, 3], clf['conv1_1'][0].mean(axis=1))
    assert np.array_equal(got['conv1_1_bgrd'][1], clf['conv1_1'][1])
    assert np.array_equal(got['conv1_2'][0], clf['conv1_2'][0])


def test_surgery_fuses_two_trained_streams_into_suffixed_layers(thin, capsys):
    d, _ = thin
    a = weights.read_weights(d / 'vgg16-fcn.caffemodel') if (d / 'vgg16-fcn.caffemodel').exists() else None
    if a is None:
        surgery.main(['--classifier', str(d / 'vgg16_deploy.prototxt'), '--weights', str(d / 'vgg16.caffemodel'),
                      '--fcn', str(d / 'voc-fcn32s' / 'train.prototxt'), '--out', str(d / 'vgg16-fcn.caffemodel')])
        a = weights.read_weights(d / 'vgg16-fcn.caffemodel')
    b = {k: [x * 2 for x in v] for k, v in a.items()}
    weights.write_weights(d / 'color.caffemodel', a)
    weights.write_weights(d / 'hha.caffemodel', b)
    deploy = str(d / 'voc-fcn32s' / 'deploy.prototxt')
    capsys.readouterr()
    rc = surgery.main(['--transplant', deploy, str(d / 'color.caffemodel'), 'color',
                       '--transplant', deploy, str(d / 'hha.caffemodel'), 'hha',
                       '--fcn', str(d / 'nyud-fcn32s-color-hha' / 'trainval.prototxt'),
                       '--out', str(d / 'color-hha.caffemodel')])
    assert rc == 0
    assert 'dropping upscore (no layer upscorecolor in the target)' in capsys.readouterr().out
    got = weights.read_weights(d / 'color-hha.caffemodel')
    assert np.array_equal(got['conv1_1color'][0], a['conv1_1'][0])
    assert np.array_equal(got['fc7hha'][0], b['fc7'][0])
    assert np.array_equal(got['upscore'][0][1, 1], upsample_filt(64).astype(np.float32))


@pytest.mark.parametrize('chain', [('caffemodel', 'caffemodel.h5', 'pth', 'caffemodel')])
def test_convert_between_formats_keeps_every_blob(tmp_path, chain):
    src = os.path.join(ROOT, 'tests', 'golden', 'weights', 'caffe_fcn8s_thin.caffemodel')
    want = weights.read_weights(src)
    prev = src
    for i, ext in enumerate(chain[1:]):
        nxt = str(tmp_path / f'step{i}.{ext}')
        assert convert.main([prev, nxt]) == 0
        got = weights.read_weights(nxt)
        for k, v in want.items():
            if v:
                assert all(np.array_equal(a, b) for a, b in zip(v, got[k])), (ext, k)
        prev = nxt


def test_convert_caffemodel_to_caffemodel_keeps_layer_settings(tmp_path):
    src = os.path.join(ROOT, 'tests', 'golden', 'weights', 'caffe_vgg16_thin.caffemodel')
    assert convert.main([src, str(tmp_path / 'x.caffemodel')]) == 0
    assert (tmp_path / 'x.caffemodel').read_bytes() == open(src, 'rb').read()


def test_convert_with_net_stores_legacy_blobs_in_the_nets_shapes(thin, tmp_path, capsys):
    d, clf = thin
    assert convert.main([str(d / 'vgg16.caffemodel'), str(tmp_path / 'a.h5')]) == 0
    assert 'legacy 4-D' in capsys.readouterr().out
    assert convert.main([str(d / 'vgg16.caffemodel'), str(tmp_path / 'b.h5'), '--net',
                         str(d / 'vgg16_deploy.prototxt')]) == 0
    got = weights.read_weights(tmp_path / 'b.h5')
    assert got['fc6'][0].shape == (128, 784) and np.array_equal(got['fc6'][0], clf['fc6'][0])


def test_convert_on_a_file_that_is_not_weights_fails_cleanly(tmp_path, capsys):
    (tmp_path / 'x.caffemodel').write_text('name: "not weights"\n')
    (tmp_path / 'out.pth').write_bytes(b'precious')
    assert convert.main([str(tmp_path / 'x.caffemodel'), str(tmp_path / 'out.pth')]) == 3
    assert 'x.caffemodel: not a caffemodel' in capsys.readouterr().err
    assert (tmp_path / 'out.pth').read_bytes() == b'precious'


def test_tools_run_as_scripts_and_document_their_flags():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    for tool, flag in (('surgery.py', '--from-stage'), ('convert.py', '--net')):
        r = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', tool), '--help'], capture_output=True,
                           text=True, env=env, timeout=60)
        assert r.returncode == 0 and flag in r.stdout


@pytest.mark.oracle
def test_surgery_equals_the_reference_procedure_run_in_the_real_caffe(tmp_path, capsys):
    """tests/golden/make_weights.py ran the reference's transplant + interp in pycaffe (Caffe-written thin VGG16
    into a thin FCN-32s); tools/surgery.py on the same files gives the same blobs, bit for bit."""
    gw = os.path.join(ROOT, 'tests', 'golden', 'weights')
    out = tmp_path / 'ours.caffemodel'
    rc = surgery.main(['--classifier', os.path.join(gw, 'vgg16_thin.prototxt'),
                       '--weights', os.path.join(gw, 'caffe_vgg16_thin.caffemodel'),
                       '--fcn', os.path.join(gw, 'fcn32s_thin.prototxt'), '--out', str(out)])
    assert rc == 0
    ours = weights.read_weights(out)
    caffe = weights.read_weights(os.path.join(gw, 'caffe_surgery_fcn32s_thin.caffemodel'))
    with_blobs = [k for k, v in caffe.items() if v]
    assert [k for k, v in ours.items() if v] == with_blobs
    for k in with_blobs:
        for a, b in zip(ours[k], caffe[k]):
            assert a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32)), k


def test_surgery_from_an_h5_missing_a_layer_fails_and_keeps_the_destination(thin, capsys):
    d, _ = thin
    init32 = _fcn32s_init(d)
    arrays = weights.read_weights(init32)
    del arrays['fc7']
    weights.write_weights(d / 'no-fc7.caffemodel.h5', arrays)
    out = d / 'keep3.caffemodel'
    out.write_bytes(b'precious')
    rc = surgery.main(['--from-stage', str(d / 'voc-fcn32s' / 'deploy.prototxt'), str(d / 'no-fc7.caffemodel.h5'),
                       '--fcn', str(d / 'voc-fcn16s' / 'train.prototxt'), '--out', str(out)])
    err = capsys.readouterr().err
    assert rc == 3 and "no-fc7.caffemodel.h5: holds no blobs for layer(s) ['fc7']" in err
    assert out.read_bytes() == b'precious'
