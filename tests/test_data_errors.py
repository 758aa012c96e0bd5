"""Bad datasets and bad param_str give clear errors: the path, and the layout that was expected."""
import os
import shutil

import pytest

import datalayers
from datalayers import DatasetError, synthetic
from test_data_layers import data_net


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    r = str(tmp_path_factory.mktemp('data'))
    synthetic.make_voc(r, n_train=2, n_val=2, seed=0)
    synthetic.make_siftflow(r, n_trainval=2, n_test=1, seed=0)
    synthetic.make_nyud(r, n_train=1, n_val=1, n_test=1, seed=0)
    synthetic.make_pascalcontext(r, n_train=2, n_val=1, seed=0)
    return r


MEAN = (104.00699, 116.66877, 122.67892)


def test_missing_dataset_folder_names_it_and_the_layout(tmp_path):
    with pytest.raises(DatasetError) as e:
        datalayers.VOCSeg({'voc_dir': str(tmp_path / 'nowhere'), 'split': 'seg11valid', 'mean': MEAN})
    msg = str(e.value)
    assert str(tmp_path / 'nowhere') in msg and 'JPEGImages/<id>.jpg' in msg and 'SegmentationClass' in msg


def test_missing_split_file_names_it(root):
    with pytest.raises(DatasetError, match=r'split file: .*sbdd/dataset/val\.txt'):
        datalayers.SBDDSeg({'sbdd_dir': f'{root}/sbdd/dataset', 'split': 'val', 'mean': MEAN})


@pytest.mark.parametrize('cls,params,remove', [
    (datalayers.VOCSeg, {'voc_dir': 'pascal/VOC2011', 'split': 'seg11valid', 'mean': MEAN},
     'pascal/VOC2011/SegmentationClass/{id}.png'),
    (datalayers.SBDDSeg, {'sbdd_dir': 'sbdd/dataset', 'split': 'train', 'mean': MEAN}, 'sbdd/dataset/img/{id}.jpg'),
    (datalayers.SIFTFlowSeg, {'siftflow_dir': 'sift-flow', 'split': 'test'},
     'sift-flow/GeoLabels/spatial_envelope_256x256_static_8outdoorcategories/{id}.mat'),
    (datalayers.NYUDSeg, {'nyud_dir': 'nyud', 'split': 'test', 'tops': ['color', 'depth', 'label']},
     'nyud/data/depth/img_{id}.png'),
    (datalayers.PASCALContextSeg, {'voc_dir': 'pascal', 'context_dir': 'pascal-context', 'split': 'val'},
     'pascal-context/trainval/{id}.mat'),
])
def test_missing_image_or_label_names_the_file(root, tmp_path, cls, params, remove):
    shutil.copytree(root, tmp_path / 'd')
    params = {k: (str(tmp_path / 'd' / v) if k.endswith('_dir') else v) for k, v in params.items()}
    ds = cls(params)
    path = str(tmp_path / 'd' / remove.format(id=ds.ids[0]))
    os.unlink(path)
    with pytest.raises(DatasetError) as e:
        ds.load(0)
    assert path in str(e.value) and 'expected layout' in str(e.value)


def test_param_str_is_a_literal_never_evaluated(root, tmp_path):
    marker = tmp_path / 'pwned'
    evil = f"__import__('os').mkdir({str(marker)!r})"
    with pytest.raises(ValueError, match='literal'):
        datalayers.parse_param_str(evil, 'VOCSegDataLayer')
    assert not marker.exists()
    with pytest.raises(ValueError, match='dict'):
        datalayers.parse_param_str("['voc_dir']")


def test_missing_param_key_is_named(root):
    with pytest.raises(ValueError, match="lacks 'mean'"):
        datalayers.VOCSeg({'voc_dir': f'{root}/pascal/VOC2011', 'split': 'seg11valid'})


def test_wrong_number_of_tops_is_an_error(root):
    params = {'sbdd_dir': f'{root}/sbdd/dataset', 'split': 'train', 'mean': MEAN, 'seed': 1}
    with pytest.raises(Exception, match='2 tops'):
        data_net('voc_layers', 'SBDDSegDataLayer', params, ['data'])


def test_nyud_rejects_unknown_tops(root):
    with pytest.raises(ValueError, match='tops'):
        datalayers.NYUDSeg({'nyud_dir': f'{root}/nyud', 'split': 'test', 'tops': ['color', 'normals']})


def test_rebase_param_str_moves_dataset_folders_and_keeps_the_rest():
    s = "{'sbdd_dir': '../../data/sbdd/dataset', 'seed': 1337, 'split': 'train', 'mean': (1.0, 2.0, 3.0)}"
    p = datalayers.parse_param_str(datalayers.rebase_param_str(s, '/x/root'))
    assert p == {'sbdd_dir': '/x/root/sbdd/dataset', 'seed': 1337, 'split': 'train', 'mean': (1.0, 2.0, 3.0)}
    s = "{'context_dir': '../../data/pascal-context', 'voc_dir': '../../data/pascal', 'split': 'val'}"
    p = datalayers.parse_param_str(datalayers.rebase_param_str(s, 'R'))
    assert p['context_dir'] == os.path.join('R', 'pascal-context') and p['voc_dir'] == os.path.join('R', 'pascal')
