"""Caffe's data layers (runtime.caffe_data, runtime.layers.native_data): the random generators Caffe uses, the
DataTransformer, the prefetch worker, the layer types' rules and their one-line errors on bad input."""
import os
import threading
import time

import h5py
import numpy as np
import pytest

from conftest import GOLDEN
from netspec import caffe_pb2
from runtime import Net
from runtime.layers.base import LayerError
from runtime.caffe_data import rng
from runtime.caffe_data.datum import DataError, datum_image, read_mean
from runtime.caffe_data.prefetch import Prefetcher
from runtime.caffe_data.transformer import DataTransformer
from runtime.phase import TRAIN, TEST

from golden import make_datalayers as M


def write_lmdb(path, datums):
    import lmdb
    env = lmdb.open(str(path), map_size=1 << 22)
    with env.begin(write=True) as txn:
        for i, d in enumerate(datums):
            txn.put(f'{i:08d}'.encode(), d.SerializeToString())
    env.close()


def raw_datum(c, h, w, label=0, fill=0):
    return caffe_pb2.Datum(channels=c, height=h, width=w, label=label,
                           data=np.full((c, h, w), fill, np.uint8).tobytes())


def data_net(source, batch=2, transform='', phase='train', tops=('data', 'label')):
    tops = ''.join(f' top: "{t}"' for t in tops)
    return Net(f'layer {{ name: "data" type: "Data"{tops} transform_param {{ {transform} }} '
               f'data_param {{ source: "{source}" backend: LMDB batch_size: {batch} }} }}', phase=phase)


# ------------------------------------------------------------------------------------------------ generators

def test_mt19937_gives_the_standard_stream():
    gen = rng.MT19937(5489)              # std::mt19937's default seed; its 10000th output is fixed by C++11
    assert int(gen.rand_n(10000)[-1]) == 4123659995


def test_glibc_rand_starts_where_a_fresh_process_starts():
    gen = rng.GlibcRand(1)
    assert [gen.rand() for _ in range(3)] == [1804289383, 846930886, 1681692777]


def test_uniform_int_stays_in_range_and_covers_it():
    gen = rng.MT19937(1)
    draws = [rng.uniform_int(gen, 0, 6) for _ in range(7000)]
    counts = np.bincount(draws, minlength=7)
    assert min(draws) == 0 and max(draws) == 6
    assert counts.min() > 850 and counts.max() < 1150


def test_caffe_shuffle_is_a_permutation_that_depends_on_the_seed():
    a = rng.shuffle(list(range(50)), rng.MT19937(3))
    b = rng.shuffle(list(range(50)), rng.MT19937(3))
    c = rng.shuffle(list(range(50)), rng.MT19937(4))
    assert sorted(a) == list(range(50)) and a == b and a != c


def test_set_random_seed_restarts_the_stream():
    rng.set_random_seed(7)
    first = [rng.caffe_rng_rand() for _ in range(3)]
    rng.set_random_seed(7)
    assert [rng.caffe_rng_rand() for _ in range(3)] == first == [int(v) for v in rng.MT19937(7).rand_n(3)]


# ------------------------------------------------------------------------------------------------ DataTransformer

def transform_param(**kw):
    mean_value = kw.pop('mean_value', [])
    p = caffe_pb2.TransformationParameter(**kw)
    p.mean_value.extend(mean_value)
    return p


def test_test_phase_crops_the_centre_without_drawing():
    img = np.arange(3 * 6 * 7, dtype=np.uint8).reshape(3, 6, 7)
    t = DataTransformer(transform_param(crop_size=3), TEST)
    assert t._rng is None
    np.testing.assert_array_equal(t.transform(img), img[:, 1:4, 2:5].astype(np.float32))


def test_train_crop_offsets_are_the_transformers_draws_modulo_the_room():
    img = np.arange(2 * 6 * 9, dtype=np.uint8).reshape(2, 6, 9)
    rng.set_random_seed(11)
    t = DataTransformer(transform_param(crop_size=4), TRAIN)
    ref = rng.MT19937(rng.MT19937(11).rand())
    h_off, w_off = ref.rand() % 3, ref.rand() % 6
    np.testing.assert_array_equal(t.transform(img), img[:, h_off:h_off + 4, w_off:w_off + 4])


def test_mirror_draws_once_per_image_and_flips_columns():
    img = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    rng.set_random_seed(5)
    t = DataTransformer(transform_param(mirror=True), TEST)
    ref = rng.MT19937(rng.MT19937(5).rand())
    for _ in range(6):
        flip = ref.rand() % 2
        want = img[:, :, ::-1] if flip else img
        np.testing.assert_array_equal(t.transform(img), want.astype(np.float32))


def test_one_mean_value_serves_every_channel_then_scale():
    img = np.full((3, 2, 2), 100, np.uint8)
    t = DataTransformer(transform_param(mean_value=[40], scale=0.5), TEST)
    np.testing.assert_array_equal(t.transform(img), np.full((3, 2, 2), 30, np.float32))


def test_mean_file_is_subtracted_pixel_by_pixel(tmp_path):
    mean = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)
    blob = caffe_pb2.BlobProto(num=1, channels=3, height=2, width=2)
    blob.data.extend(mean.ravel().tolist())
    (tmp_path / 'm.binaryproto').write_bytes(blob.SerializeToString())
    np.testing.assert_array_equal(read_mean(tmp_path / 'm.binaryproto'), mean)
    t = DataTransformer(transform_param(mean_file=str(tmp_path / 'm.binaryproto')), TEST)
    img = np.full((3, 2, 2), 20, np.uint8)
    np.testing.assert_array_equal(t.transform(img), 20 - mean[0])


def test_mean_file_and_mean_value_together_are_refused(tmp_path):
    with pytest.raises(DataError, match='both mean_file and mean_value'):
        DataTransformer(transform_param(mean_file=str(tmp_path / 'm'), mean_value=[1]), TEST)


def test_crop_larger_than_the_image_names_the_layer():
    t = DataTransformer(transform_param(crop_size=8), TEST, where="layer 'd'")
    with pytest.raises(DataError, match=r"layer 'd'.*crop_size 8 is larger than the 5x9 image"):
        t.output_shape((3, 5, 9))


def test_encoded_datum_decodes_with_opencv_in_bgr():
    from runtime.caffe_data.images import cv2_module
    cv2 = cv2_module()
    img = np.random.RandomState(0).randint(0, 256, (4, 5, 3)).astype(np.uint8)
    d = caffe_pb2.Datum(encoded=True, data=cv2.imencode('.png', img)[1].tobytes())
    arr, from_mat = datum_image(d)
    assert from_mat and arr.shape == (3, 4, 5)
    np.testing.assert_array_equal(arr, img.transpose(2, 0, 1))
    gray, _ = datum_image(d, force_gray=True)
    assert gray.shape == (1, 4, 5)


# ------------------------------------------------------------------------------------------------ prefetching

def test_prefetch_stays_at_most_depth_batches_ahead():
    made = []

    class Source:
        def load(self):
            made.append(len(made))
            return made[-1]

    src = Source()
    p = Prefetcher(src.load, depth=3)
    time.sleep(0.3)
    assert len(made) <= 4               # 3 queued, at most one more being handed over
    assert [p.next() for _ in range(5)] == [0, 1, 2, 3, 4]
    p.close()


def test_prefetch_worker_failure_is_raised_at_the_next_batch():
    class Source:
        def load(self):
            raise DataError('db key 3: broken')

    src = Source()
    p = Prefetcher(src.load, depth=2)
    for _ in range(2):
        with pytest.raises(DataError, match='db key 3: broken'):
            p.next()


def test_prefetch_worker_ends_when_its_owner_is_collected():
    import gc

    class Source:
        def load(self):
            return np.zeros(10)

    src = Source()
    src.p = Prefetcher(src.load, depth=2, name='collect-me')
    thread = src.p._thread
    del src
    gc.collect()
    thread.join(timeout=3)
    assert not thread.is_alive()


def test_data_layer_loads_off_the_main_thread(tmp_path):
    write_lmdb(tmp_path / 'db', [raw_datum(1, 2, 2, label=i) for i in range(4)])
    net = data_net(tmp_path / 'db')
    names = [t.name for t in threading.enumerate()]
    assert "Data data" in names
    net.layers[0].close()


# ------------------------------------------------------------------------------------------------ the layer types

def test_data_layer_reads_in_key_order_and_wraps(tmp_path):
    write_lmdb(tmp_path / 'db', [raw_datum(1, 2, 3, label=i, fill=10 * i) for i in range(5)])
    net = data_net(tmp_path / 'db', batch=3, phase='test')
    assert net.blob_shapes['data'] == (3, 1, 2, 3) and net.blob_shapes['label'] == (3,)
    labels = []
    for _ in range(3):
        out = net.forward()
        labels += out['label'].tolist()
        np.testing.assert_array_equal(out['data'][:, 0, 0, 0].numpy(), 10 * out['label'].numpy())
    assert labels == [0, 1, 2, 3, 4, 0, 1, 2, 3]


def test_data_layer_with_one_top_gives_no_label(tmp_path):
    write_lmdb(tmp_path / 'db', [raw_datum(1, 2, 2)])
    net = data_net(tmp_path / 'db', tops=('data',))
    assert list(net.forward()) == ['data']


def test_image_data_reads_the_list_with_labels(tmp_path):
    from runtime.caffe_data.images import cv2_module
    cv2 = cv2_module()
    for i in range(3):
        cv2.imwrite(str(tmp_path / f'{i}.png'), np.full((4, 6, 3), 50 * i, np.uint8))
    (tmp_path / 'list.txt').write_text('0.png 7\n1.png 8\n2.png 9\n')
    net = Net(f'layer {{ name: "d" type: "ImageData" top: "data" top: "label" image_data_param {{ '
              f'source: "{tmp_path}/list.txt" root_folder: "{tmp_path}/" batch_size: 2 }} }}', phase='test')
    out = net.forward()
    assert out['label'].tolist() == [7, 8] and tuple(out['data'].shape) == (2, 3, 4, 6)
    assert net.forward()['label'].tolist() == [9, 7]


def test_memory_data_cycles_through_the_arrays_and_reshapes_the_label():
    net = Net('layer { name: "m" type: "MemoryData" top: "data" top: "label" '
              'memory_data_param { batch_size: 2 channels: 1 height: 1 width: 2 } }', phase='test')
    assert net.blob_shapes['label'] == (2,)
    with pytest.raises(LayerError, match='set_input_arrays'):
        net.forward()
    data = np.arange(8, dtype=np.float32).reshape(4, 1, 1, 2)
    net.layers[0].reset(data, np.arange(4, dtype=np.float32).reshape(4, 1, 1, 1))
    assert net.forward()['label'].shape == (2, 1, 1, 1)
    assert net.forward()['label'].flatten().tolist() == [2, 3]
    data[0, 0, 0, 0] = 100                 # the arrays are kept, not copied, as in Caffe
    assert net.forward()['data'][0, 0, 0, 0] == 100


def test_pycaffe_set_input_arrays_checks_as_caffe_does(tmp_path):
    import pycaffe
    path = tmp_path / 'net.prototxt'
    path.write_text('layer { name: "m" type: "MemoryData" top: "data" top: "label" '
                    'memory_data_param { batch_size: 2 channels: 3 height: 4 width: 5 } }')
    net = pycaffe.Net(str(path), pycaffe.TEST)
    with pytest.raises(RuntimeError, match='data array has wrong number of channels'):
        net.set_input_arrays(np.zeros((2, 2, 4, 5), np.float32), np.zeros(2, np.float32))
    with pytest.raises(RuntimeError, match='data array must be float32'):
        net.set_input_arrays(np.zeros((2, 3, 4, 5)), np.zeros(2, np.float32))
    with pytest.raises(RuntimeError, match='multiple of batch size'):
        net.set_input_arrays(np.zeros((3, 3, 4, 5), np.float32), np.zeros(3, np.float32))
    net.set_input_arrays(np.ones((2, 3, 4, 5), np.float32), np.array([4, 5], np.float32))
    net.forward()
    assert net.blobs['label'].data.ravel().tolist() == [4, 5]
    other = tmp_path / 'input.prototxt'
    other.write_text('layer { name: "i" type: "Input" top: "x" input_param { shape { dim: 1 } } }')
    with pytest.raises(RuntimeError, match='first layer is a MemoryDataLayer'):
        pycaffe.Net(str(other), pycaffe.TEST).set_input_arrays(np.zeros((1, 1, 1, 1), np.float32),
                                                             np.zeros(1, np.float32))


def test_dummy_data_refills_random_tops_and_keeps_constant_ones():
    net = Net('layer { name: "d" type: "DummyData" top: "a" top: "b" dummy_data_param { '
              'data_filler { type: "constant" value: 4 } data_filler { type: "uniform" } '
              'num: 2 channels: 3 height: 1 width: 1 } }', phase='train')
    a1, b1 = [v.clone() for v in net.forward().values()]
    a2, b2 = net.forward().values()
    assert net.blob_shapes['a'] == (2, 3, 1, 1)
    assert (a1 == 4).all() and (a2 == 4).all() and not (b1 == b2).all()


def test_dummy_data_shapes_once_or_per_top_and_not_both_styles():
    with pytest.raises(LayerError, match='both shape and the legacy'):
        Net('layer { name: "d" type: "DummyData" top: "a" dummy_data_param { num: 1 channels: 1 height: 1 '
            'width: 1 shape { dim: 1 } } }')
    with pytest.raises(LayerError, match='give shape once or once per top'):
        Net('layer { name: "d" type: "DummyData" top: "a" top: "b" top: "c" dummy_data_param { '
            'shape { dim: 1 } shape { dim: 2 } } }')


def test_hdf5_output_writes_data_and_label_once(tmp_path):
    out = tmp_path / 'out.h5'
    net = Net(f'layer {{ name: "d" type: "DummyData" top: "x" top: "y" dummy_data_param {{ '
              f'data_filler {{ type: "constant" value: 2 }} shape {{ dim: 3 dim: 2 }} shape {{ dim: 3 }} }} }} '
              f'layer {{ name: "o" type: "HDF5Output" bottom: "x" bottom: "y" hdf5_output_param {{ '
              f'file_name: "{out}" }} }}', phase='test')
    net.forward()
    with h5py.File(out, 'r') as f:
        assert f['data'].shape == (3, 2, 1, 1) and f['label'].shape == (3, 1, 1, 1)
        assert (f['data'][()] == 2).all()
    with pytest.raises(LayerError, match='only once'):
        net.forward()


def test_v1_data_layers_move_their_transformation_fields():
    net = caffe_pb2.NetParameter()
    v1 = net.layers.add(name='d', type=caffe_pb2.V1LayerParameter.DATA, top=['data'])
    v1.data_param.source, v1.data_param.crop_size, v1.data_param.mirror = 'db', 5, True
    from runtime.state import upgrade_net
    lp = upgrade_net(net).layer[0]
    assert lp.transform_param.crop_size == 5 and lp.transform_param.mirror
    assert not lp.data_param.HasField('crop_size') and not lp.data_param.HasField('mirror')


# ------------------------------------------------------------------------------------------------ bad input

def test_a_missing_database_names_it(tmp_path):
    with pytest.raises(LayerError, match=f"{tmp_path}/nowhere: no such LMDB database"):
        data_net(tmp_path / 'nowhere')


def test_leveldb_without_plyvel_says_what_to_install(tmp_path):
    (tmp_path / 'ldb').mkdir()
    try:
        import plyvel  # noqa: F401
        pytest.skip('plyvel is installed here')
    except ImportError:
        pass
    with pytest.raises(LayerError, match='LEVELDB, which needs the `plyvel` package'):
        Net(f'layer {{ name: "d" type: "Data" top: "data" data_param {{ source: "{tmp_path}/ldb" batch_size: 1 }} }}')


def test_a_datum_of_another_shape_names_the_key(tmp_path):
    write_lmdb(tmp_path / 'db', [raw_datum(1, 2, 2), raw_datum(1, 3, 2)])
    net = data_net(tmp_path / 'db', batch=2)
    with pytest.raises(LayerError, match=r"db key '00000001': a record of shape \(1, 3, 2\) in a batch whose first "
                                         r"record has the shape \(1, 2, 2\)"):
        net.forward()


def test_an_image_list_line_without_a_label_names_the_line(tmp_path):
    (tmp_path / 'list.txt').write_text('a.png 1\nb.png\n')
    with pytest.raises(LayerError, match=r"list.txt line 2: expected \"<image path> <integer label>\", got 'b.png'"):
        Net(f'layer {{ name: "d" type: "ImageData" top: "data" top: "label" image_data_param {{ '
            f'source: "{tmp_path}/list.txt" batch_size: 1 }} }}')


def test_a_missing_image_names_the_file_and_the_list(tmp_path):
    (tmp_path / 'list.txt').write_text('gone.png 1\n')
    with pytest.raises(FileNotFoundError, match=r"list .*list.txt.*could not load the image '.*gone.png' "
                                                r"\(no such file\)"):
        Net(f'layer {{ name: "d" type: "ImageData" top: "data" top: "label" image_data_param {{ '
            f'source: "{tmp_path}/list.txt" root_folder: "{tmp_path}/" batch_size: 1 }} }}')


def test_an_h5_without_the_tops_dataset_names_file_and_dataset(tmp_path):
    with h5py.File(tmp_path / 'a.h5', 'w') as f:
        f['data'] = np.zeros((2, 3), np.float32)
    (tmp_path / 'list.txt').write_text(f'{tmp_path}/a.h5\n')
    with pytest.raises(LayerError, match=r"a.h5: no dataset 'label' for the top of layer 'd'"):
        Net(f'layer {{ name: "d" type: "HDF5Data" top: "data" top: "label" hdf5_data_param {{ '
            f'source: "{tmp_path}/list.txt" batch_size: 1 }} }}')


def test_hdf5_data_refuses_a_transform_param(tmp_path):
    with pytest.raises(LayerError, match='does not transform data'):
        Net(f'layer {{ name: "d" type: "HDF5Data" top: "data" transform_param {{ scale: 2 }} '
            f'hdf5_data_param {{ source: "{tmp_path}/list.txt" batch_size: 1 }} }}')


def test_crop_larger_than_the_records_is_an_error_at_build(tmp_path):
    write_lmdb(tmp_path / 'db', [raw_datum(1, 4, 4)])
    with pytest.raises(LayerError, match='crop_size 5 is larger than the 4x4 image'):
        data_net(tmp_path / 'db', transform='crop_size: 5')


def test_a_window_file_without_the_hash_names_the_file(tmp_path):
    (tmp_path / 'w.txt').write_text('0\nimg.png\n3 4 4\n0\n')
    with pytest.raises(LayerError, match=r'w.txt: expected "#" before an image index'):
        Net(f'layer {{ name: "d" type: "WindowData" top: "data" top: "label" transform_param {{ crop_size: 2 }} '
            f'window_data_param {{ source: "{tmp_path}/w.txt" batch_size: 1 }} }}')


def test_ordered_map_keeps_the_order_of_its_items():
    from runtime.caffe_data.prefetch import ordered_map

    def slow_square(x):
        time.sleep(0.001 * (x % 3))
        return x * x
    assert list(ordered_map(slow_square, range(20), ahead=5)) == [x * x for x in range(20)]


def test_bench_reports_a_rate_for_each_layer_type(tmp_path):
    from fcnapps.bench_data import bench_data_layers
    rows = bench_data_layers(str(tmp_path), n_images=3, height=12, width=10, batch=2, forwards=3)
    assert [r['layer'] for r in rows] == ['Data (raw LMDB)', 'Data (JPEG LMDB)', 'Data (PNG LMDB)',
                                          'ImageData (JPEG files)', 'HDF5Data']
    assert all(r['images_per_s'] > 0 for r in rows)


def test_several_training_processes_deal_the_records_round_robin(tmp_path, monkeypatch):
    import runtime.caffe_data.data as data_mod
    write_lmdb(tmp_path / 'db', [raw_datum(1, 1, 1, label=i) for i in range(5)])
    monkeypatch.setattr(data_mod, 'solver_share', lambda phase: (1, 2))
    net = data_net(tmp_path / 'db', batch=3)
    assert net.forward()['label'].tolist() == [1, 3, 0]     # the dealing goes on across the wrap
    assert net.forward()['label'].tolist() == [2, 4, 1]
    net.layers[0].close()


def test_data_rand_skip_is_ignored_with_a_warning_as_caffe_ignores_it(tmp_path):
    write_lmdb(tmp_path / 'db', [raw_datum(1, 1, 1, label=i) for i in range(3)])
    with pytest.warns(UserWarning, match='rand_skip is not read'):
        net = Net(f'layer {{ name: "d" type: "Data" top: "data" top: "label" data_param {{ source: "{tmp_path}/db" '
                  f'backend: LMDB batch_size: 2 rand_skip: 2 }} }}', phase='test')
    assert net.forward()['label'].tolist() == [0, 1]
