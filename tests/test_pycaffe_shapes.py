"""Parameter blobs that change shape and C++ layers shaped from Python, as Caffe 1.0's CPU build serves them:
Blob.reshape of a parameter blob (the memory keeps its capacity: the flat prefix while the count fits, zeros
past it), a Python layer that reshapes its own blob then learns and saves it in the new shape, a layer of Caffe's
own types reads a same-count reshape in its own geometry and refuses another count with a one-line error; C++
layers' setup and reshape (LayerSetUp / Reshape) over lists of blobs; a parameter shared by ParamSpec.name under
another shape (PERMISSIVE) is the owner's memory seen in the sharer's shape. The pycaffe cases run the very
function the oracle ran (tests/golden/make_pycaffe.py shapes)."""
import numpy as np
import pytest

import pycaffe
from conftest import GOLDEN
from golden import make_pycaffe as mp
from netspec import parse_text
from runtime import Net
from solvers import get_solver
from test_pycaffe_oracle import check

STORE = np.load(GOLDEN / 'pycaffe' / 'shapes.npz')


@pytest.mark.oracle
@pytest.mark.parametrize('case', sorted(mp.shape_cases()))
def test_shapes_match_caffe(case, tmp_path):
    ours = {k: np.asarray(v) for k, v in mp.shape_cases()[case](pycaffe, str(tmp_path)).items()}
    prefix = f'{case}/'
    check(case, ours, {k[len(prefix):]: STORE[k] for k in STORE.files if k.startswith(prefix)})


def test_a_reshaped_weight_of_another_count_is_an_error_at_forward(tmp_path):
    (tmp_path / 'n.prototxt').write_text(mp.SHAPES_NET)
    net = pycaffe.Net(str(tmp_path / 'n.prototxt'), pycaffe.TEST)
    net.params['ip'][0].reshape(5, 2)
    with pytest.raises(ValueError, match=r"layer 'ip' \(type InnerProduct\): parameter blob 0 has the shape "
                                         r"\(5, 2\) \(reshaped\), but this layer computes with \(5, 16\)"):
        net.forward()
    net.params['ip'][0].reshape(5, 16)          # back: the first 10 values kept, the rest as the memory held
    net.forward()


def test_layer_reshape_refuses_bottoms_its_parameters_do_not_fit(tmp_path):
    (tmp_path / 'n.prototxt').write_text(mp.SHAPES_NET)
    net = pycaffe.Net(str(tmp_path / 'n.prototxt'), pycaffe.TEST)
    net.blobs['x'].reshape(2, 4, 6, 5)
    conv = net.layer_dict['conv']
    with pytest.raises(ValueError, match=r"layer 'conv' \(Convolution\).*parameter blob 0 of shape \(4, 4, 3, 3\), "
                                         r"the layer has \(4, 3, 3, 3\)"):
        conv.reshape([net.blobs['x']], [net.blobs['conv']])


RESHAPING_LAYER = '''
import numpy as np
import runtime as caffe


class Grows(caffe.Layer):
    """top = sum(w) * bottom, with w a blob of its own that the layer reshapes from 2 to 3 values at setup."""

    def setup(self, bottom, top):
        self.blobs.add_blob(2)
        self.blobs[0].data[...] = [1, 2]
        self.blobs[0].reshape(3)

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.blobs[0].data.sum() * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[...] += (top[0].diff * bottom[0].data).sum()
'''


def test_a_python_layer_learns_and_saves_its_reshaped_blob(tmp_path, monkeypatch):
    (tmp_path / 'grows.py').write_text(RESHAPING_LAYER)
    monkeypatch.syspath_prepend(str(tmp_path))
    text = ('layer { name: "in" type: "Input" top: "x" top: "y" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "g" type: "Python" bottom: "x" top: "g" python_param { module: "grows" layer: "Grows" } }\n'
            'layer { name: "l" type: "EuclideanLoss" bottom: "g" bottom: "y" top: "l" }')
    (tmp_path / 'net.prototxt').write_text(text)
    (tmp_path / 'solver.prototxt').write_text('net: "net.prototxt"\nbase_lr: 0.01\nmomentum: 0.9\n'
                                              f'lr_policy: "fixed"\nsnapshot_prefix: "{tmp_path}/snap"\n')
    solver = get_solver(str(tmp_path / 'solver.prototxt'))
    w = solver.net.params['g'][0]
    assert tuple(w.shape) == (3,) and w.tolist() == [0.0, 0.0, 0.0]    # grown past its memory: zeros, as Caffe
    w.data[...] = 1.0
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    solver.feed = {'x': x, 'y': np.zeros((2, 3), np.float32)}
    solver.step(2)
    # loss = sum((s x)^2) / 2 / N with s = sum(w): dL/dw_j = s * sum(x^2) / N, the same for the three values
    s0 = 3.0
    g0 = s0 * 55 / 2
    v1 = 0.01 * g0
    s1 = s0 - 3 * v1
    v2 = 0.9 * v1 + 0.01 * s1 * 55 / 2
    np.testing.assert_allclose(w.detach().numpy(), 1 - v1 - v2, rtol=1e-5)
    solver.net.save(str(tmp_path / 'w.caffemodel'))
    again = Net(parse_text(text), weights=str(tmp_path / 'w.caffemodel'))
    np.testing.assert_allclose(again.params['g'][0].detach().numpy(), w.detach().numpy())


PERMISSIVE = '''
layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 2 dim: 6 } shape { dim: 2 dim: 4 } } }
layer { name: "ip_a" type: "InnerProduct" bottom: "a" top: "ip_a" param { name: "w" }
  inner_product_param { num_output: 4 bias_term: false } }
layer { name: "ip_b" type: "InnerProduct" bottom: "b" top: "ip_b" param { name: "w" share_mode: PERMISSIVE }
  inner_product_param { num_output: 6 bias_term: false } }
'''


def test_a_permissive_sharer_sees_the_owners_memory_in_its_own_shape(tmp_path):
    (tmp_path / 'n.prototxt').write_text('force_backward: true\n' + PERMISSIVE)
    net = pycaffe.Net(str(tmp_path / 'n.prototxt'), pycaffe.TRAIN)
    owner, sharer = net.params['ip_a'][0], net.params['ip_b'][0]
    assert owner.shape == (4, 6) and sharer.shape == (6, 4)
    owner.data[...] = np.arange(24, dtype=np.float32).reshape(4, 6)
    np.testing.assert_array_equal(sharer.data, np.arange(24).reshape(6, 4))
    b = np.ones((2, 4), np.float32)
    out = net.forward(a=np.zeros((2, 6), np.float32), b=b)
    np.testing.assert_allclose(out['ip_b'], b @ np.arange(24).reshape(6, 4).T)
    net.blobs['ip_a'].diff[...] = 0
    net.blobs['ip_b'].diff[...] = 1
    net.backward()
    np.testing.assert_allclose(sharer.diff, np.full((6, 4), 2.0))        # the sharer's diff, in its shape ...
    np.testing.assert_allclose(owner.diff, np.full((4, 6), 2.0))         # ... is the owner's memory
    net.save(str(tmp_path / 'w.caffemodel'))
    from weights import read_weights
    saved = read_weights(str(tmp_path / 'w.caffemodel'))
    assert saved['ip_a'][0].shape == (4, 6) and saved['ip_b'][0].shape == (6, 4)     # each in its own shape


SHARED_LAYER = '''
import runtime as caffe


class Owns(caffe.Layer):
    def setup(self, bottom, top):
        self.blobs.add_blob(*self.param_str.split())

    def reshape(self, bottom, top):
        top[0].reshape(1)

    def forward(self, bottom, top):
        top[0].data[0] = float(self.blobs[0].data.ravel() @ (1 + self.blobs[0].data.ravel()))
'''


def test_a_python_layer_sharing_under_another_shape_sees_its_own(tmp_path, monkeypatch):
    (tmp_path / 'owns.py').write_text(SHARED_LAYER)
    monkeypatch.syspath_prepend(str(tmp_path))
    text = ('layer { name: "a" type: "Python" top: "a" param { name: "w" } '
            'python_param { module: "owns" layer: "Owns" param_str: "2 3" } }\n'
            'layer { name: "b" type: "Python" top: "b" param { name: "w" share_mode: PERMISSIVE } '
            'python_param { module: "owns" layer: "Owns" param_str: "3 2" } }')
    net = Net(parse_text(text))
    a, b = net.layers[0].impl.blobs[0], net.layers[1].impl.blobs[0]
    assert a.shape == (2, 3) and b.shape == (3, 2) and b.data.shape == (3, 2)
    a.data[...] = [[1, 2, 3], [4, 5, 6]]
    assert b.data.tolist() == [[1, 2], [3, 4], [5, 6]]
