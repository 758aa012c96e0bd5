"""How a net runs: a Caffe NetParameter turned into a PyTorch graph with Caffe's forward and backward.

    from runtime import Net, Layer, TRAIN, TEST
    net = Net('train.prototxt', phase='train')
    net.forward(data=image, label=label); net.backward()

`import runtime as caffe` also serves Caffe Python layers (`class X(caffe.Layer)`). A python_param module is
imported from sys.path, then from the packages an application names with add_layer_package(name).

Net(proto, weights=None, phase='test', device='cpu', stages=(), level=0, memory_format='auto', precision='fp32')
  proto: a prototxt path or text, or a NetParameter (V1 `layers` and legacy `input` fields are upgraded);
  the layers kept follow Caffe's include/exclude rules for the phase, stages and level.
  .forward(**inputs) -> {output blob: tensor}   Input blobs keep their last value (also .set_input(name, value))
  .forward_range(start, end)  Caffe's ForwardFromTo: layers start..end on the blobs' current values
  .backward(top_diffs=None, start=None, end=None)  Caffe's BackwardFromTo, in any phase: the loss tops (each with
                         diff = its loss_weight, or the given top diffs) into the parameters' .grad (accumulating;
                         the solver clears them); with keep_blob_diffs, every blob diff Caffe writes (.blob_diffs)
  .blobs, .blob_shapes   the last forward's tensors / the shapes inferred when the net was built
  .params, .param_specs  {layer: [nn.Parameter]} in Caffe's order and shapes / {layer: [(lr_mult, decay_mult)]}
  .load_arrays(arrays), .to_arrays(), .copy_from(path), .save(path), .loss(), .inputs, .outputs, .net_param,
  .layers / .layer_dict  the layer modules (each has .lp, its LayerParameter, and .blobs)
  .caffe_graph           the net as Caffe lays it out: Split layers, blob order, what backward computes
  .stepper               None, or per-layer callbacks (pycaffe's Net callbacks): forward_range calls its step
                         function around each layer; backward() lets it run Caffe's per-layer loop over
                         .layer_graph(lo, hi), each layer's (bottoms, tops) with their graph
Forward records a graph only in the TRAIN phase (or with force_backward, or net.record_graph = True), so inference
stays forward-only; backward() after a forward that recorded none (or whose graph an earlier backward used) runs
the layers again with the graph recorded (data layers give their last outputs, Dropout its last masks), then
back-propagates. force_backward gives every parameter a diff, lr_mult 0 ones included, as in Caffe.
Otherwise parameters with lr_mult 0 get no gradient and keep no activation for backward. memory_format 'auto' uses
channels_last for forward-only CPU nets and, in nets that record gradients, for the CPU convolutions of large maps
(faster there; blobs and parameters stay NCHW); device='meta' builds and runs shapes only. precision 'fp32' is
Caffe's float32 arithmetic (TF32 off on CUDA while the net runs); 'tf32' and 'bf16' are opt-in fast modes
(runtime.precision).

Known differences from Caffe: random streams (Dropout masks, random fillers) are torch's; an in-place ReLU followed
by another in-place layer on the same blob takes its backward mask from its own output (Caffe reads the overwritten
blob); a backward that runs the layers again (see above) runs Python layers that have bottoms again too (Caffe runs
their forward once). Parameter sharing by ParamSpec.name (STRICT, PERMISSIVE under another shape too), Python
layers' learnable blobs and parameter blobs reshaped from Python are served (README, "The layer types").
"""
from .phase import TRAIN, TEST, Phase, phase_of
from .layers.python import Layer, Blob, add_layer_package
from .layers import REGISTRY, register, UnsupportedLayerError
from .state import filter_net, upgrade_net, with_inputs
from .net import Net

__all__ = ['Net', 'Layer', 'Blob', 'TRAIN', 'TEST', 'REGISTRY', 'register', 'filter_net', 'upgrade_net',
           'UnsupportedLayerError', 'phase_of', 'with_inputs', 'add_layer_package']
