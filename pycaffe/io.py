"""caffe.io: BlobProto/Datum <-> ndarray, the input Transformer, and image loading/resizing, as pycaffe's io.py.

Images are read with Pillow instead of scikit-image (not a dependency here): load_image gives what
skimage.img_as_float(skimage.io.imread(...)) gives (grayscale by skimage's rgb2gray weights); resize_image does
what skimage.transform.resize(order, mode='constant') does (Gaussian anti-aliasing when shrinking, grid-mode
zoom, output clipped to the input range), through scipy.ndimage.
"""
import numpy as np
from PIL import Image
from scipy import ndimage

from netspec import caffe_pb2


# ------------------------------------------------------------------------------------------------ protos

def blobproto_to_array(blob, return_diff=False):
    """A BlobProto's data (or diff) as an array of its shape (the legacy 4-D shape where one is given)."""
    data = np.array(blob.diff) if return_diff else np.array(blob.data)
    if blob.HasField('num') or blob.HasField('channels') or blob.HasField('height') or blob.HasField('width'):
        return data.reshape(blob.num, blob.channels, blob.height, blob.width)
    return data.reshape(blob.shape.dim)


def array_to_blobproto(arr, diff=None):
    """An N-d array (and optionally its diff, same shape) as a BlobProto with `shape`."""
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend(arr.shape)
    blob.data.extend(arr.astype(float).flat)
    if diff is not None:
        blob.diff.extend(diff.astype(float).flat)
    return blob


def arraylist_to_blobprotovector_str(arraylist):
    """Arrays as a serialized BlobProtoVector."""
    vec = caffe_pb2.BlobProtoVector()
    vec.blobs.extend([array_to_blobproto(arr) for arr in arraylist])
    return vec.SerializeToString()


def blobprotovector_str_to_arraylist(s):
    """A serialized BlobProtoVector as a list of arrays."""
    vec = caffe_pb2.BlobProtoVector()
    vec.ParseFromString(s)
    return [blobproto_to_array(blob) for blob in vec.blobs]


def array_to_datum(arr, label=None):
    """A C x H x W array as a Datum: uint8 as bytes in `data`, anything else as `float_data`."""
    if arr.ndim != 3:
        raise ValueError('Incorrect array shape.')
    datum = caffe_pb2.Datum()
    datum.channels, datum.height, datum.width = arr.shape
    if arr.dtype == np.uint8:
        datum.data = arr.tobytes()
    else:
        datum.float_data.extend(arr.astype(float).flat)
    if label is not None:
        datum.label = label
    return datum


def datum_to_array(datum):
    """A Datum's values as a C x H x W array (uint8 from `data`, float from `float_data`); the label is not
    returned."""
    if len(datum.data):
        return np.frombuffer(datum.data, dtype=np.uint8).reshape(datum.channels, datum.height, datum.width)
    return np.array(datum.float_data).astype(float).reshape(datum.channels, datum.height, datum.width)


# ------------------------------------------------------------------------------------------------ preprocessing

class Transformer:
    """Format input for a Net: {input name: blob shape}; per input an optional transpose, channel swap, raw
    scale, mean and input scale, applied in that order by preprocess and undone by deprocess."""

    def __init__(self, inputs):
        self.inputs = inputs
        self.transpose = {}
        self.channel_swap = {}
        self.raw_scale = {}
        self.mean = {}
        self.input_scale = {}

    def __check_input(self, in_):
        if in_ not in self.inputs:
            raise Exception('{} is not one of the net inputs: {}'.format(in_, self.inputs))

    def preprocess(self, in_, data):
        """(H' x W' x K) array -> (K x H x W) float32 for the net: resize to the input's H x W, transpose,
        channel swap, raw scale, subtract the mean, input scale."""
        self.__check_input(in_)
        caffe_in = data.astype(np.float32, copy=False)
        transpose = self.transpose.get(in_)
        channel_swap = self.channel_swap.get(in_)
        raw_scale = self.raw_scale.get(in_)
        mean = self.mean.get(in_)
        input_scale = self.input_scale.get(in_)
        in_dims = self.inputs[in_][2:]
        if caffe_in.shape[:2] != in_dims:
            caffe_in = resize_image(caffe_in, in_dims)
        if transpose is not None:
            caffe_in = caffe_in.transpose(transpose)
        if channel_swap is not None:
            caffe_in = caffe_in[channel_swap, :, :]
        if raw_scale is not None:
            caffe_in *= raw_scale
        if mean is not None:
            caffe_in -= mean
        if input_scale is not None:
            caffe_in *= input_scale
        return caffe_in

    def deprocess(self, in_, data):
        """Undo preprocess (except the resize)."""
        self.__check_input(in_)
        decaf_in = data.copy().squeeze()
        transpose = self.transpose.get(in_)
        channel_swap = self.channel_swap.get(in_)
        raw_scale = self.raw_scale.get(in_)
        mean = self.mean.get(in_)
        input_scale = self.input_scale.get(in_)
        if input_scale is not None:
            decaf_in /= input_scale
        if mean is not None:
            decaf_in += mean
        if raw_scale is not None:
            decaf_in /= raw_scale
        if channel_swap is not None:
            decaf_in = decaf_in[np.argsort(channel_swap), :, :]
        if transpose is not None:
            decaf_in = decaf_in.transpose(np.argsort(transpose))
        return decaf_in

    def set_transpose(self, in_, order):
        """The order of dimensions, e.g. (2, 0, 1) for H x W x C -> C x H x W."""
        self.__check_input(in_)
        if len(order) != len(self.inputs[in_]) - 1:
            raise Exception('Transpose order needs to have the same number of dimensions as the input.')
        self.transpose[in_] = order

    def set_channel_swap(self, in_, order):
        """The channel order after transposing, e.g. (2, 1, 0) for RGB -> BGR."""
        self.__check_input(in_)
        if len(order) != self.inputs[in_][1]:
            raise Exception('Channel swap needs to have the same number of dimensions as the input channels.')
        self.channel_swap[in_] = order

    def set_raw_scale(self, in_, scale):
        """Scale applied before the mean (e.g. 255 for [0, 1] images and models trained on [0, 255])."""
        self.__check_input(in_)
        self.raw_scale[in_] = scale

    def set_mean(self, in_, mean):
        """The mean to subtract: one value per channel, or an elementwise (C x) H x W mean (resized to the input
        when its size differs)."""
        self.__check_input(in_)
        ms = mean.shape
        if mean.ndim == 1:
            if ms[0] != self.inputs[in_][1]:
                raise ValueError('Mean channels incompatible with input.')
            mean = mean[:, np.newaxis, np.newaxis]
        else:
            if len(ms) == 2:
                ms = (1,) + ms
            if len(ms) != 3:
                raise ValueError('Mean shape invalid')
            if ms != self.inputs[in_][1:]:
                in_shape = self.inputs[in_][1:]
                m_min, m_max = mean.min(), mean.max()
                normal_mean = (mean - m_min) / (m_max - m_min)
                mean = resize_image(normal_mean.transpose((1, 2, 0)), in_shape[1:]).transpose((2, 0, 1)) * \
                    (m_max - m_min) + m_min
        self.mean[in_] = mean

    def set_input_scale(self, in_, scale):
        """Scale applied after the mean."""
        self.__check_input(in_)
        self.input_scale[in_] = scale


# ------------------------------------------------------------------------------------------------ images

_GRAY = np.array([0.2125, 0.7154, 0.0721])      # skimage.color.rgb2gray


def _as_float(arr):
    """skimage.img_as_float: integers scaled to [0, 1] (signed to [-1, 1]), floats kept."""
    if arr.dtype == bool:
        return arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.unsignedinteger):
        return arr.astype(np.float64) / np.iinfo(arr.dtype).max
    if np.issubdtype(arr.dtype, np.signedinteger):
        info = np.iinfo(arr.dtype)
        return np.maximum(arr.astype(np.float64) / info.max, -1.0)
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    return arr


def _read(filename):
    with Image.open(filename) as im:
        if im.mode == 'P':
            im = im.convert('RGBA' if 'transparency' in im.info else 'RGB')
        elif im.mode == 'CMYK':
            im = im.convert('RGB')
        return np.array(im)


def load_image(filename, color=True):
    """An image as float32 in [0, 1], H x W x 3 (RGB) or, with color=False, H x W x 1 (intensity)."""
    img = _as_float(_read(filename))
    if not color and img.ndim == 3:
        if img.shape[2] == 4:                       # skimage's rgba2rgb onto white, then rgb2gray
            alpha = img[:, :, 3:4]
            img = img[:, :, :3] * alpha + (1 - alpha)
        img = img[:, :, :3] @ _GRAY
    img = img.astype(np.float32)
    if img.ndim == 2:
        img = img[:, :, np.newaxis]
        if color:
            img = np.tile(img, (1, 1, 3))
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    return img


def _resize_like_skimage(image, shape, order):
    """skimage.transform.resize(image, shape, order, mode='constant') for a float image in [0, 1]."""
    out_shape = tuple(shape) + image.shape[len(shape):]
    factors = np.divide(image.shape, out_shape)
    if any(o < i for o, i in zip(out_shape, image.shape)):
        image_f = ndimage.gaussian_filter(image, np.maximum(0, (factors - 1) / 2), cval=0, mode='grid-constant')
    else:
        image_f = image
    out = ndimage.zoom(image_f, [1 / f for f in factors], order=order, mode='grid-constant', cval=0,
                       grid_mode=True)
    return np.clip(out, image.min(), image.max())


def resize_image(im, new_dims, interp_order=1):
    """Resize an H x W x K image to new_dims = (height, width) by spline interpolation of interp_order."""
    if im.shape[-1] == 1 or im.shape[-1] == 3:
        im_min, im_max = im.min(), im.max()
        if im_max > im_min:
            im_std = (im - im_min) / (im_max - im_min)
            resized_std = _resize_like_skimage(im_std, new_dims, interp_order)
            resized_im = resized_std * (im_max - im_min) + im_min
        else:
            ret = np.empty((new_dims[0], new_dims[1], im.shape[-1]), dtype=np.float32)
            ret.fill(im_min)
            return ret
    else:
        scale = tuple(np.array(new_dims, dtype=float) / np.array(im.shape[:2]))
        resized_im = ndimage.zoom(im, scale + (1,), order=interp_order)
    return resized_im.astype(np.float32)


def oversample(images, crop_dims):
    """The 4 corner and the center crops of each image, and their mirrors: (10 N) x H x W x K."""
    im_shape = np.array(images[0].shape)
    crop_dims = np.array(crop_dims)
    im_center = im_shape[:2] / 2.0
    h_indices = (0, im_shape[0] - crop_dims[0])
    w_indices = (0, im_shape[1] - crop_dims[1])
    crops_ix = np.empty((5, 4), dtype=int)
    curr = 0
    for i in h_indices:
        for j in w_indices:
            crops_ix[curr] = (i, j, i + crop_dims[0], j + crop_dims[1])
            curr += 1
    crops_ix[4] = np.tile(im_center, (1, 2)) + np.concatenate([-crop_dims / 2.0, crop_dims / 2.0])
    crops_ix = np.tile(crops_ix, (2, 1))
    crops = np.empty((10 * len(images), crop_dims[0], crop_dims[1], im_shape[-1]), dtype=np.float32)
    ix = 0
    for im in images:
        for crop in crops_ix:
            crops[ix] = im[crop[0]:crop[2], crop[1]:crop[3], :]
            ix += 1
        crops[ix - 5:ix] = crops[ix - 5:ix, :, ::-1, :]
    return crops
