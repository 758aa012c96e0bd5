"""Which layers a net keeps (Caffe's Net::FilterNet / StateMeetsRule) and the upgrade of legacy net formats."""
from netspec import caffe_pb2

# The V1LayerParameter.LayerType names whose V2 type is not the name CamelCased (HDF5_DATA -> HDF5Data, not
# Hdf5Data); Caffe's UpgradeV1LayerType spells every type out, these are the ones the rule does not give.
_V1_SPELLED = {'ABSVAL': 'AbsVal', 'ARGMAX': 'ArgMax', 'BNLL': 'BNLL', 'HDF5_DATA': 'HDF5Data',
               'HDF5_OUTPUT': 'HDF5Output', 'LRN': 'LRN', 'MVN': 'MVN', 'RELU': 'ReLU',
               'SOFTMAX_LOSS': 'SoftmaxWithLoss', 'TANH': 'TanH'}


def v1_layer_type(value):
    """The V2 type string of a V1LayerParameter.LayerType value (Caffe's UpgradeV1LayerType); None for NONE."""
    name = caffe_pb2.V1LayerParameter.LayerType.Name(value)
    if name == 'NONE':
        return None
    return _V1_SPELLED.get(name) or ''.join(word.capitalize() for word in name.split('_'))


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
        v2 = v1_layer_type(v1.type)
        if v2 is None:
            name = caffe_pb2.V1LayerParameter.LayerType.Name(v1.type)
            raise ValueError(f'{where}: layer {v1.name!r} has the V1 type {name}, which has no V2 equivalent')
        lp.type = v2
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
    _upgrade_transformation(lp)
    return lp


# Caffe's UpgradeNetDataTransformation: a V1 data layer's own scale / mean_file / crop_size / mirror fields move into
# transform_param (a V2 layer's are not read); the layers concerned are those whose record reads transform_param
# beside a parameter message of their own that has these fields (Data, ImageData, WindowData)
_TRANSFORM_FIELDS = ('scale', 'mean_file', 'crop_size', 'mirror')


def _upgrade_transformation(lp):
    from netspec.layertypes import LAYER_TYPES
    record = LAYER_TYPES.get(lp.type)
    if record is None or 'transform_param' not in record.params:
        return
    for field in record.params:
        if field == 'transform_param' or not lp.HasField(field):
            continue
        param = getattr(lp, field)
        if not all(f in param.DESCRIPTOR.fields_by_name for f in _TRANSFORM_FIELDS):
            continue
        for name in _TRANSFORM_FIELDS:
            if param.HasField(name):
                setattr(lp.transform_param, name, getattr(param, name))
                param.ClearField(name)


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
