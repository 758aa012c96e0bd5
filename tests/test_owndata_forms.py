"""A user's own dataset in each form a description file records (datalayers.own), written by
datalayers.synthetic.make_own: the description is read as written, and every sample loads as the net must see it
(colour as BGR minus the mean, grey and .npy channels in their own order, labels with map_to_ignore applied).

Expected arrays are recomputed here from the files with PIL / numpy / scipy, independently of the readers under
test."""
import json
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

from datalayers import own, synthetic
from datalayers.own import OwnSeg, load_description
from netspec.models import OWN_LAYER

SIZE = (20, 28)


@pytest.fixture(scope='module')
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp('own')
    out = {form: synthetic.make_own(str(root / form), form, n_train=8, n_val=3, size=SIZE, seed=k)
           for k, form in enumerate(synthetic.OWN_FORMS)}
    out['mat'] = synthetic.make_own(str(root / 'mat'), 'npy', n_train=4, n_val=2, size=SIZE, seed=9,
                                    label_format='mat')
    return out


def load_all(path, split):
    ds = OwnSeg({'description': path, 'split': split, 'seed': 1337})
    return ds, [ds.load(i) for i in range(len(ds.ids))]


def test_folders_form_matches_by_stem_and_feeds_colour_as_bgr_minus_the_mean(made):
    d = load_description(made['folders'])
    assert (d.form, d.channels, d.image_format, d.label_format) == ('folders', 3, 'color', 'png')
    assert d.classes == tuple(synthetic.own_class_names(5))
    assert d.splits['train'] == tuple(f'folders_{i:03d}' for i in range(8))
    ds, samples = load_all(made['folders'], 'val')
    for sample_id, (data, label) in zip(ds.ids, samples):
        image_path, label_path = d.paths('val', sample_id)
        assert os.path.splitext(image_path)[0].endswith(sample_id) and label_path.endswith(sample_id + '.png')
        rgb = np.asarray(Image.open(image_path).convert('RGB'), np.float64)
        expect = (rgb[:, :, ::-1] - np.array(d.mean)).transpose(2, 0, 1)[None].astype(np.float32)
        assert data.dtype == np.float32 and data.shape == expect.shape
        np.testing.assert_array_equal(data, expect)
        np.testing.assert_array_equal(label[0, 0], np.asarray(Image.open(label_path)))
        assert set(np.unique(label)) <= set(range(5)) | {255}
    assert {os.path.splitext(d.pairs[s][0])[1] for s in d.pairs} == {'.jpg', '.png'}


def test_the_palette_is_the_label_pngs_own(made):
    d = load_description(made['folders'])
    np.testing.assert_array_equal(d.palette, synthetic.own_palette(5)[:5])
    assert load_description(made['lists']).palette is None       # greyscale PNG labels have none


def test_lists_form_takes_pairs_relative_to_root_and_maps_values_to_ignore(made):
    d = load_description(made['lists'])
    raw = json.load(open(made['lists']))
    assert d.form == 'lists' and d.root == os.path.join(os.path.dirname(made['lists']), 'data')
    assert d.classes == ('0', '1', '2', '3', '4') and d.map_to_ignore == (254,)
    ds, samples = load_all(made['lists'], 'train')
    lines = open(os.path.join(d.root, raw['lists']['train'])).read().split('\n')
    assert list(ds.ids) == [line.split()[0] for line in lines if line]
    for sample_id, (data, label) in zip(ds.ids, samples):
        gray = np.asarray(Image.open(d.paths('train', sample_id)[1]))
        assert (gray == 254).any()
        np.testing.assert_array_equal(label[0, 0], np.where(gray == 254, 255, gray))


def test_npy_form_feeds_every_channel_in_its_own_order(made):
    d = load_description(made['npy'])
    assert (d.channels, d.image_format, d.label_format) == (4, 'npy', 'npy') and len(d.mean) == 4
    ds, samples = load_all(made['npy'], 'val')
    for sample_id, (data, label) in zip(ds.ids, samples):
        image_path, label_path = d.paths('val', sample_id)
        arr = np.load(image_path)
        assert arr.shape[2] == 4
        np.testing.assert_array_equal(data[0], (arr.astype(np.float64) - np.array(d.mean)).transpose(2, 0, 1)
                                      .astype(np.float32))
        np.testing.assert_array_equal(label[0, 0], np.load(label_path))
    assert d.family().inputs == (('data', 4),)


def test_mat_labels_are_read_from_the_named_variable(made):
    d = load_description(made['mat'])
    assert (d.label_format, d.mat_key) == ('mat', 'seg')
    ds, samples = load_all(made['mat'], 'train')
    for sample_id, (data, label) in zip(ds.ids, samples):
        np.testing.assert_array_equal(label[0, 0], scipy.io.loadmat(d.paths('train', sample_id)[1])['seg'])


def test_gray_form_is_one_channel_and_train_is_every_stem_val_does_not_list(made):
    d = load_description(made['gray'])
    assert d.channels == 1 and len(d.mean) == 1
    val = open(os.path.join(d.root, 'val.txt')).read().split()
    assert d.splits['val'] == tuple(val)
    assert set(d.splits['train']) == set(d.pairs) - set(val) and len(d.splits['train']) == 8
    ds, samples = load_all(made['gray'], 'train')
    for sample_id, (data, label) in zip(ds.ids, samples):
        g = np.asarray(Image.open(d.paths('train', sample_id)[0]), np.float64)
        assert data.shape == (1, 1) + g.shape
        np.testing.assert_array_equal(data[0, 0], (g - d.mean[0]).astype(np.float32))


@pytest.mark.parametrize('form', synthetic.OWN_FORMS)
def test_the_written_mean_is_the_mean_of_every_training_pixel(made, form):
    d = load_description(made[form])
    total, count = 0., 0
    for s in d.splits['train']:
        image = own.read_image(d, d.paths('train', s)[0])
        total = total + image.reshape(d.channels, -1).sum(1, dtype=np.float64)
        count += image[0].size
    np.testing.assert_allclose(d.mean, total / count, atol=1e-4)


def test_family_carries_the_classes_the_val_count_the_layer_and_the_mean(made):
    d = load_description(made['folders'])
    f = d.family()
    assert f.name == 'shapes-folders' and f.num_classes == 5 and f.head('label').classes == d.classes
    assert f.eval_images == 3 and f.train_split == 'train' and f.eval_split == 'val'
    assert f.layers == (OWN_LAYER,) and f.inputs == (('data', 3),)
    np.testing.assert_array_equal(f.mean, d.mean)
    assert not f.mean.flags.writeable


def test_yaml_description_reads_as_the_json_one(made, tmp_path):
    import yaml
    data = json.load(open(made['folders']))
    root = os.path.dirname(made['folders'])
    data['root'] = root
    (tmp_path / 'd.yaml').write_text(yaml.safe_dump(data))
    a, b = load_description(tmp_path / 'd.yaml'), load_description(made['folders'])
    assert (a.root, a.classes, a.mean, a.splits, a.pairs) == (b.root, b.classes, b.mean, b.splits, b.pairs)


def test_a_description_of_a_voc_layout_reads_exactly_what_the_reference_voc_layer_reads(tmp_path):
    """The colour path is the reference layers' arithmetic: RGB -> BGR -> minus a float64 mean, in float32."""
    from datalayers.datasets import VOC_MEAN, VOCSeg
    info = synthetic.make_voc(str(tmp_path), n_train=1, n_val=3, size=(20, 30), seed=5)
    voc = info['voc_dir']
    split = os.path.join(voc, 'ImageSets', 'Segmentation', 'seg11valid.txt')
    path = tmp_path / 'voc.json'
    path.write_text(json.dumps({'root': voc, 'images': 'JPEGImages', 'labels': 'SegmentationClass',
                                'splits': {'train': split, 'val': split}, 'classes': 21, 'mean': list(VOC_MEAN)}))
    mine = OwnSeg({'description': str(path), 'split': 'val'})
    ref = VOCSeg(info['params']['seg11valid'])
    assert list(mine.ids) == list(ref.ids)
    for i in range(len(ref.ids)):
        for a, b in zip(mine.load(i), ref.load(i)):
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_array_equal(a, b)


def test_a_two_dimensional_npy_image_is_one_channel(tmp_path):
    for d in ('im', 'lab'):
        os.makedirs(tmp_path / d)
    rng = np.random.default_rng(0)
    for s in ('a', 'b'):
        np.save(tmp_path / 'im' / f'{s}.npy', rng.random((6, 7)).astype(np.float32))
        np.save(tmp_path / 'lab' / f'{s}.npy', rng.integers(0, 3, (6, 7)))
    path = tmp_path / 'd.json'
    path.write_text(json.dumps({'images': 'im', 'labels': 'lab', 'splits': {'val': ['b']}, 'classes': 3,
                                'image_format': 'npy', 'label_format': 'npy', 'mean': 0.5}))
    d = load_description(path)
    assert d.channels == 1 and d.mean == (0.5,) and d.splits['train'] == ('a',)
    data, label = OwnSeg({'description': str(path), 'split': 'train'}).load(0)
    np.testing.assert_array_equal(data[0, 0], np.load(tmp_path / 'im' / 'a.npy') - np.float32(0.5))
    np.testing.assert_array_equal(label[0, 0], np.load(tmp_path / 'lab' / 'a.npy'))


def test_sixteen_bit_png_labels_carry_more_than_256_classes(tmp_path):
    for d in ('im', 'lab'):
        os.makedirs(tmp_path / d)
    label = np.array([[0, 299], [65535, 150]], np.uint16)
    for s in ('a', 'b'):
        Image.fromarray(np.zeros((2, 2, 3), np.uint8), 'RGB').save(tmp_path / 'im' / f'{s}.png')
        Image.fromarray(label).save(tmp_path / 'lab' / f'{s}.png')
    assert Image.open(tmp_path / 'lab' / 'a.png').mode.startswith('I')
    path = tmp_path / 'd.json'
    path.write_text(json.dumps({'images': 'im', 'labels': 'lab', 'splits': {'val': ['b']}, 'classes': 300,
                                'ignore_label': 65535, 'mean': [0, 0, 0]}))
    got = OwnSeg({'description': str(path), 'split': 'val'}).load(0)[1]
    np.testing.assert_array_equal(got[0, 0], label)
