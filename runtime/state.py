"""Which layers a net keeps (Caffe's Net::FilterNet / StateMeetsRule) and the upgrade of legacy net formats."""
from netspec import caffe_pb2

# V1LayerParameter.LayerType name -> the V2 type string (Caffe's UpgradeV1LayerType).
_V1_TYPES = {
    'ABSVAL': 'AbsVal', 'ACCURACY': 'Accuracy', 'ARGMAX': 'ArgMax', 'BNLL': 'BNLL', 'CONCAT': 'Concat',
    'CONTRASTIVE_LOSS': 'ContrastiveLoss', 'CONVOLUTION': 'Convolution', 'DECONVOLUTION': 'Deconvolution',
    'DATA': 'Data', 'DROPOUT': 'Dropout', 'DUMMY_DATA': 'DummyData', 'EUCLIDEAN_LOSS': 'EuclideanLoss',
    'ELTWISE': 'Eltwise', 'EXP': 'Exp', 'FLATTEN': 'Flatten', 'HDF5_DATA': 'HDF5Data', 'HDF5_OUTPUT': 'HDF5Output',
    'HINGE_LOSS': 'HingeLoss', 'IM2COL': 'Im2col', 'IMAGE_DATA': 'ImageData', 'INFOGAIN_LOSS': 'InfogainLoss',
    'INNER_PRODUCT': 'InnerProduct', 'LRN': 'LRN', 'MEMORY_DATA': 'MemoryData',
    'MULTINOMIAL_LOGISTIC_LOSS': 'MultinomialLogisticLoss', 'MVN': 'MVN', 'POOLING': 'Pooling', 'POWER': 'Power',
    'RELU': 'ReLU', 'SIGMOID': 'Sigmoid', 'SIGMOID_CROSS_ENTROPY_LOSS': 'SigmoidCrossEntropyLoss',
    'SILENCE': 'Silence', 'SOFTMAX': 'Softmax', 'SOFTMAX_LOSS': 'SoftmaxWithLoss', 'SPLIT': 'Split',
    'SLICE': 'Slice', 'TANH': 'TanH', 'WINDOW_DATA': 'WindowData', 'THRESHOLD': 'Threshold',
}


def _upgrade_v1_layer(v1, where):
    lp = caffe_pb2.LayerParameter()
    if v1.HasField('layer'):
        raise ValueError(f'{where}: layer {v1.name!r} is in the V0 format, which this runtime does not upgrade')
    lp.name = v1.name
    lp.bottom.extend(v1.bottom)
    lp.top.extend(v1.top)
    lp.include.extend(v1.include)
    lp.exclude.extend(v1.exclude)
    lp.blobs.extend(v1.blobs)
    lp.loss_weight.extend(v1.loss_weight)
    if v1.HasField('type'):
        name = caffe_pb2.V1LayerParameter.LayerType.Name(v1.type)
        if name not in _V1_TYPES:
            raise ValueError(f'{where}: layer {v1.name!r} has the V1 type {name}, which has no V2 equivalent')
        lp.type = _V1_TYPES[name]
    nspec = max(len(v1.param), len(v1.blobs_lr), len(v1.weight_decay))
    for i in range(nspec):
        spec = lp.param.add()
        if i < len(v1.param):
            spec.name = v1.param[i]
        if i < len(v1.blobs_lr):
            spec.lr_mult = v1.blobs_lr[i]
        if i < len(v1.weight_decay):
            spec.decay_mult = v1.weight_decay[i]
    v2_fields = caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name
    for field, value in v1.ListFields():
        if field.name.endswith('_param') and field.name in v2_fields:
            getattr(lp, field.name).CopyFrom(value)
    return lp


def upgrade_net(net_param, where='<net>'):
    """A copy of net_param in the current format: V1 `layers` become `layer`, and the legacy `input`/`input_shape`/
    `input_dim` fields become an Input layer named 'input' placed first (as Caffe's UpgradeNetAsNeeded does)."""
    net = caffe_pb2.NetParameter()
    net.CopyFrom(net_param)
    if len(net.layers):
        if len(net.layer):
            raise ValueError(f'{where}: the net mixes V1 `layers` and V2 `layer` entries')
        upgraded = [_upgrade_v1_layer(v1, where) for v1 in net.layers]
        net.ClearField('layers')
        net.layer.extend(upgraded)
    if len(net.input):
        layer = caffe_pb2.LayerParameter(name='input', type='Input')
        layer.top.extend(net.input)
        if len(net.input_shape):
            if len(net.input_shape) not in (1, len(net.input)):
                raise ValueError(f'{where}: {len(net.input)} inputs but {len(net.input_shape)} input_shape entries')
            layer.input_param.shape.extend(net.input_shape)
        elif len(net.input_dim):
            if len(net.input_dim) != 4 * len(net.input):
                raise ValueError(f'{where}: input_dim must hold 4 values per input '
                                 f'({len(net.input)} inputs, {len(net.input_dim)} values)')
            for i in range(len(net.input)):
                layer.input_param.shape.add().dim.extend(net.input_dim[4 * i:4 * i + 4])
        else:
            raise ValueError(f'{where}: inputs {list(net.input)} have no input_shape or input_dim')
        layers = [layer] + list(net.layer)
        net.ClearField('layer')
        net.layer.extend(layers)
        for name in ('input', 'input_shape', 'input_dim'):
            net.ClearField(name)
    return net


def state_meets_rule(state, rule):
    """Caffe's Net::StateMeetsRule."""
    if rule.HasField('phase') and rule.phase != state.phase:
        return False
    if rule.HasField('min_level') and state.level < rule.min_level:
        return False
    if rule.HasField('max_level') and state.level > rule.max_level:
        return False
    stages = set(state.stage)
    if any(s not in stages for s in rule.stage):
        return False
    if any(s in stages for s in rule.not_stage):
        return False
    return True


def make_state(phase, stages=(), level=0):
    state = caffe_pb2.NetState(phase=phase, level=level)
    state.stage.extend(stages)
    return state


def filter_net(net_param, state, where='<net>'):
    """The layers of net_param that `state` (a NetState) keeps, as a new NetParameter (Caffe's Net::FilterNet)."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    out.ClearField('layer')
    for lp in net_param.layer:
        if len(lp.include) and len(lp.exclude):
            raise ValueError(f'{where}: layer {lp.name!r} specifies both include and exclude rules; '
                             'Caffe allows only one kind')
        keep = len(lp.include) == 0
        if any(state_meets_rule(state, r) for r in lp.exclude):
            keep = False
        if any(state_meets_rule(state, r) for r in lp.include):
            keep = True
        if keep:
            out.layer.add().CopyFrom(lp)
    out.state.CopyFrom(state)
    return out


def with_inputs(net_param, shapes):
    """A copy of net_param whose Python (data) layers are Input layers giving `shapes` ({top: shape}): a way to run
    a training net on arrays of your own (net.forward(data=..., label=...))."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    out.ClearField('layer')
    for lp in net_param.layer:
        if lp.type == 'Python':
            layer = out.layer.add(name=lp.name, type='Input')
            layer.top.extend(lp.top)
            layer.include.extend(lp.include)
            layer.exclude.extend(lp.exclude)
            for t in lp.top:
                if t not in shapes:
                    raise KeyError(f'with_inputs: no shape given for top {t!r} of Python layer {lp.name!r}')
                layer.input_param.shape.add().dim.extend(shapes[t])
        else:
            out.layer.add().CopyFrom(lp)
    return out
