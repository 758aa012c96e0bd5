"""caffe.Layer, the base class of Python layers: setup/reshape/forward/backward over bottom and top blobs.

It is the runtime's Python-layer base (runtime.Layer), so a layer module written for pycaffe runs in the nets of
both; `type` is "Python" as Caffe's Layer.type says for it. In a net, `self.blobs.add_blob(*shape)` gives the layer
learnable blobs (runtime.layers.python.LayerBlobs); outside a net there is nothing to own them and add_blob raises.
"""
import runtime


class _LayerBlobs(list):
    """The blobs of a Python layer that no net built: add_blob needs the net's layer that owns the blobs."""

    def add_blob(self, *shape):
        raise RuntimeError('Layer.blobs.add_blob: this layer is not part of a net (a net builds its Python layers and '
                           'gives them the blobs they add)')


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
        self.__dict__['_pycaffe_blobs'] = value if hasattr(value, 'add_blob') else _LayerBlobs(value)
