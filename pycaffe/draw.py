"""caffe.draw: a NetParameter as a graphviz graph, drawn as Caffe 1.0's python/caffe/draw.py draws it (pydot).

One node per layer (`"NAME\\n(TYPE)"`, Pooling with its method, spatial layers with kernel size, stride and pad,
with display_lrm the learning-rate multipliers; words separated by spaces for TB/BT layouts, by newlines
otherwise), filled by type (convolutions red, pooling orange, inner products purple, in-place neuron layers green,
the rest blue), one node per blob (an octagon where the blob is read, a plain node where it is written, the last
mention deciding, as in Caffe), edges from bottoms to layers and from layers to tops (labelled with the batch size of
Data layers and num_output of convolutions and inner products). `phase` keeps the layers that Caffe's draw.py
keeps for that phase (include/exclude rules on the phase only).

draw_net / draw_net_to_file need graphviz's `dot` for images; draw_net_to_file writes the DOT text itself for a
.dot or .gv file, without graphviz.
"""
from netspec import caffe_pb2

__all__ = ['LAYER_STYLE_DEFAULT', 'NEURON_LAYER_STYLE', 'BLOB_STYLE', 'get_pooling_types_dict', 'get_edge_label',
           'get_layer_lr_mult', 'get_layer_label', 'choose_color_by_layertype', 'get_pydot_graph', 'draw_net',
           'draw_net_to_file']

LAYER_STYLE_DEFAULT = {'shape': 'record', 'fillcolor': '#6495ED', 'style': 'filled'}
NEURON_LAYER_STYLE = {'shape': 'record', 'fillcolor': '#90EE90', 'style': 'filled'}
BLOB_STYLE = {'shape': 'octagon', 'fillcolor': '#E0E0E0', 'style': 'filled'}

LEARNING = ('Convolution', 'Deconvolution', 'InnerProduct')
COLORS = {'Convolution': '#FF5050', 'Deconvolution': '#FF5050', 'Pooling': '#FF9900', 'InnerProduct': '#CC33FF'}


def _pydot():
    try:
        import pydot
    except ImportError:
        raise ImportError('caffe.draw needs pydot: pip install pydot (and graphviz for images)') from None
    return pydot


def get_pooling_types_dict():
    """{number: name} of PoolingParameter.PoolMethod."""
    return {v.number: k for k, v in caffe_pb2.PoolingParameter.PoolMethod.DESCRIPTOR.values_by_name.items()}


def get_edge_label(layer):
    """The label of a layer's edges to its tops."""
    if layer.type == 'Data':
        return f'Batch {layer.data_param.batch_size}'
    if layer.type in ('Convolution', 'Deconvolution'):
        return str(layer.convolution_param.num_output)
    if layer.type == 'InnerProduct':
        return str(layer.inner_product_param.num_output)
    return '""'


def get_layer_lr_mult(layer):
    """(weight lr_mult, bias lr_mult) of a learning layer; 1.0 where a ParamSpec is absent."""
    if layer.type not in LEARNING:
        raise ValueError(f'{layer.type} layers do not have a learning rate multiplier')
    mults = [p.lr_mult for p in layer.param]
    if len(mults) > 2:
        raise ValueError('Could not parse the learning rate multiplier')
    return tuple(mults + [1.0] * (2 - len(mults)))


def get_layer_label(layer, rankdir, display_lrm=False):
    """A layer's node label, quoted."""
    sep = ' ' if rankdir in ('TB', 'BT') else r'\n'
    parts = [layer.name]
    if layer.type == 'Pooling':
        parts.append(f'({layer.type} {get_pooling_types_dict()[layer.pooling_param.pool]})')
    else:
        parts.append(f'({layer.type})')
    if layer.type in ('Convolution', 'Deconvolution', 'Pooling'):
        if layer.type == 'Pooling':
            p = layer.pooling_param
            kernel, stride, pad = p.kernel_size, p.stride, p.pad
        else:
            p = layer.convolution_param
            kernel = p.kernel_size[0] if len(p.kernel_size) else 1
            stride = p.stride[0] if len(p.stride) else 1
            pad = p.pad[0] if len(p.pad) else 0
        parts.append(sep.join([f'kernel size: {kernel:d}', f'stride: {stride:d}', f'pad: {pad:d}']))
    if display_lrm and layer.type in LEARNING:
        w, b = get_layer_lr_mult(layer)
        if w or b:
            parts.append(f'lr mult: {w:.1f}, {b:.1f}')
    return '"%s"' % sep.join(parts)


def choose_color_by_layertype(layertype):
    return COLORS.get(layertype, '#6495ED')


def _included(layer, phase):
    if phase is None:
        return True
    if layer.include and layer.exclude:
        raise ValueError(f'layer {layer.name} has both include and exclude specified.')
    keep = not layer.include
    for rule in layer.include:
        keep = keep or rule.phase == phase
    for rule in layer.exclude:
        keep = keep and rule.phase != phase
    return keep


def get_pydot_graph(caffe_net, rankdir, label_edges=True, phase=None, display_lrm=False):
    """The pydot graph of a NetParameter (phase: caffe.TRAIN, caffe.TEST or None for every layer)."""
    pydot = _pydot()
    graph = pydot.Dot(caffe_net.name or 'Net', graph_type='digraph', rankdir=rankdir)
    nodes, edges = {}, []
    for layer in caffe_net.layer:
        if not _included(layer, phase):
            continue
        label = get_layer_label(layer, rankdir, display_lrm=display_lrm)
        key = f'{layer.name}_{layer.type}'
        if len(layer.bottom) == 1 and len(layer.top) == 1 and layer.bottom[0] == layer.top[0]:
            nodes[key] = pydot.Node(label, **NEURON_LAYER_STYLE)
        else:
            nodes[key] = pydot.Node(label, **dict(LAYER_STYLE_DEFAULT,
                                                  fillcolor=choose_color_by_layertype(layer.type)))
        for b in layer.bottom:
            nodes[b + '_blob'] = pydot.Node(b, **BLOB_STYLE)
            edges.append((b + '_blob', key, '""'))
        for t in layer.top:
            nodes[t + '_blob'] = pydot.Node(t)
            edges.append((key, t + '_blob', get_edge_label(layer) if label_edges else '""'))
    for node in nodes.values():
        graph.add_node(node)
    for src, dst, label in edges:
        graph.add_edge(pydot.Edge(nodes[src], nodes[dst], label=label))
    return graph


def draw_net(caffe_net, rankdir, ext='png', phase=None, display_lrm=False):
    """The graph rendered by graphviz in the format `ext` (bytes)."""
    graph = get_pydot_graph(caffe_net, rankdir, phase=phase, display_lrm=display_lrm)
    try:
        return graph.create(format=ext)
    except FileNotFoundError:
        raise OSError(f'drawing a net as {ext} needs graphviz\'s dot program (apt-get install graphviz); '
                      'a .dot file needs none') from None


def draw_net_to_file(caffe_net, filename, rankdir='LR', phase=None, display_lrm=False):
    """Write the drawing to `filename` in the format its extension names (.dot/.gv: the DOT text)."""
    ext = filename[filename.rfind('.') + 1:]
    if ext in ('dot', 'gv'):
        data = get_pydot_graph(caffe_net, rankdir, phase=phase, display_lrm=display_lrm).to_string().encode()
    else:
        data = draw_net(caffe_net, rankdir, ext, phase, display_lrm)
    with open(filename, 'wb') as f:
        f.write(data)
