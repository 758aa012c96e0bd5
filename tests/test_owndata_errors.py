"""Bad own data and bad descriptions are one-line errors (DatasetError) naming the file and what is wrong: an
image without its label and a label without its image, mismatched sizes, a label value outside [0, N) other than
the ignore label (at load time in the layer too), a bad or missing key, a description without a mean."""
import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

from datalayers import synthetic
from datalayers.io import DatasetError
from datalayers.own import OwnSeg, load_description, write_description
from runtime.layers.base import LayerError


def small(tmp_path, form='folders', **kw):
    return synthetic.make_own(str(tmp_path / form), form, n_train=2, n_val=1, size=(16, 16), seed=2, **kw)


def edit(path, **changes):
    data = json.load(open(path))
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    with open(path, 'w') as f:
        json.dump(data, f)
    return path


def error(fn, *args, match=None):
    with pytest.raises(DatasetError) as e:
        fn(*args)
    text = str(e.value)
    assert '\n' not in text, text
    if match:
        for m in (match if isinstance(match, (list, tuple)) else [match]):
            assert m in text, text
    return text


def test_an_image_without_its_label_names_the_image(tmp_path):
    path = small(tmp_path)
    d = load_description(path)
    image, label = d.paths('train', d.splits['train'][1])
    os.remove(label)
    error(load_description, path, match=['image without its label', image])


def test_a_label_without_its_image_names_the_label(tmp_path):
    path = small(tmp_path)
    d = load_description(path)
    image, label = d.paths('val', d.splits['val'][0])
    os.remove(image)
    error(load_description, path, match=['label without its image', label])


def test_a_list_line_without_its_label_names_the_list_file_and_line(tmp_path):
    path = small(tmp_path, 'lists')
    lst = os.path.join(os.path.dirname(path), 'data', 'lists', 'val.lst')
    first = open(lst).read().split()[0]
    with open(lst, 'w') as f:
        f.write(first + '\n')
    error(load_description, path, match=[lst, 'line 1', 'image without its label'])


def test_a_listed_label_that_is_missing_names_it(tmp_path):
    path = small(tmp_path, 'lists')
    d = load_description(path)
    label = d.paths('train', d.splits['train'][0])[1]
    os.remove(label)
    error(load_description, path, match=['image without its label', label])


def test_a_split_naming_an_unknown_stem_names_the_split_file(tmp_path):
    path = small(tmp_path)
    val = os.path.join(os.path.dirname(path), 'val.txt')
    with open(val, 'a') as f:
        f.write('nosuch\n')
    error(load_description, path, match=[val, "'nosuch'"])


def test_mismatched_sizes_name_both_files_in_the_dataset_and_in_the_layer(tmp_path):
    from test_owndata_layer import data_net
    path = small(tmp_path)
    d = load_description(path)
    image, label = d.paths('val', d.splits['val'][0])
    Image.fromarray(np.zeros((5, 7), np.uint8), 'P').save(label)
    error(OwnSeg({'description': path, 'split': 'val'}).load, 0, match=[label, image, '5 x 7'])
    with pytest.raises(DatasetError, match='5 x 7'):    # the net's setup reads the first sample
        data_net({'description': path, 'split': 'val', 'prefetch': 0}, phase='test')[1].forward()


def test_a_label_value_outside_the_classes_names_the_file_and_the_value_also_in_the_layer(tmp_path):
    from test_owndata_layer import data_net
    path = small(tmp_path)
    d = load_description(path)
    label = d.paths('train', d.splits['train'][1])[1]
    im = Image.open(label)
    a = np.array(im)
    a[0, 0], a[1, 1] = 7, 254
    out = Image.fromarray(a, 'P')
    out.putpalette(im.getpalette())
    out.save(label)
    params = {'description': path, 'split': 'train', 'randomize': False}
    error(OwnSeg(params).load, 1, match=[label, '7, 254', '0..4', '255'])
    net = data_net(params)[1]
    with pytest.raises(LayerError) as e:   # the first sample is good: the bad one fails when the layer reaches it
        for _ in range(3):
            net.forward()
    assert "layer 'data'" in str(e.value) and label in str(e.value) and '7, 254' in str(e.value)
    edit(path, map_to_ignore=[7, 254])     # mapped to the ignore label, they are accepted
    got = OwnSeg(params).load(1)[1]
    assert got[0, 0, 0, 0] == 255 and got[0, 0, 1, 1] == 255


def test_a_float_label_that_is_not_integral_is_refused(tmp_path):
    path = small(tmp_path, 'npy')
    d = load_description(path)
    label = d.paths('train', d.splits['train'][0])[1]
    np.save(label, np.full((16, 16), 0.5))
    error(OwnSeg({'description': path, 'split': 'train'}).load, 0, match=[label, 'integer'])


@pytest.mark.parametrize('change, words', [
    ({'clases': 5}, ['unknown key "clases"', 'classes']),
    ({'classes': None}, ['"classes" is missing']),
    ({'label_format': 'jpg'}, ['"label_format"', 'png, npy, mat', "'jpg'"]),
    ({'image_format': 'rgb'}, ['"image_format"', "'rgb'"]),
    ({'ignore_label': 2}, ['"ignore_label" 2 is a class id']),
    ({'ignore_label': 'void'}, ['"ignore_label" must be an integer']),
    ({'map_to_ignore': ['x']}, ['"map_to_ignore"']),
    ({'mean': [1, 2]}, ['"mean" must be 3 number(s) in BGR order']),
    ({'channels': 4}, ['"channels" is 4']),
    ({'splits': {'train': 'train.txt'}}, ['"splits" has no "val"']),
    ({'lists': {'train': 'train.txt', 'val': 'val.txt'}}, ['"images" and "lists" are two forms']),
    ({'labels': None}, ['"labels" is missing']),
    ({'images': 'nowhere'}, ['"images" folder not found']),
    ({'classes': 'nosuch.txt'}, ['"classes" file not found', 'nosuch.txt']),
    ({'root': 'nowhere'}, ['"root" folder not found']),
])
def test_a_bad_or_missing_key_names_the_file_and_the_key(tmp_path, change, words):
    path = edit(small(tmp_path), **change)
    error(load_description, path, match=[path] + words)


def test_mat_labels_need_their_key(tmp_path):
    path = edit(small(tmp_path, 'npy', label_format='mat'), mat_key=None)
    error(load_description, path, match=[path, '"mat_key" is missing'])
    edit(path, mat_key='S')
    d = load_description(path)
    label = d.paths('train', d.splits['train'][0])[1]
    error(OwnSeg({'description': path, 'split': 'train'}).load, 0, match=[label, "'S'", "'seg'"])


def test_a_description_without_a_mean_is_refused_by_the_layer_naming_the_command(tmp_path):
    path = edit(small(tmp_path), mean=None)
    assert load_description(path).mean is None
    text = error(OwnSeg, {'description': path, 'split': 'train'}, match=[path, 'fcn-dataset describe'])
    assert 'no "mean"' in text
    error(load_description(path).family, match='fcn-dataset describe')


def test_an_unknown_split_names_the_splits_there_are(tmp_path):
    path = small(tmp_path)
    error(OwnSeg, {'description': path, 'split': 'test'}, match=[path, "'test'", 'train, val'])


def test_a_missing_or_malformed_file_is_one_line(tmp_path):
    error(load_description, tmp_path / 'nosuch.json', match='nosuch.json')
    (tmp_path / 'bad.json').write_text('{"classes": 3,')
    error(load_description, tmp_path / 'bad.json', match=['bad.json', 'not valid JSON'])
    (tmp_path / 'list.json').write_text('[1, 2]')
    error(load_description, tmp_path / 'list.json', match=['list.json', 'not list'])


def test_yaml_without_pyyaml_says_so(tmp_path, monkeypatch):
    (tmp_path / 'd.yaml').write_text('classes: 3\n')
    monkeypatch.setitem(sys.modules, 'yaml', None)
    error(load_description, tmp_path / 'd.yaml', match=['d.yaml', 'PyYAML'])


def test_nothing_is_written_for_a_bad_description(tmp_path):
    path = small(tmp_path)
    data = json.load(open(path))
    data['classes'] = 0
    out = tmp_path / 'out.json'
    error(write_description, out, data, match='"classes" must be at least 1')
    assert not out.exists()
