"""caffe.net_spec: the NetSpec DSL (netspec.dsl): layers, params, NetSpec, to_proto, Top, Function."""
from netspec.dsl import (Function, Layers, NetSpec, Parameters, Top, assign_proto, layers, param_name_dict,
                         params, to_proto)

__all__ = ['Function', 'Layers', 'NetSpec', 'Parameters', 'Top', 'assign_proto', 'layers', 'param_name_dict',
           'params', 'to_proto']
