"""tools/bench.py and runtime.bench: the FLOPs each layer needs, the per-layer profile, the printed report."""
import json

import numpy as np
import torch

from runtime import Net
from runtime.bench import layer_flops, layer_times

NET = '''
layer { name: "input" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } shape { dim: 1 dim: 1 dim: 8 dim: 8 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 4 kernel_size: 3
  pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "score" type: "Convolution" bottom: "conv1" top: "score" param { lr_mult: 0 } param { lr_mult: 0 }
  convolution_param { num_output: 3 kernel_size: 3 stride: 2 pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "up" type: "Deconvolution" bottom: "score" top: "up" param { lr_mult: 0 }
  convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }
layer { name: "crop" type: "Crop" bottom: "up" bottom: "data" top: "crop" crop_param { axis: 2 offset: 1 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "crop" bottom: "label" top: "loss" }
'''


def net_and_feed():
    from weights.surgery import interp
    torch.manual_seed(0)
    net = Net(NET, phase='train')
    interp(net)
    rng = np.random.RandomState(0)
    return net, dict(data=rng.randn(1, 3, 8, 8).astype(np.float32), label=rng.randint(0, 3, (1, 1, 8, 8)))


def test_flops_count_the_work_each_layer_has_to_do():
    net, feed = net_and_feed()
    net.forward(**feed)
    f = layer_flops(net)
    conv1 = 2 * 4 * 3 * 9 * 8 * 8
    assert f['conv1'] == (conv1, conv1)           # weight diff only: the data needs no diff
    score = 2 * 3 * 4 * 9 * 4 * 4
    assert f['score'] == (score, score)           # bottom diff only: its weight is frozen
    up = 2 * 3 * 16 * 4 * 4                       # per channel: the bilinear weight is diagonal
    assert f['up'] == (up, up)


def test_profile_times_every_layer_forward_and_backward_and_restores_the_net():
    net, feed = net_and_feed()
    plan = list(net._plan)
    times = layer_times(net, feed, backward=True, repeat=2)
    assert list(times) == [step[3] for step in plan]
    assert all(fwd > 0 for fwd, _ in times.values())       # every layer ran under the timer
    assert times['input'][1] == 0                              # nothing below the data has a backward
    assert all(times[name][1] > 0 for name in ('conv1', 'relu1', 'score', 'up', 'crop', 'loss'))
    assert net._plan == plan
    net.forward(**feed)
    net.backward()
    assert net.params['conv1'][0].grad is not None


def test_bench_tool_prints_times_ratios_and_the_per_layer_tables(tmp_path, capsys):
    from tools import bench
    out = tmp_path / 'b.json'
    bench.main(['--size', '40', '--width', '0.0625', '--repeat', '1', '--profile', '--no-memory',
                '--json', str(out)])
    text = capsys.readouterr().out
    assert 'forward_backward  runtime' in text and '% of peak' in text
    assert 'training iteration (TRAIN): per layer' in text and 'conv1_2' in text
    r = json.loads(out.read_text())
    assert r['forward'][0] > 0 and r['forward_backward'][0] > 0 and r['forward_max_abs_diff'] < 1e-3
