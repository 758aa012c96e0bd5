"""How a net runs: a Caffe NetParameter turned into a PyTorch graph with Caffe's forward and backward.

    from runtime import Net, Layer, TRAIN, TEST
    net = Net('train.prototxt', phase='train')
    net.forward(data=image, label=label); net.backward()

`import runtime as caffe` also serves Caffe Python layers (`class X(caffe.Layer)`).

Net(proto, weights=None, phase='test', device='cpu', stages=(), level=0, memory_format='auto', precision='fp32')
  proto: a prototxt path or text, or a NetParameter (V1 `layers` and legacy `input` fields are upgraded);
  the layers kept follow Caffe's include/exclude rules for the phase, stages and level.
  .forward(**inputs) -> {output blob: tensor}   Input blobs keep their last value (also .set_input(name, value))
  .backward()            loss tops x loss_weight into the parameters' .grad (accumulating; the solver clears them)
  .blobs, .blob_shapes   the last forward's tensors / the shapes inferred when the net was built
  .params, .param_specs  {layer: [nn.Parameter]} in Caffe's order and shapes / {layer: [(lr_mult, decay_mult)]}
  .load_arrays(arrays), .to_arrays(), .copy_from(path), .save(path), .loss(), .inputs, .outputs, .net_param,
  .layers / .layer_dict  the layer modules (each has .lp, its LayerParameter, and .blobs)
Only TRAIN nets (or force_backward nets, or net.record_graph = True) record gradients. memory_format 'auto' uses
channels_last for forward-only CPU nets and, in nets that record gradients, for the CPU convolutions of large maps
(faster there; blobs and parameters stay NCHW); device='meta' builds and runs shapes only. precision 'fp32' is
Caffe's float32 arithmetic (TF32 off on CUDA while the net runs); 'tf32' and 'bf16' are opt-in fast modes
(runtime.precision). Parameters with lr_mult 0 get no gradient and keep no activation for backward.

Known differences from Caffe: random streams (Dropout masks, random fillers) are torch's; an in-place ReLU followed
by another in-place layer on the same blob takes its backward mask from its own output (Caffe reads the overwritten
blob); parameter sharing by ParamSpec.name, STOCHASTIC pooling and the Pooling mask top are refused with an error;
a Python layer's own `blobs` are not learnable parameters.
"""
from .phase import TRAIN, TEST, Phase, phase_of
from .layers.python import Layer, Blob
from .layers import REGISTRY, register, UnsupportedLayerError
from .state import filter_net, upgrade_net, with_inputs
from .net import Net

__all__ = ['Net', 'Layer', 'Blob', 'TRAIN', 'TEST', 'REGISTRY', 'register', 'filter_net', 'upgrade_net',
           'UnsupportedLayerError', 'phase_of', 'with_inputs']
