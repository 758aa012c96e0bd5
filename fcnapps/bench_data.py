"""How fast Caffe's data layers deliver images: each type over a synthetic set of H x W colour images, as a net of
that one layer (batch_size images per forward, mirror and mean_value, Caffe's default prefetch of 4 batches).

    rows = bench_data_layers(folder, n_images=32, height=375, width=500, batch=1, forwards=64)
    # [{'layer': 'Data (raw LMDB)', 'images_per_s': ..., 'sync_images_per_s': ...}, ...]

`images_per_s`: what forward() delivers with the worker threads running (the main thread does nothing else, so the
workers' speed bounds it; JPEG and PNG records are decoded on prefetch.DECODE_WORKERS threads); `sync_images_per_s`: the same layer with prefetch 0 (reading, decoding and
transforming in forward, no thread). A training iteration takes the next batch from the queue, so it waits for
data only when the worker is slower than the iteration.
"""
import os
import time

import numpy as np


def synthetic_images(n, height, width, seed=0):
    """n smooth colour images with noise (compressible as photographs are), uint8 HxWx3 BGR."""
    rs = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for _ in range(n):
        f = rs.uniform(0.005, 0.05, size=3)
        base = np.stack([127 + 100 * np.sin(f[c] * xx + f[(c + 1) % 3] * yy + c) for c in range(3)], -1)
        out.append(np.clip(base + rs.normal(0, 12, base.shape), 0, 255).astype(np.uint8))
    return out


def write_inputs(folder, n, height, width):
    """The same images as a raw LMDB, a JPEG-encoded LMDB, a PNG-encoded LMDB, a JPEG list and HDF5 files."""
    from runtime.caffe_data.images import cv2_module
    cv2 = cv2_module()
    import h5py
    import lmdb
    from netspec import caffe_pb2
    os.makedirs(folder, exist_ok=True)
    images = synthetic_images(n, height, width)
    dbs = {'raw': [], 'jpg': [], 'png': []}
    with open(os.path.join(folder, 'list.txt'), 'w') as f:
        for i, img in enumerate(images):
            jpg = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
            png = cv2.imencode('.png', img)[1].tobytes()
            with open(os.path.join(folder, f'{i}.jpg'), 'wb') as g:
                g.write(jpg)
            f.write(f'{i}.jpg {i % 21}\n')
            dbs['raw'].append(caffe_pb2.Datum(channels=3, height=height, width=width, label=i % 21,
                                              data=img.transpose(2, 0, 1).tobytes()))
            dbs['jpg'].append(caffe_pb2.Datum(encoded=True, data=jpg, label=i % 21))
            dbs['png'].append(caffe_pb2.Datum(encoded=True, data=png, label=i % 21))
    for name, datums in dbs.items():
        env = lmdb.open(os.path.join(folder, f'{name}_lmdb'), map_size=1 << 31)
        with env.begin(write=True) as txn:
            for i, d in enumerate(datums):
                txn.put(f'{i:08d}'.encode(), d.SerializeToString())
        env.close()
    arr = np.stack([img.transpose(2, 0, 1) for img in images]).astype(np.float32)
    with h5py.File(os.path.join(folder, 'data.h5'), 'w') as f:
        f['data'] = arr
        f['label'] = (np.arange(n) % 21).astype(np.float32)
    with open(os.path.join(folder, 'h5list.txt'), 'w') as f:
        f.write(os.path.join(folder, 'data.h5') + '\n')


def _layers(folder, batch, prefetch):
    tp = 'transform_param { mirror: true mean_value: 104 mean_value: 117 mean_value: 123 }'
    pf = f' prefetch: {prefetch}'
    j = lambda name: os.path.join(folder, name)   # noqa: E731
    for label, db in (('Data (raw LMDB)', 'raw'), ('Data (JPEG LMDB)', 'jpg'), ('Data (PNG LMDB)', 'png')):
        yield label, (f'layer {{ name: "data" type: "Data" top: "data" top: "label" {tp} data_param {{ '
                      f'source: "{j(db + "_lmdb")}" backend: LMDB batch_size: {batch}{pf} }} }}')
    yield 'ImageData (JPEG files)', (f'layer {{ name: "data" type: "ImageData" top: "data" top: "label" {tp} '
                                     f'image_data_param {{ source: "{j("list.txt")}" root_folder: "{folder}/" '
                                     f'batch_size: {batch} }} data_param {{{pf} }} }}')
    if prefetch:       # HDF5Data has no prefetch thread in Caffe
        yield 'HDF5Data', (f'layer {{ name: "data" type: "HDF5Data" top: "data" top: "label" hdf5_data_param {{ '
                           f'source: "{j("h5list.txt")}" batch_size: {batch} }} }}')


def _rate(text, batch, forwards):
    from runtime import Net
    net = Net(text, phase='train')
    net.forward()
    t = time.perf_counter()
    for _ in range(forwards):
        net.forward()
    dt = time.perf_counter() - t
    getattr(net.layers[0], 'close', lambda: None)()
    return batch * forwards / dt


def bench_data_layers(folder, n_images=32, height=375, width=500, batch=1, forwards=64):
    """Rows {'layer', 'images_per_s', 'sync_images_per_s'} for each data layer type (see the module docstring)."""
    write_inputs(folder, n_images, height, width)
    sync = {label: _rate(text, batch, forwards) for label, text in _layers(folder, batch, 0)}
    rows = []
    for label, text in _layers(folder, batch, 4):
        rows.append({'layer': label, 'images_per_s': _rate(text, batch, forwards),
                     'sync_images_per_s': sync.get(label)})
    return rows
