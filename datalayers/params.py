"""param_str handling for the Python data layers: a Python literal (never eval), and re-rooting dataset paths."""
import ast
import os

from netspec import caffe_pb2

__all__ = ['dir_keys', 'parse_param_str', 'rebase_path', 'rebase_param_str', 'map_param_strs']


def dir_keys(params):
    """The keys of a data layer's param dict that name dataset folders: every '*_dir' key with a string value
    (voc_dir, sbdd_dir, siftflow_dir, nyud_dir, context_dir in the reference prototxts)."""
    return [k for k, v in params.items() if k.endswith('_dir') and isinstance(v, str)]


def parse_param_str(param_str, layer='Python layer'):
    """Parse a data layer's param_str as a Python literal dict (ast.literal_eval; never eval)."""
    if isinstance(param_str, dict):
        return dict(param_str)
    try:
        params = ast.literal_eval(param_str or '{}')
    except (ValueError, SyntaxError) as e:
        raise ValueError(f'{layer}: param_str is not a Python literal dict: {param_str!r} ({e})') from None
    if not isinstance(params, dict):
        raise ValueError(f'{layer}: param_str must be a dict literal, got {type(params).__name__}: {param_str!r}')
    return params


def rebase_path(path, root):
    """Map a reference data path such as '../data/pascal/VOC2011' or '../../data/sbdd/dataset' onto `root`,
    the folder that the reference calls `data/`: leading '..'/'.' parts and one leading 'data' part are dropped.
    An absolute path is taken from below its last 'data' part ('/home/u/demo-output/data/pascal/VOC2011' ->
    root/pascal/VOC2011); one without a 'data' part cannot be re-rooted (ValueError)."""
    text = str(path).replace('\\', '/')
    parts = [p for p in text.split('/') if p not in ('', '.')]
    if os.path.isabs(str(path)) or text.startswith('/'):
        if 'data' not in parts:
            raise ValueError(f'{path}: an absolute dataset path with no data/ folder in it cannot be re-rooted at '
                             f'{root} (write it relative to the model folder, as the reference does: ../data/...)')
        return os.path.join(str(root), *parts[len(parts) - parts[::-1].index('data'):])
    while parts and parts[0] == '..':
        parts.pop(0)
    if parts and parts[0] == 'data':
        parts.pop(0)
    return os.path.join(str(root), *parts)


def rebase_param_str(param_str, root):
    """Return param_str with every dataset-folder key (dir_keys) re-rooted at `root`; other keys are kept."""
    params = parse_param_str(param_str)
    for key in dir_keys(params):
        params[key] = rebase_path(params[key], root)
    return repr(params)


def map_param_strs(net_param, fn):
    """A copy of `net_param` in which every Python layer whose param_str is a dict literal gets
    param_str = repr(fn(that dict)); fn returns None to leave a layer as it is. The one place that rewrites data
    layers' settings (dataset roots, per-process seeds)."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    for layer in out.layer:
        if layer.type != 'Python' or not layer.python_param.param_str:
            continue
        try:
            params = ast.literal_eval(layer.python_param.param_str)
        except (ValueError, SyntaxError):
            continue
        if isinstance(params, dict):
            params = fn(params)
            if params is not None:
                layer.python_param.param_str = repr(params)
    return out
