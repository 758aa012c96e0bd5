"""Each reference data layer, run by the runtime on a generated dataset, yields exactly the expected arrays:
values, float32, 1 x C x H x W at the image's own size, in the reference's order.

Expected images are recomputed here from the files with PIL and the reference's arithmetic; expected labels are
the maps the generator painted (independent of the decoding under test); expected training order is the
Python 2 sequence recorded in test_data_order.py."""
import os

import numpy as np
import pytest
from PIL import Image

from datalayers import synthetic
from datalayers.datasets import SIFTFLOW_SUBDIR
from test_data_order import PY2_RECORDED

VOC_MEAN = (104.00699, 116.66877, 122.67892)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('data'))
    return {'voc': synthetic.make_voc(root, n_train=8, n_val=3, seed=1),
            'siftflow': synthetic.make_siftflow(root, n_trainval=8, n_test=3, seed=2),
            'nyud': synthetic.make_nyud(root, n_train=5, n_val=3, n_test=3, seed=3),
            'context': synthetic.make_pascalcontext(root, n_train=8, n_val=3, seed=4)}


def data_net(module, layer, params, tops, phase='train'):
    from netspec import caffe_pb2
    from runtime import Net
    net_param = caffe_pb2.NetParameter(name='data-only')
    lp = net_param.layer.add(name='data', type='Python')
    lp.top.extend(tops)
    lp.python_param.module, lp.python_param.layer, lp.python_param.param_str = module, layer, repr(params)
    return Net(net_param, phase=phase)


def run(net, tops, k):
    out = []
    for _ in range(k):
        net.forward()
        out.append({t: net.blobs[t].detach().cpu().numpy() for t in tops})
    return out


def rgb(path):
    return np.asarray(Image.open(path).convert('RGB'))


def expect_image_f64_mean(path, mean):
    """VOC/SBD: the reference subtracts np.array(mean) (float64) from a float32 image in place."""
    return np.float32(np.float64(rgb(path)[:, :, ::-1]) - np.asarray(mean, np.float64)).transpose(2, 0, 1)[None]


def expect_image_f32_mean(path, mean, reverse=True):
    im = rgb(path).astype(np.float32)
    im = im[:, :, ::-1] if reverse else im
    return (im - np.asarray(mean, np.float32)).transpose(2, 0, 1)[None]


def check(arr, expected):
    assert arr.dtype == np.float32
    assert arr.shape == expected.shape
    np.testing.assert_array_equal(arr, expected.astype(np.float32))


def test_sbdd_layer_yields_python2_ordered_samples_with_mat_labels(data):
    info = data['voc']
    ids, sbd = info['splits']['train'], info['sbdd_dir']
    net = data_net('voc_layers', 'SBDDSegDataLayer', info['params']['train'], ['data', 'label'])
    got = run(net, ['data', 'label'], 12)
    for sample, i in zip(got, PY2_RECORDED[8]):
        idx = ids[i]
        check(sample['data'], expect_image_f64_mean(f'{sbd}/img/{idx}.jpg', VOC_MEAN))
        check(sample['label'], info['truth'][idx][None, None])


def test_voc_layer_reads_seg11valid_in_file_order_wrapping_with_void_255(data):
    info = data['voc']
    ids, voc = info['splits']['seg11valid'], info['voc_dir']
    net = data_net('voc_layers', 'VOCSegDataLayer', info['params']['seg11valid'], ['data', 'label'], 'test')
    got = run(net, ['data', 'label'], len(ids) + 2)
    for k, sample in enumerate(got):
        idx = ids[k % len(ids)]
        check(sample['data'], expect_image_f64_mean(f'{voc}/JPEGImages/{idx}.jpg', VOC_MEAN))
        check(sample['label'], info['truth'][idx][None, None])
    assert any((s['label'] == 255).any() for s in got)


def test_siftflow_layer_yields_data_sem_geo_with_void_wrapped_to_255(data):
    info = data['siftflow']
    ids, d = info['splits']['trainval'], info['siftflow_dir']
    net = data_net('siftflow_layers', 'SIFTFlowSegDataLayer', info['params']['trainval'], ['data', 'sem', 'geo'])
    got = run(net, ['data', 'sem', 'geo'], 10)
    for sample, i in zip(got, PY2_RECORDED[8]):
        idx = ids[i]
        img = f'{d}/Images/{SIFTFLOW_SUBDIR}/{idx}.jpg'
        check(sample['data'], expect_image_f32_mean(img, (114.578, 115.294, 108.353)))
        sem, geo = info['truth'][idx]
        check(sample['sem'], sem[None, None])
        check(sample['geo'], geo[None, None])
        assert set(np.unique(sample['geo'])) <= {0, 1, 2, 255}


@pytest.mark.parametrize('tops', [['color', 'label'], ['hha', 'label'], ['color', 'depth', 'label'],
                                  ['color', 'hha', 'label'], ['label', 'depth', 'hha', 'color']])
def test_nyud_layer_yields_the_tops_param_str_asks_for(data, tops):
    info = data['nyud']
    ids, d = info['splits']['test'], info['nyud_dir']
    params = dict(info['params']['test'], tops=tops)
    net = data_net('nyud_layers', 'NYUDSegDataLayer', params, tops, 'test')
    got = run(net, tops, len(ids))
    for k, sample in enumerate(got):
        idx = ids[k]
        expected = {
            'color': expect_image_f32_mean(f'{d}/data/images/img_{idx}.png', (116.190, 97.203, 92.318)),
            'hha': expect_image_f32_mean(f'{d}/data/hha/img_{idx}.png', (132.431, 94.076, 118.477), reverse=False),
            'depth': (np.log(np.asarray(Image.open(f'{d}/data/depth/img_{idx}.png'), dtype=np.float32))
                      - np.float32(7.844))[None, None],
            'label': info['truth'][idx][None, None]}
        for t in tops:
            check(sample[t], expected[t])


def test_nyud_trainval_order_is_the_python2_sequence(data):
    info = data['nyud']
    ids = info['splits']['trainval']
    assert len(ids) == 8
    net = data_net('nyud_layers', 'NYUDSegDataLayer', info['params']['trainval'], ['color', 'label'])
    got = run(net, ['color', 'label'], 12)
    for sample, i in zip(got, PY2_RECORDED[8]):
        check(sample['label'], info['truth'][ids[i]][None, None])


def test_pascalcontext_layer_maps_full_labels_to_the_59_classes(data):
    info = data['context']
    ids = info['splits']['train']
    voc = info['voc_dir'] + '/VOC2010'
    net = data_net('pascalcontext_layers', 'PASCALContextSegDataLayer', info['params']['train'], ['data', 'label'])
    got = run(net, ['data', 'label'], 12)
    for sample, i in zip(got, PY2_RECORDED[8]):
        idx = ids[i]
        check(sample['data'], expect_image_f32_mean(f'{voc}/JPEGImages/{idx}.jpg', (104.007, 116.669, 122.679)))
        check(sample['label'], info['truth'][idx][None, None])
    assert not any((s['label'] == 255).any() for s in got)


def test_pascalcontext_renamed_classes_map_to_their_task_ids(data, tmp_path):
    """diningtable, bedcloth and clothes (task names) find table, bedclothes and cloth in the full list, not the
    decoys 'dining table', 'bed cloth' or 'clothes tree'."""
    from datalayers.datasets import PASCALContextSeg
    ds = PASCALContextSeg(data['context']['params']['val'])
    full = ds.labels_400
    for task_id, main in ((11, 'table'), (52, 'bedclothes'), (28, 'cloth')):
        assert ds.lut[full.index(main) + 1] == task_id
    for decoy in ('diningtable', 'bedcloth', 'clothestree', 'pooltable', 'airconditioner'):
        assert ds.lut[full.index(decoy) + 1] == 0


def test_layer_draws_its_first_index_at_setup(data):
    from datalayers.base import SegDataLayer
    from datalayers.datasets import SBDDSeg
    from runtime.layers.python import Blob

    class Probe(SegDataLayer):
        dataset_class = SBDDSeg
    layer = Probe()
    layer.param_str = repr(data['voc']['params']['train'])
    top = [Blob(), Blob()]
    layer.setup([], top)
    seen = [layer.idx]
    for _ in range(5):
        layer.reshape([], top)
        layer.forward([], top)
        seen.append(layer.stream.peek_index())
    assert seen == PY2_RECORDED[8][:6]
    assert layer.indices == data['voc']['splits']['train'] and layer.random and layer.seed == 1337


def test_randomize_false_keeps_file_order_on_a_train_split(data):
    info = data['voc']
    params = dict(info['params']['train'], randomize=False)
    net = data_net('voc_layers', 'SBDDSegDataLayer', params, ['data', 'label'])
    got = run(net, ['label'], 3)
    for k, s in enumerate(got):
        check(s['label'], info['truth'][info['splits']['train'][k]][None, None])
