"""tools/score.py and tools/infer.py end to end on thinned reference nets with random weights and generated data.

The score report's confusion matrix must equal one recomputed here from the generator's label maps and the
prediction PNGs the tool saved (read back with PIL), which checks the re-rooted data layer, the split order, the
argmax and the accumulation."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from datalayers import synthetic
from test_data_reference_nets import thin
from test_scoring_metrics import independent_hist


def make_folder(reference, name, dest, files):
    """A copy of reference model folder files with the backbone thinned (weights come from random_weights)."""
    from netspec import read_net, write_text
    os.makedirs(dest, exist_ok=True)
    for f in files:
        write_text(thin(read_net(str(reference / name / f))), os.path.join(dest, f))
    return dest


def random_weights(prototxt, path, seed=0, data_root=None):
    from runtime import Net
    from fcnapps.report import prepare_net_param
    p = prepare_net_param(prototxt, data_root) if data_root else prototxt
    net = Net(p, phase='test')
    rng = np.random.default_rng(seed)
    arrays = {name: [rng.normal(0, 0.5 if k == 0 else 0.1, tuple(b.shape)).astype(np.float32)
                     for k, b in enumerate(blobs)] for name, blobs in net.params.items()}
    net.load_arrays(arrays)
    net.save(path)
    return path


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('data'))
    return root, {'voc': synthetic.make_voc(root, n_train=2, n_val=4, size=(40, 56), seed=21),
                  'sift': synthetic.make_siftflow(root, n_trainval=2, n_test=3, size=(40, 56), seed=22)}


def test_score_tool_report_matches_saved_predictions_and_labels(reference, data_root, tmp_path, capsys):
    from tools import score
    root, info = data_root
    folder = make_folder(reference, 'voc-fcn32s', str(tmp_path / 'voc-fcn32s'), ['val.prototxt'])
    w = random_weights(os.path.join(folder, 'val.prototxt'), str(tmp_path / 'w.caffemodel'), data_root=root)
    out = str(tmp_path / 'r.json')
    score.main(['--model', folder, '--weights', w, '--data', root, '--split', 'seg11valid', '--save',
                str(tmp_path / 'pred'), '--json', out, '--quiet'])
    text = capsys.readouterr().out
    assert '63.60' not in text and '63.6' in text and 'wkentaro/pytorch-fcn README' in text  # the paper's row
    assert 'aeroplane' in text and 'mean IU' in text
    report = json.load(open(out))
    ids = info['voc']['splits']['seg11valid']
    H = np.zeros((21, 21), np.int64)
    for idx in ids:
        pred = np.asarray(Image.open(tmp_path / 'pred' / f'{idx}.png'))
        assert Image.open(tmp_path / 'pred' / f'{idx}.png').mode == 'P'
        H += independent_hist(info['voc']['truth'][idx], pred, 21)
    head, = report['heads']
    assert report['images'] == len(ids) and report['split'] == 'seg11valid'
    np.testing.assert_array_equal(np.array(head['hist']), H)
    assert len(np.unique(np.nonzero(H)[1])) > 1  # random weights: more than one predicted class
    assert head['loss'] is not None and head['loss'] > 0
    assert report['paper'][0]['mean_iu'] == 63.6


def test_score_tool_scores_both_siftflow_heads_and_the_paper_exclusion(reference, data_root, tmp_path, capsys):
    from tools import score
    root, info = data_root
    folder = make_folder(reference, 'siftflow-fcn16s', str(tmp_path / 'siftflow-fcn16s'), ['test.prototxt'])
    out = str(tmp_path / 'r.json')
    score.main(['--model', folder, '--data', root, '--json', out, '--quiet'])
    report = json.load(open(out))
    sem, geo = report['heads']
    assert (sem['label'], geo['label']) == ('sem', 'geo')
    assert sem['metrics_paper']['excluded'] == [8, 10, 15] and 'metrics_paper' not in geo
    assert geo['classes'] == ['sky', 'horizontal', 'vertical'] and len(sem['classes']) == 33
    text = capsys.readouterr().out
    assert 'excluding cow, desert, moon' in text and '94.3' in text  # geometric accuracy of CVPR Table 5


def test_infer_tool_labels_any_image_size_with_the_deploy_net(reference, tmp_path, capsys):
    from tools import infer
    folder = make_folder(reference, 'voc-fcn8s', str(tmp_path / 'voc-fcn8s'), ['deploy.prototxt'])
    w = random_weights(os.path.join(folder, 'deploy.prototxt'), str(tmp_path / 'w.caffemodel'))
    rng = np.random.default_rng(0)
    images = []
    for k, (h, w_) in enumerate([(37, 53), (64, 41), (1, 1)]):
        p = str(tmp_path / f'im{k}.jpg')
        Image.fromarray(rng.integers(0, 255, (h, w_, 3)).astype(np.uint8)).save(p)
        images.append((p, h, w_))
    infer.main(['--model', folder, '--weights', w, '--out', str(tmp_path / 'out')] + [p for p, _, _ in images])
    for p, h, w_ in images:
        stem = os.path.splitext(os.path.basename(p))[0]
        png = Image.open(tmp_path / 'out' / f'{stem}.png')
        assert png.mode == 'P' and png.size == (w_, h)
        assert np.asarray(png).max() < 21
        vis = Image.open(tmp_path / 'out' / f'{stem}_vis.png')
        assert vis.size == (3 * w_, h)


def test_infer_derives_a_deploy_net_from_the_eval_net(reference):
    from fcnapps.inference import deploy_net
    net, scores, kinds = deploy_net(str(reference / 'siftflow-fcn8s'))
    assert scores == ['score_sem', 'score_geo'] and kinds == {'data': 'color'}
    assert net.layer[0].type == 'Input' and not any(l.type == 'SoftmaxWithLoss' for l in net.layer)
    net, scores, kinds = deploy_net(str(reference / 'nyud-fcn32s-color-d'))
    assert kinds == {'color': 'color', 'depth': 'depth'} and scores == ['score']
    assert [list(s.dim) for s in net.layer[0].input_param.shape] == [[1, 3, 1, 1], [1, 1, 1, 1]]


def test_infer_asks_for_hha_images_where_the_net_needs_them(reference, tmp_path):
    from fcnapps.inference import infer
    with pytest.raises(ValueError, match='hha'):
        infer(str(reference / 'nyud-fcn32s-color-hha'), None, ['x.png'], str(tmp_path))


def test_scoring_prepares_the_eval_net_in_file_order_at_the_data_root(reference):
    import datalayers
    from fcnapps.report import prepare_net_param
    p = prepare_net_param(str(reference / 'voc-fcn16s' / 'val.prototxt'), '/d', split='train')
    params = datalayers.parse_param_str(p.layer[0].python_param.param_str)
    assert params == {'voc_dir': '/d/pascal/VOC2011', 'seed': 1337, 'split': 'train',
                      'mean': (104.00699, 116.66877, 122.67892), 'randomize': False}
