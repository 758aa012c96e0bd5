"""The NetSpec DSL: write Caffe nets in Python, as Caffe's python/caffe/net_spec.py does.

    from netspec import NetSpec, layers as L, params as P
    n = NetSpec()
    n.data, n.label = L.Python(module='voc_layers', layer='VOCSegDataLayer', ntop=2, param_str='{...}')
    n.conv1 = L.Convolution(n.data, kernel_size=3, num_output=64, pad=100,
                            param=[dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)])
    n.relu1 = L.ReLU(n.conv1, in_place=True)
    n.pool1 = L.Pooling(n.relu1, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    net = n.to_proto()                         # caffe_pb2.NetParameter

Keyword routing (Caffe's rules): a keyword ending in ``param`` is set on LayerParameter itself; any other goes into
``<type>_param``, the LayerParameter field whose message is ``<Type>Parameter`` (derived from the descriptors, so
every layer type of the schema is known); when that fails (no such message, or no such field in it, e.g.
Deconvolution, ``name``, ``loss_weight``, ``include``) it goes onto LayerParameter. A scalar given for a repeated
field becomes a one-element list, a dict a sub-message, a list of dicts repeated sub-messages. ``ntop`` sets the
number of tops (0 returns the Function, more than 1 a tuple of Tops); ``in_place=True`` makes the tops the bottoms.
Layers are named after their first top; tops not named through a NetSpec get ``<Type><counter>`` names.
"""
from collections import Counter, OrderedDict

from google.protobuf.descriptor import FieldDescriptor

from . import caffe_pb2

__all__ = ['NetSpec', 'Top', 'Function', 'layers', 'params', 'to_proto', 'param_name_dict', 'assign_proto']


def param_name_dict():
    """{layer type: '<x>' of its '<x>_param' field}, read off LayerParameter's descriptor.

    The type is the field's message name without 'Parameter' (ConvolutionParameter -> Convolution,
    LRNParameter -> LRN, PythonParameter -> Python); the value is the field name without '_param'.
    """
    table = {}
    for field in caffe_pb2.LayerParameter.DESCRIPTOR.fields:
        if field.name.endswith('_param') and field.message_type is not None:
            type_name = field.message_type.name
            if type_name.endswith('Parameter'):
                table[type_name[:-len('Parameter')]] = field.name[:-len('_param')]
    return table


_PARAM_NAMES = param_name_dict()


def _field(proto, name):
    field = proto.DESCRIPTOR.fields_by_name.get(name)
    if field is None:
        raise AttributeError(f'{proto.DESCRIPTOR.full_name} has no field {name!r}')
    return field


def assign_proto(proto, name, val):
    """Set field `name` of message `proto` from a Python value (scalar, list, dict or list of dicts)."""
    field = _field(proto, name)
    repeated = field.is_repeated
    if repeated and not isinstance(val, (list, tuple)):
        val = [val]
    if repeated:
        container = getattr(proto, name)
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            for item in val:
                if isinstance(item, dict):
                    sub = container.add()
                    for k, v in item.items():
                        assign_proto(sub, k, v)
                else:
                    container.add().CopyFrom(item)
        else:
            container.extend(_scalar(field, v) for v in val)
    elif isinstance(val, dict):
        sub = getattr(proto, name)
        sub.SetInParent()
        for k, v in val.items():
            assign_proto(sub, k, v)
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        getattr(proto, name).CopyFrom(val)
    else:
        setattr(proto, name, _scalar(field, val))


def _scalar(field, val):
    """numpy scalars (e.g. from coordinate maps) become plain Python numbers; enums may be given by name."""
    if hasattr(val, 'item') and not isinstance(val, (str, bytes)):
        val = val.item()
    if field.type == FieldDescriptor.TYPE_ENUM and isinstance(val, str):
        val = field.enum_type.values_by_name[val].number
    return val


class Top:
    """One output blob of a Function (a layer call)."""

    def __init__(self, fn, n):
        self.fn = fn
        self.n = n
        self.name_hint = None   # the name a NetSpec gave it, for error messages before to_proto

    def to_proto(self):
        """A NetParameter holding this top and everything it depends on."""
        return to_proto(self)

    def _to_proto(self, layers, names, autonames):
        return self.fn._to_proto(layers, names, autonames)

    def _update(self, params):
        self.fn._update(params)

    def describe(self):
        """'name' (Type) for messages: the NetSpec name when known."""
        where = f'{self.name_hint!r}' if self.name_hint else f'unnamed top {self.n}'
        return f'{where} ({self.fn.type_name} layer)'

    def __repr__(self):
        return f'<Top {self.describe()}>'


class Function:
    """A layer call: type, input Tops and keyword settings; produces `ntop` Tops."""

    def __init__(self, type_name, inputs, params):
        self.type_name = type_name
        for index, inp in enumerate(inputs):
            if not isinstance(inp, Top):
                raise TypeError(f'{type_name} input {index} is not a Top (type is {type(inp)})')   # Caffe's text
        self.inputs = tuple(inputs)
        params = dict(params)
        self.ntop = params.pop('ntop', 1)
        self.in_place = params.pop('in_place', False)
        self.params = params
        if self.in_place and self.ntop != len(self.inputs):
            raise ValueError(f'{type_name}: in_place=True needs as many bottoms as tops '
                             f'({len(self.inputs)} bottoms, ntop={self.ntop})')
        self.tops = tuple(Top(self, n) for n in range(self.ntop))

    def _get_name(self, names, autonames):
        if self not in names and self.ntop > 0:
            names[self] = self._get_top_name(self.tops[0], names, autonames)
        elif self not in names:
            autonames[self.type_name] += 1
            names[self] = self.type_name + str(autonames[self.type_name])
        return names[self]

    @staticmethod
    def _get_top_name(top, names, autonames):
        if top not in names:
            autonames[top.fn.type_name] += 1
            names[top] = top.fn.type_name + str(autonames[top.fn.type_name])
        return names[top]

    def _update(self, params):
        self.params.update(params)

    def _to_proto(self, layers, names, autonames):
        if self in layers:
            return
        bottom_names = []
        for inp in self.inputs:
            inp._to_proto(layers, names, autonames)
            bottom_names.append(layers[inp.fn].top[inp.n])
        layer = caffe_pb2.LayerParameter()
        layer.type = self.type_name
        layer.bottom.extend(bottom_names)
        if self.in_place:
            layer.top.extend(layer.bottom)
        else:
            for top in self.tops:
                layer.top.append(self._get_top_name(top, names, autonames))
        layer.name = self._get_name(names, autonames)
        self._assign(layer)
        layers[self] = layer

    def layer_param(self):
        """A LayerParameter holding this call's type and settings (no name, bottoms or tops)."""
        layer = caffe_pb2.LayerParameter(type=self.type_name)
        self._assign(layer)
        return layer

    def _assign(self, layer):
        for key, val in self.params.items():
            try:
                if key.endswith('param'):
                    assign_proto(layer, key, val)
                    continue
                try:
                    assign_proto(getattr(layer, _PARAM_NAMES[self.type_name] + '_param'), key, val)
                except (AttributeError, KeyError):
                    assign_proto(layer, key, val)
            except (AttributeError, KeyError, TypeError, ValueError) as e:
                own = _PARAM_NAMES.get(self.type_name)
                where = f'{own}_param or LayerParameter' if own else 'LayerParameter'
                raise ValueError(f'layer {layer.name!r} ({self.type_name}): cannot set {key}={val!r} '
                                 f'on {where}: {e}') from None


def to_proto(*tops):
    """A NetParameter with the layers the given tops depend on, in depth-first order."""
    layers = OrderedDict()
    autonames = Counter()
    for top in tops:
        top._to_proto(layers, {}, autonames)
    net = caffe_pb2.NetParameter()
    net.layer.extend(layers.values())
    return net


class NetSpec:
    """Named tops: assign layers' outputs to attributes (or items) to name them; to_proto() builds the net."""

    def __init__(self):
        super().__setattr__('tops', OrderedDict())

    def __setattr__(self, name, value):
        if isinstance(value, Top) and value.name_hint is None:
            value.name_hint = name
        self.tops[name] = value

    def __getattr__(self, name):
        try:
            return self.tops[name]
        except KeyError:
            raise AttributeError(f'NetSpec has no top named {name!r}') from None

    def __setitem__(self, key, value):
        self.__setattr__(key, value)

    def __getitem__(self, item):
        try:
            return self.tops[item]
        except KeyError:
            raise KeyError(f'NetSpec has no top named {item!r}') from None

    def __delitem__(self, name):
        del self.tops[name]

    def __contains__(self, name):
        return name in self.tops

    def keys(self):
        return list(self.tops.keys())

    def vals(self):
        return list(self.tops.values())

    def to_proto(self):
        names = {v: k for k, v in self.tops.items()}
        autonames = Counter()
        layers = OrderedDict()
        for top in self.tops.values():
            top._to_proto(layers, names, autonames)
        net = caffe_pb2.NetParameter()
        net.layer.extend(layers.values())
        return net


class Layers:
    """`layers.X(*bottoms, **settings)` builds a layer of Caffe type X (any name: Python layers too)."""

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)

        def layer_fn(*args, **kwargs):
            fn = Function(name, args, kwargs)
            if fn.ntop == 0:
                return fn
            if fn.ntop == 1:
                return fn.tops[0]
            return fn.tops
        layer_fn.__name__ = name
        return layer_fn


class _Param:
    def __init__(self, name):
        self._msg = getattr(caffe_pb2, name + 'Parameter', None)
        if self._msg is None:
            known = sorted(m for m in caffe_pb2.DESCRIPTOR.message_types_by_name if m.endswith('Parameter'))
            raise AttributeError(f'params.{name}: the schema has no message {name}Parameter '
                                 f'(known: {", ".join(k[:-len("Parameter")] for k in known)})')
        self._name = name

    def __getattr__(self, attr):
        if attr.startswith('__'):
            raise AttributeError(attr)
        try:
            return getattr(self._msg, attr)
        except AttributeError:
            enums = {v.name for e in self._msg.DESCRIPTOR.enum_types for v in e.values}
            raise AttributeError(f'params.{self._name}.{attr}: {self._name}Parameter has no enum value or '
                                 f'member {attr!r} (enum values: {", ".join(sorted(enums))})') from None


class Parameters:
    """`params.Pooling.MAX` is caffe_pb2.PoolingParameter.MAX: enum values read from the schema."""

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return _Param(name)


layers = Layers()
params = Parameters()
