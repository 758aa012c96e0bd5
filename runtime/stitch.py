"""Shift-and-stitch (CVPR 2015 sec. 3.2): a dense output from f x f shifted inputs, interlaced.

A net whose output has stride f sees f^2 shifted copies of the input; output pixel (i, j) of the copy shifted by
(y, x) is the dense output at (f*i + y, f*j + x), so the interlaced map has stride 1 and each prediction sits at the
centre of its receptive field (the coarse map's coordinate offset b, as netspec.coord_map_from_to gives it, then
holds for the dense map too: dense (u, v) is centred on input (u + b, v + b)). With `step` s the copies are shifted
by multiples of s pixels, which densifies an output of stride f*s into one of stride s (e.g. FCN-32s's score_fr
stitched with f = 2, step = 16 has stride 16, as FCN-16s's fused scores); dense (u, v) is then centred on input
(s u + b, s v + b).

The shift: the copy for (y, x) is the input window starting y*s rows down and x*s columns right, all copies of one
size (H - (f-1)s) x (W - (f-1)s) so that every output has the same size and the stitched map is f times it. With
that choice the stitched map equals, exactly, the rarefied net's output (netspec.rarefy: the subsampling layer's
stride divided by f, every later filter dilated by f) when the net is translation-equivariant up to the subsampling
layer, i.e. (1) no layer before or at the strided layer pads (padding puts zeros where the shifted window has
pixels), and (2) no window of the strided layer hangs over the end of its input (Caffe's ceil-mode pooling makes
one otherwise), e.g. for a 3x3 unpadded conv and a 2x2 stride-2 pool, odd H and W. Elsewhere (FCN's pad-100 nets)
the two agree away from the border and differ within a receptive field of it: the paper's equivalence is an
interior one. Zero-filling shifts (moving the content right by x) were not chosen: the filled zeros are seen by
the first layer as image content, which breaks the equivalence even for unpadded nets.

    dense = shift_and_stitch(net, 2, {'data': image})        # (N, C, 2h, 2w) from four forwards
"""
import torch

__all__ = ['shift_and_stitch']


def _windows(t, shifts, margin):
    h, w = t.shape[2] - margin, t.shape[3] - margin
    return torch.cat([t[:, :, y:y + h, x:x + w] for y, x in shifts], dim=0)


def shift_and_stitch(net, f, inputs, blob=None, step=1, shifts_per_forward=1):
    """The dense map of `blob` (default: the net's only output) for the input blobs `inputs` ({name: N x C x H x W
    array or tensor}, all of one spatial size), assembled from f*f shifted forwards of `net` (a runtime.Net).

    step: the shift unit in input pixels (1: full densification of an output of stride f). shifts_per_forward > 1
    runs that many shifted copies as one batch (faster, more memory). Returns a tensor (N, C, f*h, f*w) where
    h x w is the net's output for an input window of (H - (f-1) step) x (W - (f-1) step).
    """
    f, step = int(f), int(step)
    if f < 1 or step < 1:
        raise ValueError(f'shift_and_stitch: the factor f and the step must be positive integers, not {f}, {step}')
    if blob is None:
        outs = net.outputs
        if len(outs) != 1:
            raise ValueError(f'shift_and_stitch: the net has the outputs {outs}; name the blob to stitch')
        blob = outs[0]
    if not inputs:
        raise ValueError('shift_and_stitch: give the input blobs to shift, e.g. {"data": image}')
    tensors = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in inputs.items()}
    sizes = {k: tuple(t.shape) for k, t in tensors.items()}
    if any(len(s) != 4 for s in sizes.values()) or len({s[0] for s in sizes.values()}) != 1 or \
            len({s[2:] for s in sizes.values()}) != 1:
        raise ValueError(f'shift_and_stitch: the inputs must be N x C x H x W blobs of one batch size and one '
                         f'spatial size, got {sizes}')
    n, (H, W) = next(iter(sizes.values()))[0], next(iter(sizes.values()))[2:]
    margin = (f - 1) * step
    if H <= margin or W <= margin:
        raise ValueError(f'shift_and_stitch: an input of {H} x {W} is too small for {f} shifts of {step} pixels')
    shifts = [(y * step, x * step) for y in range(f) for x in range(f)]
    per_forward = max(1, int(shifts_per_forward))
    dense = None
    with torch.no_grad():
        for start in range(0, len(shifts), per_forward):
            chunk = shifts[start:start + per_forward]
            net.forward(**{k: _windows(t, chunk, margin) for k, t in tensors.items()})
            out = net.blobs[blob]
            if out is None or out.dim() != 4:
                raise ValueError(f'shift_and_stitch: blob {blob!r} is not an N x C x h x w map')
            if dense is None:
                dense = out.new_empty((n, out.shape[1], f * out.shape[2], f * out.shape[3]))
            for j, (y, x) in enumerate(chunk):
                dense[:, :, y // step::f, x // step::f] = out[j * n:(j + 1) * n]
    return dense
