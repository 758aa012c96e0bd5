"""What pycaffe has that this project does not serve, and pycaffe's layer registry listing (the package's
`caffe.layer_type_list()` and the module __getattr__ that names a refused part)."""
import runtime

__all__ = ['NotServed', 'NOT_SERVED', 'layer_type_list', 'not_served']


def layer_type_list():
    """The layer types nets can use here (Caffe lists its registry; this is the runtime's)."""
    return sorted(runtime.REGISTRY)


class NotServed(NotImplementedError, AttributeError):
    """A part of pycaffe this project does not serve."""


#: pycaffe names this project refuses, and why.
NOT_SERVED = {
    'model_libs': 'brocolli\'s model_libs (SSD builders) is not part of pycaffe 1.0',
    'imagenet': 'the ILSVRC mean file (caffe/imagenet) is not shipped',
}


def not_served(name):
    """The package's module __getattr__ (PEP 562): NotServed for a pycaffe name this project refuses, else the
    AttributeError Python gives."""
    if name in NOT_SERVED:
        raise NotServed(f'caffe.{name} is not served by this project ({NOT_SERVED[name]})')
    raise AttributeError(f"module 'caffe' (pycaffe) has no attribute {name!r}")
