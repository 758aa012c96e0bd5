"""The ablation run (fcndemo.ablate, tools/ablate.py): every study on a tiny setting, one run shared by the tests
below; each checks one promise: same initialization, the variant's option really in its net, the numbers sound."""
import io
import json
import os

import numpy as np
import pytest
import torch

from netspec import read_net, read_solver
from weights import read_weights
from weights.surgery import upsample_filt

from tools import ablate as tool


def _params(path):
    """{layer: [arrays]} of a weights file, layers with blobs only."""
    return {k: v for k, v in read_weights(path).items() if len(v)}


@pytest.fixture(scope='module')
def mod():
    return tool._fcndemo_ablate()


@pytest.fixture(scope='module')
def quick(mod, tmp_path_factory):
    out = tmp_path_factory.mktemp('ablate')
    cfg = mod.AblationConfig.quick(out=str(out), progress=False)
    out = io.StringIO()
    results = mod.run(cfg, out=out)
    return cfg, results, out.getvalue()


def _runs(results):
    return results['seeds'][0]['runs']


def _folder(results, key):
    return os.path.dirname(_runs(results)[key]['weights'])


def test_every_study_prints_its_table_in_the_papers_metrics(quick, mod):
    cfg, results, text = quick
    assert cfg.studies == mod.DEFAULT_STUDIES and 'table1' not in cfg.studies
    for study in cfg.studies:
        assert mod.TITLES[study] in text
        assert results['tables'][study][0] == mod.TITLES[study]
    assert 'pixel acc.' in text and 'mean IU' in text and 'f.w. IU' in text
    for label in ('FCN-32s-fixed', 'FCN-2s', 'FCN-32s, p = 0.25', 'FCN-16s, learned upsampling',
                  'FCN-32s + shift-and-stitch (f = 2)'):
        assert label in text


def test_every_row_has_finite_metrics_between_0_and_1(quick):
    _, results, _ = quick
    rows = list(_runs(results).values()) + list(results['seeds'][0]['stitch'].values())
    assert len(rows) == 13 + 3
    for row in rows:
        for k in ('overall_acc', 'mean_acc', 'mean_iu', 'fwavacc'):
            assert np.isfinite(row['metrics'][k]) and 0 <= row['metrics'][k] <= 1, (row['label'], k)


def test_results_json_round_trips_with_config_and_environment(quick):
    cfg, results, _ = quick
    with open(os.path.join(cfg.out, 'results.json')) as f:
        assert json.load(f) == results
    env = results['environment']
    assert env['torch'] == torch.__version__ and env['threads'] == 1 and 'onednn' in env
    assert results['config']['iters'] == cfg.iters and results['config']['studies'] == list(cfg.studies)
    assert os.path.getsize(os.path.join(cfg.out, 'curves.png')) > 1000


def test_every_variant_trains_the_same_iterations_from_the_surgery_or_its_stage_parent(quick):
    cfg, results, _ = quick
    runs = _runs(results)
    init = results['seeds'][0]['init']
    parents = {'fcn32s-continued': 'fcn32s', 'fcn16s': 'fcn32s', 'fcn8s': 'fcn16s', 'fcn4s': 'fcn8s', 'fcn2s': 'fcn4s',
               'fcn16s-learned': 'fcn32s'}
    for key, r in runs.items():
        assert r['init'] == (runs[parents[key]]['weights'] if key in parents else init), key
        assert r['iters'] == cfg.iters and len(r['loss_curve']) == cfg.iters, key
        sp = read_solver(os.path.join(_folder(results, key), 'solver.prototxt'))
        assert (sp.lr_policy, sp.momentum, sp.base_lr) == ('fixed', pytest.approx(0.99),
                                                           pytest.approx(r['base_lr'])), key
    assert [runs[f'fcn{s}s']['base_lr'] for s in (32, 16, 8, 4, 2)] == list(cfg.lrs)
    assert runs['fcn32s-continued']['base_lr'] == runs['fcn16s']['base_lr']
    assert runs['fcn32s-continued']['stride'] == 32


def test_fcn32s_fixed_learns_only_the_last_layer(quick):
    _, results, _ = quick
    before = _params(results['seeds'][0]['init'])
    after = _params(_runs(results)['fcn32s-fixed']['weights'])
    assert set(before) == set(after)
    for name in before:
        same = all(np.array_equal(a, b) for a, b in zip(before[name], after[name]))
        assert same == (name != 'score_fr'), name
    change = _runs(results)['fcn32s-fixed']['max_weight_change']
    assert change['score_fr'] > 0 and all(v == 0 for k, v in change.items() if k != 'score_fr')
    trained = _params(_runs(results)['fcn32s']['weights'])
    assert not np.array_equal(trained['conv1'][0], before['conv1'][0])


def test_p_1_through_the_sampling_layer_equals_the_unsampled_fcn32s_bit_for_bit(quick):
    _, results, _ = quick
    runs = _runs(results)
    layers = [l for l in read_net(os.path.join(_folder(results, 'sampled-1'), 'train.prototxt')).layer
              if l.type == 'Python' and l.python_param.layer == 'LossSamplingLayer']
    assert len(layers) == 1 and "'keep': 1.0" in layers[0].python_param.param_str
    assert runs['sampled-1']['loss_curve'] == runs['fcn32s']['loss_curve']
    a, b = _params(runs['sampled-1']['weights']), _params(runs['fcn32s']['weights'])
    assert all(np.array_equal(x, y) for k in b for x, y in zip(a[k], b[k]))
    assert results['p1_sampling_equals_fcn32s'] is True


def test_loss_sampling_below_1_drops_labels_and_takes_1_over_p_images_per_iteration(quick):
    _, results, _ = quick
    runs = _runs(results)
    for p in (0.5, 0.25):
        key = f'sampled-{p:g}'
        assert read_solver(os.path.join(_folder(results, key), 'solver.prototxt')).iter_size == round(1 / p)
        assert runs[key]['iter_size'] == round(1 / p)
        # the same expected update as whole-image training: Caffe divides the 1/p passes' diffs by iter_size
        assert runs[key]['base_lr'] == pytest.approx(runs['sampled-1']['base_lr'] / p)
        assert runs[key]['loss_curve'] != runs['sampled-1']['loss_curve']
        # fewer pixels in the summed loss: at the shared start (score_fr zero) it is that of the kept pixels only
        assert runs[key]['loss_curve'][0] < runs['sampled-1']['loss_curve'][0]


def test_class_balancing_weights_the_train_loss_and_scores_with_the_plain_one(quick):
    cfg, results, _ = quick
    weights = results['seeds'][0]['class_weights']
    assert len(weights) == cfg.num_classes and len(set(weights)) > 1
    train = read_net(os.path.join(_folder(results, 'balanced'), 'train.prototxt'))
    val = read_net(os.path.join(_folder(results, 'balanced'), 'val.prototxt'))
    loss, = [l for l in train.layer if l.name == 'loss']
    assert loss.type == 'Python' and repr(weights)[1:-1] in loss.python_param.param_str
    assert [l.type for l in val.layer if l.name == 'loss'] == ['SoftmaxWithLoss']


def test_augmentation_mirrors_and_jitters_the_train_data_only(quick):
    cfg, results, _ = quick
    folder = _folder(results, 'augmented')
    train, val = (read_net(os.path.join(folder, f)) for f in ('train.prototxt', 'val.prototxt'))
    assert "'mirror': True" in train.layer[0].python_param.param_str
    assert f"'jitter': {cfg.jitter}" in train.layer[0].python_param.param_str
    assert 'mirror' not in val.layer[0].python_param.param_str
    plain = read_net(os.path.join(_folder(results, 'fcn32s'), 'train.prototxt'))
    assert 'mirror' not in plain.layer[0].python_param.param_str


def test_learned_upsampling_learns_the_2x_layer_and_keeps_the_final_one_fixed(quick):
    _, results, _ = quick
    lr = {}
    for key in ('fcn16s', 'fcn16s-learned'):
        net = read_net(os.path.join(_folder(results, key), 'train.prototxt'))
        lr[key] = {l.name: l.param[0].lr_mult for l in net.layer if l.type == 'Deconvolution'}
    assert lr['fcn16s'] == {'upscore2': 0, 'upscore16': 0}
    assert lr['fcn16s-learned'] == {'upscore2': 1, 'upscore16': 0}
    frozen = _params(_runs(results)['fcn16s']['weights'])['upscore2'][0]
    assert np.array_equal(frozen[1, 1], upsample_filt(4)) and not frozen[0, 1].any()


def test_shift_and_stitch_scores_fcn32s_weights_at_stride_16_as_the_rarefied_net(quick, mod):
    """The stitched score_fr goes through the rarefied net's head; the rarefied net holds FCN-32s's weights."""
    cfg, results, _ = quick
    w32 = _runs(results)['fcn32s']['weights']
    net32, rare = mod.stitch_nets(cfg, w32)
    a32, ar = net32.to_arrays(), rare.to_arrays()
    assert set(ar) == set(a32)
    for name in a32:
        assert all(np.array_equal(x, y) for x, y in zip(a32[name], ar[name])) == (name != 'upscore'), name
    assert ar['upscore'][0].shape[2:] == (32, 32) and np.array_equal(ar['upscore'][0][0, 0], upsample_filt(32))
    # random (non-zero) score weights, so that the maps differ from zero
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(net32.params['score_fr'][0].shape, generator=g)
    for net in (net32, rare):
        net.params['score_fr'][0].data.copy_(weight)
    data = torch.randn(1, 3, 70, 77, generator=g) * 50
    stitched, dense, seconds = mod.stitched_prediction(net32, rare, data)
    assert stitched.shape == dense.shape == (1, cfg.num_classes, 70, 77) and seconds > 0
    assert not torch.equal(stitched, dense)   # pad 100: the two agree only away from the border


def test_the_stitched_stride_16_map_is_aligned_with_the_rarefied_nets(quick, mod):
    """On an image larger than score_fr's receptive field (222 px), the stitched score_fr equals the rarefied
    net's in the interior at offset (0, 0) and nowhere at a one-cell offset: stitched_prediction puts it in place
    without a shift."""
    cfg, results, _ = quick
    net32, rare = mod.stitch_nets(cfg, _runs(results)['fcn32s']['weights'])
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(net32.params['score_fr'][0].shape, generator=g)
    for net in (net32, rare):
        net.params['score_fr'][0].data.copy_(weight)
    data = torch.randn(1, 3, 400, 400, generator=g) * 50
    with torch.no_grad():
        rare.forward(data=data)
        d = rare.blobs['score_fr'].clone()
        s = mod.shift_and_stitch(net32, 2, {'data': data}, blob='score_fr', step=16)
    h, w = min(d.shape[2], s.shape[2]), min(d.shape[3], s.shape[3])
    tol = 1e-4 * float(d.abs().max())

    def matches(dy, dx):
        a = d[:, :, max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
        b = s[:, :, max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
        return ((a - b).abs().amax(1) <= tol).float().mean().item()
    assert matches(0, 0) > 0.25
    assert all(matches(dy, dx) == 0 for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))
    assert ((d - s[:, :, :d.shape[2], :d.shape[3]]).abs()[:, :, 12:16, 12:16] <= tol).all()   # the centre


def test_the_stitch_study_compares_rows_at_output_stride_16(quick):
    _, results, _ = quick
    rows = results['seeds'][0]['stitch']
    assert rows['stitched']['stride'] == rows['fcn16s']['stride'] == 16


def test_the_tool_refuses_a_sampling_rate_that_is_not_1_over_k(tmp_path, capfd):
    assert tool.main(['--quick', '--sampling', '0.3', '--out', str(tmp_path)]) == 2
    assert "each p must be 1/k" in capfd.readouterr().err
