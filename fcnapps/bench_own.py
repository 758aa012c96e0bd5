"""Is the own-data loader ever the bottleneck? Images per second of datalayers.own.OwnSeg read through the
prefetching SegLoader (and without prefetch), against the time of one training iteration (forward + backward) of a
thin FCN on the same images, with the data fed as arrays and through the net's own OwnSegDataLayer.

    python -m fcnapps.bench_own [--form folders] [--size 375 500] [--width 0.0625] [--stride 8] [--device cpu]

    r = bench_own(folder, form='folders', n_train=16, size=(375, 500), width=1/16, stride=8)
    r['loader_images_per_s'], r['sync_images_per_s']    # samples delivered per second (prefetch 4 / 2 workers; none)
    r['iteration_s']                                     # median forward+backward, data fed as arrays
    r['layer_iteration_s']                               # median forward+backward with the net's data layer
    r['headroom']                                        # loader images/s x iteration s: > 1, the loader keeps up

A training iteration of FCN takes one image (batch 1, the reference's whole-image training), so the loader keeps
the net fed while it delivers more than 1 / iteration_s images per second.
"""
import argparse
import statistics
import time

import torch

from datalayers.loader import SegLoader
from datalayers.own import OwnSeg, load_description
from datalayers.synthetic import OWN_FORMS, make_own
from netspec.models import OWN_LAYER, fcn_vgg16, python_data
from runtime import Net
from runtime.state import with_inputs

__all__ = ['bench_own', 'main']


def _sync(device):
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def _loader_rate(dataset, samples, prefetch, workers):
    with SegLoader(dataset, prefetch=prefetch, workers=workers, limit=samples + 1) as loader:
        next(loader)   # the workers start and the first read is out of the way
        t = time.perf_counter()
        n = sum(1 for _ in loader)
        return n / (time.perf_counter() - t)


def bench_own(folder, form='folders', n_train=16, size=(375, 500), width=1 / 16, stride=8, samples=32,
              iterations=8, prefetch=4, workers=2, device='cpu', seed=0, log=print):
    """Write an own dataset of `form` under `folder` (datalayers.synthetic.make_own, images of sides drawn from
    `size`) and time its loader and a thin FCN's training iteration on it (see the module docstring). Returns a
    dict of the figures."""
    path = make_own(folder, form, n_train=n_train, n_val=2, size=size, seed=seed)
    desc = load_description(path)
    param = {'description': path, 'split': 'train', 'seed': 1337}
    dataset = OwnSeg(param)
    r = {'form': form, 'images': n_train, 'size': tuple(size), 'channels': desc.channels, 'width': width,
         'stride': stride, 'device': str(device), 'torch_threads': torch.get_num_threads(),
         'prefetch': prefetch, 'workers': workers}
    r['sync_images_per_s'] = _loader_rate(dataset, samples, 0, 1)
    r['loader_images_per_s'] = _loader_rate(dataset, samples, prefetch, workers)
    log(f'{form}: {n_train} images, sides {size[0]}..{size[1]}, {desc.channels} channel(s): loader '
        f'{r["loader_images_per_s"]:.1f} images/s (prefetch {prefetch}, {workers} workers), '
        f'{r["sync_images_per_s"]:.1f} images/s without prefetch')

    net_param = fcn_vgg16(python_data(OWN_LAYER.module, OWN_LAYER.layer, param), stride=stride,
                          num_classes=desc.num_classes, width=width)
    with SegLoader(dataset, prefetch=0, limit=iterations + 1) as loader:
        feeds = list(loader)
    shapes = {k: v.shape for k, v in feeds[0].items()}
    net = Net(with_inputs(net_param, shapes), phase='train', device=device)
    times = []
    for feed in feeds:
        _sync(device)
        t = time.perf_counter()
        net.forward(**feed)
        net.backward()
        _sync(device)
        times.append(time.perf_counter() - t)
    r['iteration_s'] = statistics.median(times[1:])   # the first one warms up
    del net
    net = Net(net_param, phase='train', device=device)
    times = []
    for _ in range(iterations + 1):
        _sync(device)
        t = time.perf_counter()
        net.forward()
        net.backward()
        _sync(device)
        times.append(time.perf_counter() - t)
    getattr(net.layers[0], 'close', lambda: None)()
    r['layer_iteration_s'] = statistics.median(times[1:])
    r['headroom'] = r['loader_images_per_s'] * r['iteration_s']
    log(f'FCN-{stride}s VGG16 at width {width:g} on {device} ({r["torch_threads"]} torch threads): one training '
        f'iteration {1000 * r["iteration_s"]:.1f} ms with the data fed as arrays, '
        f'{1000 * r["layer_iteration_s"]:.1f} ms through OwnSegDataLayer; the loader delivers '
        f'{r["headroom"]:.1f} images per iteration')
    return r


def main(argv=None):
    import tempfile
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], allow_abbrev=False)
    ap.add_argument('--form', choices=OWN_FORMS, default='folders')
    ap.add_argument('--images', type=int, default=16)
    ap.add_argument('--size', type=int, nargs=2, default=(375, 500), metavar=('MIN', 'MAX'))
    ap.add_argument('--width', type=float, default=1 / 16)
    ap.add_argument('--stride', type=int, default=8, choices=(32, 16, 8))
    ap.add_argument('--samples', type=int, default=32)
    ap.add_argument('--iterations', type=int, default=8)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--out', help='folder for the dataset (default: a temporary one)')
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return bench_own(args.out or tmp, args.form, args.images, tuple(args.size), args.width, args.stride,
                         args.samples, args.iterations, workers=args.workers, device=args.device)


if __name__ == '__main__':
    main()
