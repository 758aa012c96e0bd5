"""caffe.Layer, the base class of Python layers: setup/reshape/forward/backward over bottom and top blobs.

It is the runtime's Python-layer base (runtime.Layer), so a layer module written for pycaffe runs in the nets of
both; `type` is "Python" as Caffe's Layer.type says for it. A Python layer's own learnable blobs (self.blobs,
BlobVec.add_blob) are not served: they raise rather than silently not learn.
"""
import runtime


class _LayerBlobs(list):
    """A Python layer's self.blobs: empty; add_blob is refused (the runtime does not learn Python layers' blobs)."""

    def add_blob(self, *shape):
        raise NotImplementedError('caffe Layer.blobs.add_blob (learnable blobs of a Python layer) is not served by '
                                  'this project: such blobs would not be learned or saved')


class Layer(runtime.Layer):
    """Base class of Python layers (caffe.Layer)."""

    @property
    def type(self):
        return 'Python'

    @property
    def blobs(self):
        b = self.__dict__.get('_pycaffe_blobs')
        if b is None:
            b = self.__dict__['_pycaffe_blobs'] = _LayerBlobs()
        return b

    @blobs.setter
    def blobs(self, value):
        self.__dict__['_pycaffe_blobs'] = _LayerBlobs(value)
