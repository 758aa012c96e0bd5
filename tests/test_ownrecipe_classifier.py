"""The walk-through's stand-in classifier (`fcn-own classifier --train`, fcnapps.owndata.make_classifier): crops of
the label maps' regions labelled by their class, trained at a rate that leaves its trunk's ReLUs firing, so that
the FCN cast from it has features to learn from; its accuracy on those crops said in one line."""
import re

import numpy as np
import pytest
import torch

from datalayers.own import load_description
from datalayers.synthetic import make_own
from fcnapps import owndata
from netspec import table1
from runtime import Net
from tools import own

WIDTH = 0.0625


pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('clf')
    return make_own(str(root / 'shapes'), 'folders', n_train=6, n_val=1, size=(64, 80), num_classes=3)


def test_each_region_of_a_label_map_is_a_crop_labelled_by_its_class(shapes):
    desc = load_description(shapes)
    x, y = owndata.object_crops(desc, 32, min_pixels=1)
    from datalayers.own import load_sample
    from scipy import ndimage
    regions = []
    for sid in desc.splits['train']:
        _, label = load_sample(desc, 'train', sid)
        regions += [c for c in range(desc.num_classes) for _ in range(ndimage.label(label == c)[1])]
    assert x.shape == (len(regions), 3, 32, 32) and x.dtype == np.float32
    assert sorted(y.astype(int).tolist()) == sorted(regions)
    assert set(y.astype(int).tolist()) == set(range(desc.num_classes))


def fc7_magnitude(clf_dir, x):
    """Mean |fc7| of a classifier over crops (TEST phase)."""
    net = Net(f'{clf_dir}/deploy.prototxt', f'{clf_dir}/classifier.caffemodel', phase='test')
    return float(np.mean([net.forward(data=torch.from_numpy(xi[None]), label=torch.zeros(1)) is not None and
                          net.blobs['fc7'].abs().mean().item() for xi in x]))


def test_training_keeps_the_trunk_firing_and_beats_chance_on_its_crops(shapes, tmp_path, capsys, solvers_log):
    """At the default rate, 40 steps leave fc7 at the magnitude of the fillers' (within 10x) and the crops told
    apart better than the most frequent class; a thin VGG16 trained at 1e-3 on pixel values falls silent."""
    assert own.main(['classifier', 'vgg16', str(tmp_path / 'fill'), '--width', str(WIDTH)]) == 0
    assert own.main(['classifier', 'vgg16', str(tmp_path / 'clf'), '--width', str(WIDTH), '--train', shapes,
                     '--iters', '40']) == 0
    out = capsys.readouterr().out
    acc, chance = map(float, re.search(r'accuracy on them: ([\d.]+)% \(chance ([\d.]+)%\)', out).groups())
    assert acc > chance
    x, _ = owndata.object_crops(load_description(shapes), table1.CLASSIFIER_CROP['FCN-VGG16'])
    assert fc7_magnitude(tmp_path / 'clf', x) > 0.1 * fc7_magnitude(tmp_path / 'fill', x)


def test_whole_images_are_the_other_crops(shapes, tmp_path, capsys, solvers_log):
    assert own.main(['classifier', 'vgg16', str(tmp_path / 'clf'), '--width', str(WIDTH), '--train', shapes,
                     '--iters', '1', '--crops', 'images']) == 0
    assert 'on 6 images, each labelled by the class it holds most of' in capsys.readouterr().out
