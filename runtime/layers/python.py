"""Python layers with Caffe's interface, so that a layer module written for pycaffe runs after `import runtime as
caffe`: `class X(caffe.Layer)` with setup/reshape/forward/backward and blobs with .data/.diff numpy views.

The module named in python_param is imported from sys.path first (as Caffe does), then from the packages an
application added with add_layer_package (the runtime itself knows none: fcnapps adds the reference data layers'
package, `datalayers`, so that the reference nets' `module: 'voc_layers'` is found without their folder on sys.path).
"""
import importlib
import inspect
import math

import numpy as np
import torch

from .. import parallel
from ..phase import TRAIN
from .registry import register
from .base import CaffeLayer, LayerError


def blob_shape(args):
    """A reshape's arguments (ints, or one sequence) as a shape tuple; ValueError for a negative dimension."""
    if len(args) == 1 and not np.isscalar(args[0]):
        args = tuple(args[0])
    shape = tuple(int(a) for a in args)
    if any(s < 0 for s in shape):
        raise ValueError(f'blob dimensions must be non-negative, got {shape}')
    return shape


class LegacyShape:
    """Caffe's LegacyShape accessors over `self.shape`: num, channels, height, width (axis i of a blob with at
    most 4 axes, 1 past its last axis); pycaffe's Blob has them too."""

    name = ''

    def _axis(self, i):
        shape = tuple(self.shape)
        if len(shape) > 4:
            blob = f'blob {self.name!r}: ' if self.name else ''
            raise ValueError(f'{blob}num/channels/height/width need at most 4 axes; its shape is {shape}')
        return int(shape[i]) if i < len(shape) else 1

    @property
    def num(self):
        return self._axis(0)

    @property
    def channels(self):
        return self._axis(1)

    @property
    def height(self):
        return self._axis(2)

    @property
    def width(self):
        return self._axis(3)


class Blob(LegacyShape):
    """A pycaffe-style blob: float32 numpy `data` and `diff` of one shape."""

    def __init__(self, shape=()):
        self._data = np.zeros(tuple(shape), dtype=np.float32)
        self._diff = np.zeros(tuple(shape), dtype=np.float32)

    @property
    def data(self):
        return self._data

    @property
    def diff(self):
        return self._diff

    def reshape(self, *shape):
        """Give the blob a new shape (contents are not kept, as in Caffe); accepts ints or one sequence."""
        shape = blob_shape(shape)
        if shape != self._data.shape:
            self._data = np.zeros(shape, dtype=np.float32)
            self._diff = np.zeros(shape, dtype=np.float32)

    @property
    def shape(self):
        return tuple(self._data.shape)

    @property
    def count(self):
        return int(math.prod(self._data.shape))

    def __repr__(self):
        return f'Blob(shape={self.shape})'


class Layer:
    """Base class of Python layers (pycaffe's caffe.Layer). The net sets `param_str`, `phase` and `blobs` before
    calling setup."""
    param_str = ''
    phase = None

    def __init__(self, layer_param=None):
        pass

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        pass

    def forward(self, bottom, top):
        pass

    def backward(self, top, propagate_down, bottom):
        pass


class PythonLayerImportError(LayerError, ImportError):
    """A Python layer whose module is missing, fails to import, or lacks the class (a LayerError: bad input)."""


#: the packages searched, in order, for a python_param module that sys.path does not have (add_layer_package)
LAYER_PACKAGES = []


def add_layer_package(name):
    """Search the package `name` (a dotted importable name) for python_param modules that sys.path does not
    have, after the packages added before; a package added twice keeps its first place. The application sets
    this; the runtime adds none."""
    if not isinstance(name, str) or not name:
        raise TypeError(f'add_layer_package: expected a package name, got {name!r}')
    if name not in LAYER_PACKAGES:
        LAYER_PACKAGES.append(name)


def _import_error(where, module_name, e):
    """One line: the layer, the module and what went wrong while importing it (with the module's file and line
    for an error in its code)."""
    tb = e.__traceback__
    place = ''
    while tb is not None:
        code = tb.tb_frame.f_code
        if not code.co_filename.startswith('<frozen'):
            place = f' ({code.co_filename}, line {tb.tb_lineno})'
        tb = tb.tb_next
    if isinstance(e, SyntaxError) and e.filename:
        place = f' ({e.filename}, line {e.lineno})'
    msg = e.msg if isinstance(e, SyntaxError) else e
    return PythonLayerImportError(f'{where}: the Python layer module {module_name!r} failed to import: '
                                  f'{type(e).__name__}: {msg}{place}')


def _missing(e, module_name):
    """Whether ModuleNotFoundError `e` says that `module_name` itself (or a package above it) is absent, rather
    than that the module exists and fails on an import of its own."""
    return e.name == module_name or module_name.startswith(f'{e.name}.')


def _import(module_name, where):
    """The module, or None when no module of that name exists; any error raised while importing it is a
    PythonLayerImportError naming the layer and the module."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if _missing(e, module_name):
            return None
        raise _import_error(where, module_name, e) from e
    except Exception as e:
        raise _import_error(where, module_name, e) from e


def _find_class(module_name, class_name, where):
    mod = None
    for qualified in [module_name] + [f'{pkg}.{module_name}' for pkg in LAYER_PACKAGES]:
        mod = _import(qualified, where)
        if mod is not None:
            break
    if mod is None:
        where_else = f' or in the packages {", ".join(LAYER_PACKAGES)}' if LAYER_PACKAGES else ''
        raise PythonLayerImportError(f'{where}: cannot find the Python layer module {module_name!r} on '
                                     f'sys.path{where_else}')
    try:
        return getattr(mod, class_name)
    except AttributeError:
        raise PythonLayerImportError(f'{where}: module {mod.__name__!r} ({getattr(mod, "__file__", "?")}) has no '
                                     f'layer class {class_name!r}') from None


class ParamBlob(LegacyShape):
    """A Python layer's learnable blob (from `self.blobs.add_blob`): `data` and `diff` are the parameter's value and
    diff (on the CPU numpy views of them, elsewhere host copies synchronized around the layer's calls); the solvers
    learn it, weights files save and restore it."""

    def __init__(self, param, owner=None, index=None):
        self.param = param
        self._owner, self._index = owner, index
        self._host = None          # (data, diff) host copies for a parameter off the CPU

    def _grad(self):
        p = self.param
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        return p.grad

    def _seen(self, t):
        """`t` as this layer sees it (a blob shared under another shape: the owner's memory in this layer's)."""
        return t if self._owner is None else self._owner.blob_view(t, self._index)

    @property
    def data(self):
        if self.param.device.type == 'cpu':
            return self._seen(self.param.data).numpy()
        return self._pull()[0]

    @property
    def diff(self):
        if self.param.device.type == 'cpu':
            return self._seen(self._grad()).numpy()
        return self._pull()[1]

    def _pull(self):
        if self._host is None:
            self._host = (self._seen(self.param.detach()).cpu().numpy().copy(),
                          self._seen(self._grad().detach()).cpu().numpy().copy())
        return self._host

    def push(self):
        """Copy host writes back to a parameter off the CPU (after the layer's own code ran)."""
        if self._host is not None:
            with torch.no_grad():
                self.param.copy_(torch.from_numpy(self._host[0]).reshape(self.param.shape))
                self._grad().copy_(torch.from_numpy(self._host[1]).reshape(self.param.shape))
            self._host = None

    def reshape(self, *shape):
        """Caffe's Blob::Reshape: the blob takes the new shape (data kept as the flat prefix when the count does not
        grow, zeros when it grows); the layer computes with it, the solver learns it and weights files save it in
        that shape."""
        if self._owner is None:
            raise ValueError('this blob belongs to no layer of a net')
        self.push()
        self._owner.reshape_blob(self._index, blob_shape(shape), adopt=True)

    @property
    def shape(self):
        return tuple(self.param.shape) if self._owner is None else self._owner.blob_shape(self._index)

    @property
    def count(self):
        return int(self.param.numel())

    def __repr__(self):
        return f'ParamBlob(shape={self.shape})'


class LayerBlobs(list):
    """A Python layer's `self.blobs` in a net: add_blob(*shape) adds a learnable blob (filled with zeros, its
    lr_mult and decay_mult from the layer's ParamSpecs, as a C++ layer's blobs)."""

    def __init__(self, owner):
        super().__init__()
        self._owner = owner

    def add_blob(self, *shape):
        self.append(ParamBlob(self._owner.add_blob(blob_shape(shape)), self._owner, len(self)))

    def push(self):
        for b in self:
            b.push()


class _PythonFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, wrapper, nbottom, *inputs):
        ctx.wrapper, ctx.nbottom = wrapper, nbottom
        bottoms = inputs[:nbottom]
        return tuple(wrapper._run(bottoms))

    @staticmethod
    def backward(ctx, *grads):
        w = ctx.wrapper
        for blob, g in zip(w.top, grads):
            blob.diff[...] = 0 if g is None else g.detach().cpu().numpy().reshape(blob.shape)
        for blob in w.bottom:
            blob.diff[...] = 0
        needs = list(ctx.needs_input_grad[2:2 + ctx.nbottom])
        w.impl.backward(w.top, needs, w.bottom)
        w.impl.blobs.push()       # the layer wrote its blobs' diffs itself, as in Caffe
        out = [None, None]
        for blob, need, ref in zip(w.bottom, needs, w._last_bottoms):
            out.append(torch.from_numpy(blob.diff.copy()).to(ref.device, ref.dtype) if need else None)
        return tuple(out) + (None,) * (len(ctx.needs_input_grad) - len(out))


@register
class Python(CaffeLayer):
    type_name = 'Python'

    def __init__(self, lp, bottom_shapes, ctx):
        super().__init__(lp, bottom_shapes, ctx)
        p = lp.python_param
        if not p.module or not p.layer:
            raise self.error('python_param needs both `module` and `layer`')
        if ctx.phase == TRAIN and parallel.solver_count() > 1 and not parallel.multiprocess():
            # Caffe's PythonLayer::LayerSetUp (its GIL cannot serve several solver threads of one process)
            raise self.error('PythonLayer does not support CLI Multi-GPU, use train.py (solver_count '
                             f'{parallel.solver_count()} without set_multiprocess(True))')
        source = getattr(ctx, 'source', None)
        cls = _find_class(p.module, p.layer, (f'{source}: ' if source else '') + f'layer {self.name!r} (type Python)')
        impl = cls.__new__(cls)
        impl.param_str = p.param_str
        impl.phase = ctx.phase
        impl.blobs = LayerBlobs(self)
        init = getattr(cls, '__init__', object.__init__)
        if init not in (object.__init__, Layer.__init__):
            # pycaffe constructs the class with the LayerParameter; accept classes written either way
            try:
                takes_param = len(inspect.signature(init).parameters) > 1
            except (TypeError, ValueError):
                takes_param = False
            init(impl, lp) if takes_param else init(impl)
        self.impl = impl
        self.bottom = [Blob(s) for s in bottom_shapes]
        self.top = [Blob() for _ in lp.top]
        self._last_bottoms = []
        self.has_backward = type(impl).backward is not Layer.backward
        impl.setup(self.bottom, self.top)
        impl.reshape(self.bottom, self.top)
        impl.blobs.push()

    def top_shapes(self, bottom_shapes):
        return [b.shape for b in self.top]

    def _run(self, bottoms):
        self._last_bottoms = bottoms
        for blob, t in zip(self.bottom, bottoms):
            arr = t.detach().cpu().numpy()
            if blob._data.shape != arr.shape:
                blob.reshape(arr.shape)
            blob._data = arr if arr.dtype == np.float32 else arr.astype(np.float32)
        self.impl.reshape(self.bottom, self.top)
        self.impl.forward(self.bottom, self.top)
        self.impl.blobs.push()
        device, dtype = self.ctx.device, self.ctx.dtype
        return [self.ctx.layout(torch.from_numpy(np.array(b.data, dtype=np.float32, copy=True)).to(device, dtype))
                for b in self.top]

    def forward(self, *bottoms):
        if self.has_backward and torch.is_grad_enabled() and (any(b.requires_grad for b in bottoms) or
                                                              any(p.requires_grad for p in self.blobs)):
            return _PythonFn.apply(self, len(bottoms), *bottoms, *self.blobs)
        return tuple(self._run(bottoms))

