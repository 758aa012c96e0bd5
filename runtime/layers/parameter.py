"""Parameter: a learned blob as the layer's top (src/caffe/layers/parameter_layer.hpp)."""
from .registry import register
from .base import CaffeLayer


@register
class Parameter(CaffeLayer):
    """Its one learned blob (parameter_param.shape, filled with zeros as Caffe leaves it until weights load) as its
    top; the top's diff accumulates into the blob's."""
    type_name = 'Parameter'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        shape, = self.sized(self.record.blobs, lp, bottom_shapes)
        self.blob = self.add_blob(shape)

    def forward(self):
        return (self.blob.clone(),)
