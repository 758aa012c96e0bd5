"""Inference on image files (the logic behind tools/infer.py, after the reference infer.py): preprocess as the
model's data layer does, run a deploy net with its Input reshaped to the image, argmax the score blob, write
label PNGs with the VOC palette and a side-by-side picture (image | overlay | labels).

A folder without deploy.prototxt gets one derived from its eval net: the Python data layer becomes an Input
layer for its image tops (not the label tops), and every layer that needs a label is dropped."""
import os
import sys

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

import datalayers
from datalayers.datasets import NYUDSeg, load_depth
from datalayers.io import load_bgr
from datalayers.palette import color_seg, make_palette, save_image, save_indexed_png, vis_seg
from netspec import caffe_pb2, read_net
from netspec.models import INPUT_CHANNELS, LABEL_TOPS, VOC
from runtime import Net

from scoring import dataset_family, heads
from .report import eval_prototxt, weights_mismatch

__all__ = ['LABEL_TOPS', 'LAYOUTS', 'folder_family', 'deploy_net', 'preprocess', 'side_by_side', 'legend', 'infer']



def folder_family(folder):
    """The dataset family whose preprocessing a model folder's images get: the folder record's (by name), else
    that of its eval net's data layer, else VOC (the reference infer.py's)."""
    family = dataset_family(folder=folder)
    if family is None:
        try:
            family = dataset_family(read_net(eval_prototxt(folder)))
        except FileNotFoundError:
            pass
    return family or VOC


def deploy_net(folder):
    """(deploy NetParameter, [score blob names], {input top: kind}) for a model folder."""
    path = os.path.join(folder, 'deploy.prototxt')
    if os.path.isfile(path):
        net = read_net(path)
        inputs = [t for l in net.layer if l.type == 'Input' for t in l.top]
        scores = ['score'] if any('score' in l.top for l in net.layer) else [net.layer[-1].top[0]]
        return net, scores, {t: ('color' if t in ('data', 'color') else t) for t in inputs}
    src = read_net(eval_prototxt(folder))
    scores = [h[0] for h in heads(src)]
    dl = datalayers.data_layers(src)
    if len(dl) != 1:
        raise ValueError(f'{folder}: no deploy.prototxt and no single reference data layer to derive one from')
    data_layer = dl[0]
    params = datalayers.parse_param_str(data_layer.python_param.param_str)
    kinds = {}
    for t, name in zip(data_layer.top, params.get('tops', data_layer.top)):
        if name not in LABEL_TOPS:
            kinds[t] = 'color' if name in ('data', 'color') else name
    net = caffe_pb2.NetParameter()
    net.CopyFrom(src)
    del net.layer[:]
    removed = {t for t in data_layer.top if t not in kinds}
    for layer in src.layer:
        if layer is data_layer or layer.name == data_layer.name:
            inp = net.layer.add(name='input', type='Input')
            inp.top.extend(kinds)
            for t in kinds:
                inp.input_param.shape.add().dim.extend([1, INPUT_CHANNELS.get(kinds[t], 3), 1, 1])
            continue
        if layer.type in ('SoftmaxWithLoss', 'Accuracy') or removed.intersection(layer.bottom):
            removed.update(layer.top)
            continue
        net.layer.add().CopyFrom(layer)
    return net, [s for s in scores if s not in removed], kinds


#: what a missing or unreadable input file was expected to be, by input kind
LAYOUTS = {'color': '  an image file that PIL reads (JPEG, PNG, ...): each IMAGE given',
           'depth': '  a single-channel depth PNG (NYUDv2 layout): one per IMAGE, in the same order (--depth)',
           'hha': '  a 3-channel HHA PNG (NYUDv2 layout): one per IMAGE, in the same order (--hha)'}


def preprocess(path, kind, family):
    """One input image as its data layer would deliver it: float32 1 x C x H x W. family: a DatasetFamily, whose
    mean a colour image gets."""
    if kind == 'depth':
        arr = load_depth(path, LAYOUTS['depth'])
    elif kind == 'hha':
        arr = load_bgr(path, NYUDSeg.mean_hha, LAYOUTS['hha'], what='HHA image', reverse=False)
    else:
        arr = load_bgr(path, family.mean, LAYOUTS['color'])
    return np.ascontiguousarray(arr[np.newaxis], dtype=np.float32)


def side_by_side(rgb, seg, palette):
    """Image | image with labels blended (vis_seg) | label colours, as one uint8 picture."""
    return np.concatenate([rgb, vis_seg(rgb, seg, palette), color_seg(seg, palette)], axis=1)


def legend(classes, palette, width):
    """A white strip of swatches (the palette's colour of each class id) with the class names, wrapped to
    `width` pixels: uint8 h x width x 3."""
    from PIL import ImageDraw, ImageFont
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new('RGB', (1, 1)))
    entries = [(k, f'{k} {name}') for k, name in enumerate(classes)]
    rows, x = 1, 0
    for _, text in entries:
        w = 14 + int(measure.textlength(text, font=font)) + 10
        if x and x + w > width:
            rows, x = rows + 1, 0
        x += w
    im = Image.new('RGB', (width, 16 * rows + 2), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    x, y = 0, 2
    for k, text in entries:
        w = 14 + int(draw.textlength(text, font=font)) + 10
        if x and x + w > width:
            x, y = 0, y + 16
        draw.rectangle((x, y, x + 10, y + 10), fill=tuple(int(v) for v in palette[k % len(palette)]),
                       outline=(0, 0, 0))
        draw.text((x + 14, y), text, fill=(0, 0, 0), font=font)
        x += w
    return np.asarray(im)


def infer(folder, weights, images, out_dir, extra=None, device='cpu', net=None, progress=True, warn=None,
          read_input=None, read_rgb=None, palette=None, classes=None):
    """Label each image; returns [{image, outputs: {score blob: (png path, vis path)}, shape}].

    extra: {input kind ('depth', 'hha'): [paths aligned with images]} for NYUD nets that need them. Weights that
    do not fit the net in full are named to warn(message) before the first image.
    A user's dataset (fcnapps.owndata) gives its own readers and colours: read_input(path) -> float32 1 x C x H x W
    (the image as its data layer delivers it), read_rgb(path) -> uint8 H x W x 3 (what the pictures show),
    palette (class id -> RGB; default the VOC palette) and classes (names: a legend under each picture); a folder
    whose eval net reads a user's dataset (OwnSegDataLayer) gets them from its description by default."""
    extra = extra or {}
    if read_input is None:
        from .owndata import own_readers
        own = own_readers(folder)
        if own is not None:
            read_input, read_rgb, palette, classes = own
    net_param, score_blobs, kinds = deploy_net(folder)
    need = sorted(set(kinds.values()) - {'color'} - set(extra))
    if need:
        raise ValueError(f'{folder}: the net also needs {", ".join(need)} images for each input image '
                         f'(pass them with --{" / --".join(need)})')
    for k, paths in extra.items():
        if len(paths) != len(images):
            raise ValueError(f'{len(paths)} {k} images given for {len(images)} images')
    if net is None:
        deploy = os.path.join(folder, 'deploy.prototxt')
        source = deploy if os.path.isfile(deploy) else f'{eval_prototxt(folder)} (as a deploy net)'
        net = Net(net_param, weights=weights, phase='test', device=device, source=source)
        mismatch = weights_mismatch(net, weights)
        if mismatch and warn:
            warn(mismatch)
    family = folder_family(folder)
    palette = make_palette(256) if palette is None else np.asarray(palette, dtype=np.uint8)
    os.makedirs(out_dir, exist_ok=True)
    results = []
    items = list(enumerate(images))
    if progress:
        items = tqdm(items, desc='infer', unit='img', file=sys.stderr)
    for i, path in items:
        inputs = {t: (read_input(path) if read_input and kind == 'color' else
                      preprocess(path if kind == 'color' else extra[kind][i], kind, family))
                  for t, kind in kinds.items()}
        with torch.no_grad():
            net.forward(**inputs)
        rgb = read_rgb(path) if read_rgb else np.asarray(Image.open(path).convert('RGB'))
        stem = os.path.splitext(os.path.basename(path))[0]
        outs = {}
        for s in score_blobs:
            seg = net.blobs[s].detach()[0].argmax(0).cpu().numpy().astype(np.uint8)
            suffix = '' if len(score_blobs) == 1 else '_' + s
            png = os.path.join(out_dir, f'{stem}{suffix}.png')
            vis = os.path.join(out_dir, f'{stem}{suffix}_vis.png')
            save_indexed_png(png, seg, palette)
            picture = side_by_side(rgb, seg, palette)
            if classes:
                picture = np.concatenate([picture, legend(classes, palette, picture.shape[1])], axis=0)
            save_image(Image.fromarray(picture), vis, 'picture')
            outs[s] = (png, vis)
        results.append({'image': path, 'shape': rgb.shape[:2], 'outputs': outs})
    return results
