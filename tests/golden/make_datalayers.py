"""Golden fixtures for Caffe's data layers, made by the real Caffe (the oracle, built with LMDB and OpenCV):

    python tests/golden/make_datalayers.py            # project env: the inputs, then each case in the oracle
    python tests/golden/make_datalayers.py inputs     # only the inputs
    bash -c 'source /opt/caffe-oracle/env.sh && python tests/golden/make_datalayers.py caffe CASE'   # one case

1. The inputs, under datalayers/inputs/ (small, seeded, committed): seven 11x13 colour PNGs and their list file
   (`list.txt`, "name label" lines), the same images as JPEGs (quality 90) and their list (`jpglist.txt`), an LMDB of raw Datums of the same images (`raw_lmdb`), one of PNG-encoded
   Datums (`png_lmdb`, as convert_imageset --encoded writes them), one of float Datums (`float_lmdb`, 2x5x4),
   a BlobProto mean of the images (`mean.binaryproto`), three HDF5 files of 5, 3 and 4 rows with datasets `data`
   (rows of 2x3x4) and `label` (their list, with absolute paths, is written beside each case's net), and for the LeNet-style training a raw LMDB of
   twenty 1x14x14 images with labels 0..3 (`lenet_lmdb`).
2. Each case (CASES) runs in its own oracle process, so that glibc's rand() (HDF5Data's shuffle) starts at srand(1)
   as in a fresh Caffe: caffe.set_random_seed(SEED), the case's net (prototxt from `case_net`, paths to the
   inputs) in its phase, then ITERS forwards, keeping every top of every forward. `memory` hands arrays to a
   MemoryData layer through set_input_arrays. `dummy` keeps the statistics of each filler's top (Caffe's
   generator is not torch's, so the tests compare distributions). `lenet` trains a LeNet-style train_val whose
   TRAIN Data layer crops and mirrors, with SGD (random_seed SEED) for 10 steps, keeping the weights before the
   first step, the data and label batch and the loss of each step, and the weights after the last.
   Stored: datalayers/<case>.npz (`top:<blob>:<iteration>` arrays, or the statistics / losses / weights).

The oracle step never imports the project; the inputs step never imports caffe.
"""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'datalayers')
INPUTS = os.path.join(OUT, 'inputs')
ORACLE_ENV = '/opt/caffe-oracle/env.sh'
SEED = 1701
ITERS = 5
N_IMAGES, H, W = 7, 11, 13
LABELS = [3, 1, 4, 1, 5, 9, 2]
H5_ROWS = (5, 3, 4)


# ------------------------------------------------------------------------------------------------ the inputs

def image_arrays():
    """The seven HxWx3 uint8 images (BGR, as OpenCV stores them)."""
    rs = np.random.RandomState(16)
    return [rs.randint(0, 256, size=(H, W, 3)).astype(np.uint8) for _ in range(N_IMAGES)]


def lenet_arrays():
    """Twenty 14x14 one-channel images whose label (0..3) decides where a bright square lies, and the labels."""
    rs = np.random.RandomState(28)
    images, labels = [], []
    for i in range(20):
        label = i % 4
        img = rs.randint(0, 60, size=(14, 14)).astype(np.uint8)
        y, x = divmod(label, 2)
        img[1 + 6 * y:7 + 6 * y, 1 + 6 * x:7 + 6 * x] += 150
        images.append(img)
        labels.append(label)
    return images, labels


def h5_arrays():
    rs = np.random.RandomState(5)
    return [(rs.randn(n, 2, 3, 4).astype(np.float32), rs.randint(0, 10, size=n).astype(np.float32))
            for n in H5_ROWS]


def _write_lmdb(path, values):
    import lmdb
    import shutil
    if os.path.exists(path):
        shutil.rmtree(path)
    env = lmdb.open(path, map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, v in enumerate(values):
            txn.put(f'{i:08d}'.encode(), v)
    env.close()


def make_inputs():
    """Write the inputs (project env: netspec's Datum, OpenCV, lmdb, h5py)."""
    import cv2
    import h5py
    sys.path.insert(0, os.path.join(HERE, '..', '..'))
    from netspec import caffe_pb2
    os.makedirs(INPUTS, exist_ok=True)
    images = image_arrays()
    raw, png = [], []
    with open(os.path.join(INPUTS, 'list.txt'), 'w') as f:
        for i, (img, label) in enumerate(zip(images, LABELS)):
            name = f'img_{i}.png'
            ok, buf = cv2.imencode('.png', img)
            assert ok
            with open(os.path.join(INPUTS, name), 'wb') as g:
                g.write(buf.tobytes())
            f.write(f'{name} {label}\n')
            with open(os.path.join(INPUTS, f'img_{i}.jpg'), 'wb') as g:
                g.write(cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
            d = caffe_pb2.Datum(channels=3, height=H, width=W, label=label, data=img.transpose(2, 0, 1).tobytes())
            raw.append(d.SerializeToString())
            png.append(caffe_pb2.Datum(label=label, data=buf.tobytes(), encoded=True).SerializeToString())
    with open(os.path.join(INPUTS, 'jpglist.txt'), 'w') as f:
        f.write(''.join(f'img_{i}.jpg {label}\n' for i, label in enumerate(LABELS)))
    _write_lmdb(os.path.join(INPUTS, 'raw_lmdb'), raw)
    _write_lmdb(os.path.join(INPUTS, 'png_lmdb'), png)
    rs = np.random.RandomState(7)
    floats = [caffe_pb2.Datum(channels=2, height=5, width=4, label=i, float_data=rs.randn(40).astype(np.float32))
              .SerializeToString() for i in range(5)]
    _write_lmdb(os.path.join(INPUTS, 'float_lmdb'), floats)
    mean = np.mean([img.transpose(2, 0, 1).astype(np.float32) for img in images], axis=0)
    blob = caffe_pb2.BlobProto(num=1, channels=3, height=H, width=W)
    blob.data.extend(mean.ravel().tolist())
    with open(os.path.join(INPUTS, 'mean.binaryproto'), 'wb') as f:
        f.write(blob.SerializeToString())
    names = []
    for k, (data, label) in enumerate(h5_arrays()):
        name = f'part{k}.h5'
        with h5py.File(os.path.join(INPUTS, name), 'w') as f:
            f['data'] = data
            f['label'] = label
        names.append(name)
    limgs, llabels = lenet_arrays()
    _write_lmdb(os.path.join(INPUTS, 'lenet_lmdb'),
                [caffe_pb2.Datum(channels=1, height=14, width=14, label=l, data=img.tobytes()).SerializeToString()
                 for img, l in zip(limgs, llabels)])


# ------------------------------------------------------------------------------------------------ the cases

def _data(source, backend='LMDB', batch=3, transform='', tops=('data', 'label'), name='data', phase=None):
    tops = ''.join(f' top: "{t}"' for t in tops)
    inc = f' include {{ phase: {phase} }}' if phase else ''
    return (f'layer {{ name: "{name}" type: "Data"{tops}{inc} transform_param {{ {transform} }} '
            f'data_param {{ source: "{source}" backend: {backend} batch_size: {batch} }} }}\n')


def case_net(case, root, tmp):
    """(prototxt text, phase 'TRAIN'/'TEST', iterations) of a case, reading the inputs under `root`; files the
    case needs besides (HDF5Data's list of files) are written into the folder `tmp`."""
    j = lambda name: os.path.join(root, name)   # noqa: E731
    mean = f'mean_file: "{j("mean.binaryproto")}"'
    if case == 'raw_train':
        return _data(j('raw_lmdb'), transform=f'crop_size: 9 mirror: true scale: 0.5 {mean}'), 'TRAIN', ITERS
    if case == 'raw_test':
        return _data(j('raw_lmdb'), transform=f'crop_size: 9 mirror: true {mean}'), 'TEST', ITERS
    if case == 'png_train':
        return (_data(j('png_lmdb'), transform='crop_size: 8 mirror: true mean_value: 10 mean_value: 20 '
                      'mean_value: 30 scale: 0.25'), 'TRAIN', ITERS)
    if case == 'png_mean_mirror':
        return _data(j('png_lmdb'), batch=4, transform=f'mirror: true {mean}'), 'TRAIN', 3
    if case == 'png_gray_test':
        return _data(j('png_lmdb'), batch=2, transform='force_gray: true crop_size: 5 mean_value: 100',
                     tops=('data',)), 'TEST', 4
    if case == 'float_train':
        return _data(j('float_lmdb'), batch=2, transform='mirror: true scale: 2'), 'TRAIN', 4
    if case == 'image_train':
        return (f'layer {{ name: "data" type: "ImageData" top: "data" top: "label" '
                f'transform_param {{ crop_size: 7 mirror: true mean_value: 60 mean_value: 120 mean_value: 90 scale: 2 }} '
                f'image_data_param {{ source: "{j("list.txt")}" root_folder: "{root}/" batch_size: 3 shuffle: true }} }}\n',
                'TRAIN', ITERS)
    if case == 'image_test_resize':
        return (f'layer {{ name: "data" type: "ImageData" top: "data" top: "label" '
                f'transform_param {{ crop_size: 5 scale: 0.5 }} '
                f'image_data_param {{ source: "{j("list.txt")}" root_folder: "{root}/" batch_size: 2 rand_skip: 5 '
                f'new_height: 9 new_width: 10 is_color: false }} }}\n', 'TEST', ITERS)
    if case == 'image_resize_color':
        return (f'layer {{ name: "data" type: "ImageData" top: "data" top: "label" '
                f'image_data_param {{ source: "{j("list.txt")}" root_folder: "{root}/" batch_size: 3 '
                f'new_height: 17 new_width: 8 }} }}\n', 'TEST', 3)
    if case == 'jpeg_test':
        return (f'layer {{ name: "data" type: "ImageData" top: "data" top: "label" '
                f'transform_param {{ crop_size: 9 mean_value: 128 }} '
                f'image_data_param {{ source: "{j("jpglist.txt")}" root_folder: "{root}/" batch_size: 7 }} }}\n',
                'TEST', 1)
    if case in ('hdf5', 'hdf5_shuffle'):
        with open(os.path.join(tmp, 'h5list.txt'), 'w') as f:
            f.write(''.join(f'{j(f"part{k}.h5")}\n' for k in range(len(H5_ROWS))))
        shuffle = ' shuffle: true' if case == 'hdf5_shuffle' else ''
        return (f'layer {{ name: "data" type: "HDF5Data" top: "data" top: "label" '
                f'hdf5_data_param {{ source: "{os.path.join(tmp, "h5list.txt")}" batch_size: 5{shuffle} }} }}\n', 'TRAIN', 6)
    if case in ('window_warp', 'window_square'):
        with open(os.path.join(tmp, 'windows.txt'), 'w') as f:
            f.write(WINDOWS.format(root=root))
        if case == 'window_warp':
            return (f'layer {{ name: "data" type: "WindowData" top: "data" top: "label" '
                    f'transform_param {{ crop_size: 8 mirror: true mean_value: 100 mean_value: 50 mean_value: 20 }} '
                    f'window_data_param {{ source: "{os.path.join(tmp, "windows.txt")}" batch_size: 8 '
                    f'context_pad: 2 scale: 0.5 fg_fraction: 0.25 }} }}\n', 'TRAIN', 4)
        return (f'layer {{ name: "data" type: "WindowData" top: "data" top: "label" '
                f'transform_param {{ crop_size: 8 mirror: true {mean} }} '
                f'window_data_param {{ source: "{os.path.join(tmp, "windows.txt")}" batch_size: 6 '
                f'crop_mode: "square" cache_images: true fg_threshold: 0.6 bg_threshold: 0.3 }} }}\n', 'TEST', 3)
    if case == 'memory':
        return ('layer { name: "data" type: "MemoryData" top: "data" top: "label" '
                'memory_data_param { batch_size: 2 channels: 3 height: 4 width: 5 } }\n', 'TEST', 4)
    if case == 'dummy':
        fillers = DUMMY_FILLERS
        tops = ''.join(f' top: "t{i}"' for i in range(len(fillers)))
        return (f'layer {{ name: "dummy" type: "DummyData"{tops} dummy_data_param {{ '
                + ''.join(f'data_filler {{ {f} }} ' for f in fillers)
                + ''.join(f'shape {{ dim: {s[0]} dim: {s[1]} dim: {s[2]} dim: {s[3]} }} ' for s in DUMMY_SHAPES)
                + '} }\n', 'TRAIN', 2)
    if case == 'lenet':
        return lenet_net(root), 'TRAIN', 10
    raise KeyError(case)


# R-CNN's window file: "# index", path, channels height width, the window count, "label overlap x1 y1 x2 y2" lines
WINDOWS = """# 0
{root}/img_0.png
3 11 13
4
1 0.8 2 1 9 8
0 0.1 0 0 5 5
2 0.65 3 3 12 10
0 0.4 1 2 4 9
# 1
{root}/img_1.png
3 11 13
3
3 0.9 0 0 12 10
0 0.2 6 5 11 9
1 0.55 4 0 8 6
# 2
{root}/img_2.png
3 11 13
2
0 0 2 2 3 3
2 0.7 5 4 10 10
"""

DUMMY_FILLERS = ('type: "constant" value: 2.5', 'type: "uniform" min: -1 max: 3',
                 'type: "gaussian" mean: 1 std: 2', 'type: "gaussian" std: 1 sparse: 10',
                 'type: "positive_unitball"', 'type: "xavier"', 'type: "xavier" variance_norm: AVERAGE',
                 'type: "msra"', 'type: "msra" variance_norm: FAN_OUT', 'type: "bilinear"')
DUMMY_SHAPES = ((40, 50, 3, 3), (200, 100, 2, 2), (200, 100, 2, 2), (40, 100, 3, 3), (400, 10, 5, 5),
                (64, 50, 3, 3), (64, 50, 3, 3), (64, 50, 3, 3), (64, 50, 3, 3), (3, 3, 8, 8))


def lenet_net(root):
    src = os.path.join(root, 'lenet_lmdb')
    return (_data(src, batch=4, transform='crop_size: 12 mirror: true scale: 0.00390625', name='train',
                  phase='TRAIN')
            + _data(src, batch=5, transform='crop_size: 12 scale: 0.00390625', name='test', phase='TEST')
            + '''layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  param { lr_mult: 1 } param { lr_mult: 2 }
  convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool1" top: "ip1"
  param { lr_mult: 1 } param { lr_mult: 2 }
  inner_product_param { num_output: 8 weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  param { lr_mult: 1 } param { lr_mult: 2 }
  inner_product_param { num_output: 4 weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
''')


LENET_SOLVER = '''net: "{net}"
base_lr: 0.05
momentum: 0.9
weight_decay: 0.0005
lr_policy: "inv"
gamma: 0.0001
power: 0.75
max_iter: 10
display: 0
test_iter: 1
test_interval: 1000
test_initialization: false
snapshot_prefix: "{prefix}"
random_seed: {seed}
solver_mode: CPU
'''

CASES = ('raw_train', 'raw_test', 'png_train', 'png_mean_mirror', 'png_gray_test', 'float_train', 'image_train',
         'image_test_resize', 'image_resize_color', 'jpeg_test', 'window_warp', 'window_square', 'hdf5', 'hdf5_shuffle', 'memory', 'dummy', 'lenet')


def memory_arrays():
    rs = np.random.RandomState(3)
    return rs.randn(6, 3, 4, 5).astype(np.float32), np.arange(6, dtype=np.float32) + 0.5


# ------------------------------------------------------------------------------------------------ the oracle step

def run_case(case):
    import tempfile
    import caffe
    caffe.set_mode_cpu()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        text, phase, iters = case_net(case, INPUTS, tmp)
        path = os.path.join(tmp, 'net.prototxt')
        with open(path, 'w') as f:
            f.write(f'name: "{case}"\n' + text)
        if case == 'lenet':
            sp = os.path.join(tmp, 'solver.prototxt')
            with open(sp, 'w') as f:
                f.write(LENET_SOLVER.format(net=path, prefix=os.path.join(tmp, 'snap'), seed=SEED))
            solver = caffe.SGDSolver(sp)
            net = solver.net
            for name, blobs in net.params.items():
                for i, b in enumerate(blobs):
                    out[f'init:{name}:{i}'] = b.data.copy()
            losses = []
            for it in range(iters):
                solver.step(1)
                losses.append(float(net.blobs['loss'].data))
                out[f'top:label:{it}'] = net.blobs['label'].data.copy()
                out[f'top:data:{it}'] = net.blobs['data'].data.copy()
            out['losses'] = np.array(losses)
            for name, blobs in net.params.items():
                for i, b in enumerate(blobs):
                    out[f'final:{name}:{i}'] = b.data.copy()
        else:
            caffe.set_random_seed(SEED)
            net = caffe.Net(path, getattr(caffe, phase))
            if case == 'memory':
                data, labels = memory_arrays()
                net.set_input_arrays(data, labels)
            for it in range(iters):
                net.forward()
                for name in net.top_names[net._layer_names[0]]:
                    a = net.blobs[name].data
                    if case == 'dummy':
                        out[f'stats:{name}:{it}'] = np.array([a.mean(), a.std(), a.min(), a.max(),
                                                              (a == 0).mean()], np.float64)
                        if name in ('t0', 't9'):
                            out[f'top:{name}:{it}'] = a.copy()
                    else:
                        out[f'top:{name}:{it}'] = a.copy()
    np.savez_compressed(os.path.join(OUT, f'{case}.npz'), **out)
    print(case, len(out), 'arrays')


def main(argv):
    if argv[:1] == ['caffe']:
        for case in argv[1:] or CASES:
            run_case(case)
        return
    make_inputs()
    if argv[:1] == ['inputs']:
        return
    cases = argv or CASES
    for case in cases:
        subprocess.run(['bash', '-c', f'source {ORACLE_ENV} && python {os.path.abspath(__file__)} caffe {case}'],
                       check=True, cwd=HERE)


if __name__ == '__main__':
    main(sys.argv[1:])
