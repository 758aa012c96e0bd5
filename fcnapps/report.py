"""Scoring a model folder end to end (the logic behind tools/score.py): the folder's eval net pointed at a
dataset root, run over a split, every head's metrics beside the paper's published figures, a JSON report."""
import json
import os

import datalayers
from netspec import read_net
from netspec.atomic import atomic_file
from netspec.param_str import parse_param_str
from runtime import Net
from scoring import (METRIC_LABELS, METRICS, class_names, compute_hists, dataset_family, excluded_classes, heads,
                     scores)
from scoring.paper import published

from .recipe import with_data_root

EVAL_NETS = ('val.prototxt', 'test.prototxt')


def eval_prototxt(folder):
    """The eval net of a model folder (val.prototxt or test.prototxt), or `folder` itself if it is a file."""
    if os.path.isfile(folder):
        return folder
    for name in EVAL_NETS:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f'model folder {folder} has no eval net: expected one of {", ".join(EVAL_NETS)}')


def prepare_net_param(prototxt, data_root=None, split=None):
    """The eval NetParameter with its data layer's dataset folders found as a training run finds them
    (recipe.with_data_root: under data_root, else beside the net's folder), its split set, and randomize off
    (scoring visits each id once in file order, even on a split whose name contains 'train')."""
    net_param = with_data_root(read_net(prototxt), os.path.dirname(os.path.abspath(prototxt)), data_root)
    layers = datalayers.data_layers(net_param)
    if not layers:
        raise ValueError(f'{prototxt}: no reference data layer (voc_layers, siftflow_layers, nyud_layers, '
                         f'pascalcontext_layers) to read a split from')
    for l in layers:
        params = parse_param_str(l.python_param.param_str, l.name)
        if split is not None:
            params['split'] = split
        params['randomize'] = False
        l.python_param.param_str = repr(params)
    return net_param


def _test_net(net_param, weights, device, source=None):
    return Net(net_param, weights=weights, phase='test', device=device, source=source)


def score_model(folder, weights, data_root=None, split=None, save_dir=None, device='cpu', limit=None,
                progress=True, net_factory=None, warn=None, family=None):
    """Score a model folder's eval net over a split; returns the report dict (see format_report).

    net_factory(net_param, weights, device) builds the net (default: runtime.Net in the TEST phase). Class names
    and the classes the paper leaves out come from the dataset family of the net's data layer. Weights that do
    not fit the net in full (layers left at their fillers, file layers ignored) are named in the report's
    'weights_mismatch' and given to warn(message) before scoring. family: the DatasetFamily whose class names
    the report uses (default: that of the net's data layer or of the folder's record; a user's dataset gives
    its Description.family())."""
    prototxt = eval_prototxt(folder)
    net_param = prepare_net_param(prototxt, data_root, split)
    dataset = datalayers.dataset_for_net(net_param)
    ids = dataset.ids if limit is None else dataset.ids[:limit]
    pairs = heads(net_param)
    if not pairs:
        raise ValueError(f'{prototxt}: no SoftmaxWithLoss layer, so no score/label pair to evaluate')
    net = net_factory(net_param, weights, device) if net_factory else _test_net(net_param, weights, device, prototxt)
    mismatch = weights_mismatch(net, weights)
    if mismatch and warn:
        warn(mismatch)
    results = compute_hists(net, ids, pairs, save_dir=save_dir, progress=progress,
                            desc=os.path.basename(os.path.normpath(folder)))
    model = os.path.basename(os.path.normpath(folder if os.path.isdir(folder) else os.path.dirname(folder)))
    family = family or getattr(dataset, 'family', None) or dataset_family(net_param, model)
    paper = [e._asdict() for e in published(model, dataset.split)]
    other = _other_classes(family, pairs, results)
    report = {'model': model, 'prototxt': prototxt, 'weights': weights, 'split': dataset.split,
              'images': len(ids), 'weights_mismatch': mismatch, 'heads': [], 'paper': [] if other else paper}
    if other and paper:
        report['paper_note'] = f"the paper's figures for {model} on {dataset.split} are not shown: {other}"
    for (score, gt, loss), (hist, mean_loss) in zip(pairs, results):
        n = hist.shape[0]
        head = {'score': score, 'label': gt, 'loss': mean_loss, 'classes': list(class_names(family, gt, n)),
                'metrics': scores(hist), 'hist': hist.tolist()}
        excl = excluded_classes(family, gt)
        if excl:
            head['metrics_paper'] = scores(hist, excl)  # as the paper: absent classes left out of the averages
        report['heads'].append(head)
    return report


def _other_classes(family, pairs, results):
    """Why the results are not the dataset family's (whose the paper's figures are), or None: a head scored over
    another number of classes (synthetic data, a net of another dataset)."""
    for (_, gt, _), (hist, _) in zip(pairs, results):
        head = family.head(gt) if family is not None else None
        if head is None or len(head.classes) != hist.shape[0]:
            want = f'the {len(head.classes)} classes of {family.title}' if head is not None else 'another dataset'
            return f"they are for {want}; this net's {gt} head scores {hist.shape[0]} classes"
    return None


def weights_mismatch(net, weights):
    """The line naming the layers of `weights` and of the net that did not fit each other (runtime.Net's
    last_copy), or None (all fit, no weights given, or a net that does not say)."""
    copied = getattr(net, 'last_copy', None)
    if not weights or copied is None:
        return None
    return copied.mismatch()


def _pct(v):
    return '-' if v is None or v != v else f'{100 * v:6.2f}'


def format_report(report):
    """Human-readable lines: each head's metrics beside the paper's rows, then per-class IU."""
    lines = [f"{report['model']} on {report['split']} ({report['images']} images)"]
    for head in report['heads']:
        lines.append('')
        lines.append(f"head {head['score']} vs {head['label']}" +
                     (f"   mean loss {head['loss']:.6g}" if head['loss'] is not None else ''))
        rows = [('this run', ''.join(f"{_pct(head['metrics'][m]):>12s}" for m in METRICS), '')]
        if 'metrics_paper' in head:
            ex = ', '.join(head['classes'][i] for i in head['metrics_paper']['excluded'])
            rows.append(('this run, excluding ' + ex,
                         ''.join(f"{_pct(head['metrics_paper'][m]):>12s}" for m in METRICS), ''))
        geo = head['label'] == 'geo'
        for e in report['paper']:
            mark = f"   [{e['source']}]" + ('' if e['verified'] else ' UNVERIFIED')
            if geo:
                if e['geo_acc'] is not None:
                    rows.append(('paper, geom. acc.: ' + e['row'], f"{e['geo_acc']:12.1f}", mark))
                continue
            vals = ''.join(f"{('-' if e[m] is None else f'{e[m]:.1f}'):>12s}" for m in METRICS)
            rows.append(('paper: ' + e['row'], vals, mark))
        width = max(len(label) for label, _, _ in rows)
        lines.append(f"  {'':{width}s}" + ''.join(f'{METRIC_LABELS[m]:>12s}' for m in METRICS))
        lines.extend(f'  {label:{width}s}{vals}{mark}' for label, vals, mark in rows)
        if report.get('paper_note'):
            lines.append(f"  ({report['paper_note']})")
        elif not report['paper']:
            lines.append(f"  (no published figures for {report['model']} on {report['split']})")
        lines.append('  per-class IU:')
        for name, iu in zip(head['classes'], head['metrics']['per_class_iu']):
            lines.append(f"    {name:24s} {_pct(iu)}")
    return lines


def write_json(report, path, what='score report'):
    """Write the report (or any JSON record: `what` names it in errors) atomically (NaN written as null;
    netspec.atomic: the umask's mode, as any other file)."""
    def clean(x):
        if isinstance(x, float) and x != x:
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x
    with atomic_file(path, what, mode='w') as f:
        json.dump(clean(report), f, indent=1)
