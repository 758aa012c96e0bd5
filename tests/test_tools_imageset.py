"""convert_imageset and compute_image_mean against the real Caffe's tools (tests/golden/make_imageset.py): the same
Datum bytes under the same keys, the same mean.binaryproto, the same channel means."""
import json
import os
import re

import numpy as np
import pytest

from golden import make_imageset
from tools import _cli

pytestmark = pytest.mark.usefixtures('solvers_log')
pytest.importorskip('cv2', reason='convert_imageset reads images with OpenCV (opencv-python-headless)')

GOLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden', 'imageset')
IMAGES = os.path.join(GOLD, 'images')
CASES = make_imageset.CASES     # the runs the oracle made the fixtures with


def convert(tmp_path, case, capsys=None):
    from tools.convert_imageset import main
    db = str(tmp_path / case)
    status = main(CASES[case] + [IMAGES + '/', os.path.join(IMAGES, 'list.txt'), db])
    return status, db


def records(db):
    import lmdb
    env = lmdb.open(db, readonly=True, lock=False)
    with env.begin() as txn:
        items = [(k.decode(), v) for k, v in txn.cursor()]
    env.close()
    return items


def golden(case):
    with open(os.path.join(GOLD, case + '.json')) as f:
        return [(k, bytes.fromhex(v)) for k, v in json.load(f)]


@pytest.mark.parametrize('case', ['raw', 'resized', 'gray', 'encoded'])
def test_convert_imageset_writes_the_real_caffes_records(tmp_path, case):
    status, db = convert(tmp_path, case)
    assert status == 0
    assert records(db) == golden(case)


def test_convert_imageset_reencodes_as_caffe_does(tmp_path):
    """--encode_type png after a resize: cv::imencode's bytes (libpng's version may compress otherwise, so the
    decoded pixels and the Datum's fields are what must agree)."""
    import cv2
    from netspec import caffe_pb2
    status, db = convert(tmp_path, 'encoded_png')
    ours, gold = records(db), golden('encoded_png')
    assert [k for k, _ in ours] == [k for k, _ in gold]
    for (_, a), (_, b) in zip(ours, gold):
        da, db_ = caffe_pb2.Datum.FromString(a), caffe_pb2.Datum.FromString(b)
        assert (da.encoded, da.label, da.channels, da.height, da.width) == \
            (db_.encoded, db_.label, db_.channels, db_.height, db_.width)
        np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(da.data, np.uint8), cv2.IMREAD_UNCHANGED),
                                      cv2.imdecode(np.frombuffer(db_.data, np.uint8), cv2.IMREAD_UNCHANGED))


def test_convert_imageset_lists_keys_labels_and_skips_unreadable_images(tmp_path, caplog):
    from netspec import caffe_pb2
    status, db = convert(tmp_path, 'raw')
    items = records(db)
    assert [k for k, _ in items] == ['00000000_a.png', '00000001_b.PNG', '00000002_gray.png', '00000003_c.jpg',
                                     '00000004_pal.png']                   # missing.png skipped
    assert [caffe_pb2.Datum.FromString(v).label for _, v in items] == [0, 1, 2, 3, 12]
    assert any('missing.png' in r.getMessage() for r in caplog.records)


def test_convert_imageset_refuses_an_existing_database_and_a_size_mismatch(tmp_path, capsys):
    from tools.convert_imageset import main
    (tmp_path / 'db').mkdir()
    assert main([IMAGES + '/', os.path.join(IMAGES, 'list.txt'), str(tmp_path / 'db')]) == _cli.BAD_INPUT
    assert f'mkdir {tmp_path / "db"} failed' in capsys.readouterr().err
    assert main(['--check_size', IMAGES + '/', os.path.join(IMAGES, 'list.txt'), str(tmp_path / 'x')]) == \
        _cli.BAD_INPUT
    assert 'Incorrect data field size' in capsys.readouterr().err.splitlines()[-1]


def test_raw_records_are_bgr_pixels_in_channel_row_column_order(tmp_path):
    from PIL import Image
    from netspec import caffe_pb2
    _, db = convert(tmp_path, 'raw')
    d = caffe_pb2.Datum.FromString(records(db)[0][1])
    rgb = np.asarray(Image.open(os.path.join(IMAGES, 'a.png')))
    assert (d.channels, d.height, d.width, d.encoded) == (3, 7, 9, False)
    np.testing.assert_array_equal(np.frombuffer(d.data, np.uint8).reshape(3, 7, 9), rgb[..., ::-1].transpose(2, 0, 1))


@pytest.mark.parametrize('case', ['resized', 'gray', 'encoded_png'])
def test_compute_image_mean_gives_the_real_caffes_binaryproto(tmp_path, capsys, case):
    from tools.compute_image_mean import main
    _, db = convert(tmp_path, case)
    out = tmp_path / 'mean.binaryproto'
    assert main([db, str(out)]) == 0
    assert out.read_bytes() == open(os.path.join(GOLD, case + '.binaryproto'), 'rb').read()
    ours = [l.split('] ', 1)[1] for l in capsys.readouterr().err.splitlines() if 'mean_value' in l]
    with open(os.path.join(GOLD, case + '.log')) as f:
        gold = [l.split('] ', 1)[1] for l in f.read().splitlines() if 'mean_value' in l]
    assert ours == gold and len(gold) == (1 if case == 'gray' else 3)


def test_compute_image_mean_refuses_datums_of_different_sizes(tmp_path, capsys):
    from tools.compute_image_mean import main
    _, db = convert(tmp_path, 'raw')
    assert main([db]) == _cli.BAD_INPUT
    assert re.search(r'Incorrect data field size \d+ at key 00000002_gray.png', capsys.readouterr().err)


def test_the_mean_reads_back_as_caffes_io_reads_it(tmp_path):
    from runtime.caffe_data.datum import read_mean as read_blobproto
    from tools.compute_image_mean import main
    _, db = convert(tmp_path, 'resized')
    main([db, str(tmp_path / 'm.binaryproto')])
    m = read_blobproto(str(tmp_path / 'm.binaryproto'))
    assert m.shape == (1, 3, 5, 6) and m.dtype == np.float32
