"""Generators for the FCN model folders, and the per-net builders they are made of.

Folders (``FOLDERS``): the 15 reference folders (voc-fcn32s, voc-fcn16s, voc-fcn8s, voc-fcn8s-atonce,
voc-fcn-alexnet, siftflow-fcn32s/16s/8s, nyud-fcn32s-color/-hha/-color-d/-color-hha, pascalcontext-fcn32s/16s/8s)
plus two nets of the paper that the reference lacks: voc-fcn32s-fixed (only the score layer learns) and
voc-fcn-googlenet (Inception-v1 trunk).

    make_folder(folder, width=1.0, num_classes=None) -> {file name: caffe_pb2 message}
        the folder's nets under the reference's file names (train/val or trainval/test), deploy.prototxt
        (an Input layer 'input' with top data 1x3x500x500, or the folder's own input tops; no dropout, no loss)
        and solver.prototxt (a SolverParameter). width scales every trunk channel count (same topology and crop
        offsets: width=1/16 gives conv1_1 4 channels and fc6 256); num_classes sets the score layers
        (SIFT Flow: the semantic head; pass a pair for both).
    write_folder(folder, out_dir, keep=False, **kw) -> [paths]   nets as Caffe text, the solver in the reference's
                                                    layout (write_files(out_dir, {file: message}) for other nets).
    solver_text(solver_param) -> str                 that layout.

Per-net builders (each returns a NetParameter; ``source`` is where the blobs come from, default
``input_data()``, i.e. a deploy net; with a Python data source the net has dropout and the loss):

    fcn_vgg16(source=None, stride=32|16|8|4|2, num_classes=21, width=1.0, at_once=False, fixed=False,
              dropout=None, loss=None, normalize=False, upsampling='frozen'|'learned', pool5_stride=2|1,
              loss_sampling=1.0, sampling_cell=1, class_weights=None)
        (the options after `normalize` are the paper's studied alternatives, off by default: learned
        intermediate upsampling, decreased subsampling, loss sampling, class balancing; strides 4 and 2 fuse
        pool2 and pool1)
    fcn_alexnet(source=None, num_classes=21, width=1.0, dropout=None, loss=None, normalize=True)
    fcn_googlenet(source=None, num_classes=21, width=1.0, dropout=None, loss=None, normalize=False)
    fcn_siftflow(source=None, stride=32|16|8, num_classes=(33, 3), width=1.0, ...)    two heads: sem, geo
    fcn_nyud_early(source=None, num_classes=40, width=1.0, ...)     color + depth -> Concat -> conv1_1_bgrd
    fcn_nyud_late(source=None, num_classes=40, width=1.0, ...)      two streams, score_fused, crop to color

Data sources:

    input_data(shape=(1, 3, 500, 500), tops=('data',), shapes=None, labels=())    an Input layer named 'input'
        (with labels, e.g. tops=('data', 'label') and labels=('label',), the net keeps dropout and the loss)
    python_data(module, layer, param_dict, tops=('data', 'label'))     a Python data layer, param_str=str(param_dict)
    voc_data(split, root='../data'), siftflow_data(split), nyud_data(split, tops, names), pascalcontext_data(split)

Example: a thin FCN-8s for tests, fed by an Input blob of 1x3x64x64:

    from netspec.models import fcn_vgg16, input_data
    net = fcn_vgg16(input_data((1, 3, 64, 64)), stride=8, num_classes=5, width=1/16)

Records (the facts that netspec, datalayers, scoring, solvers and tools share; see families.py for why here):

    Folder (folders.py): name, family, builder, data, solver, iters, score_every, init, deploy, builder_kw,
        reference; folder(name or path) -> Folder (KeyError if unknown), find_folder(path) -> Folder or None.
    DatasetFamily (families.py): name, title, heads (Head: label, classes, absent), nets (train/eval file and
        split), eval_split, eval_images, layers (ReferenceLayer: module, layer, dataset), mean, inputs (image
        top, channels), num_classes; FAMILIES = (VOC, SIFTFLOW, NYUD, PASCALCONTEXT), family(name),
        family_of_layer(module, layer), family_of_net(net_param); LABEL_TOPS, INPUT_CHANNELS and
        SINGLE_CHANNEL_TOPS over all families; OWN_LAYER, the data layer of a user's own dataset (whose family
        datalayers.own.Description.family() makes from its description file).

The building blocks (trunks.vgg16 / alexnet / googlenet add a trunk to a NetSpec; parts.fcn_head the
score/upsample/crop/fuse head, whose crop offsets come from netspec.crop) can be used for other nets.
"""
from .families import (FAMILIES, INPUT_CHANNELS, LABEL_TOPS, NYUD, OWN_LAYER, PASCALCONTEXT, REFERENCE_LAYERS,
                       SINGLE_CHANNEL_TOPS, SIFTFLOW, VOC, DatasetFamily, Head, ReferenceLayer, family,
                       family_of_layer, family_of_net)
from .folders import (EXTRA_FOLDERS, FOLDERS, REFERENCE_DEPLOY, REFERENCE_FOLDERS, Folder, find_folder, folder,
                      folder_name, make_folder, make_solver, solver_text, write_files, write_folder)
from .nets import fcn_alexnet, fcn_googlenet, fcn_nyud_early, fcn_nyud_late, fcn_siftflow, fcn_vgg16
from .parts import (DataSource, input_data, nyud_data, pascalcontext_data, python_data, scaled, siftflow_data,
                    voc_data)
from . import classes, families, parts, trunks

__all__ = ['FOLDERS', 'REFERENCE_FOLDERS', 'EXTRA_FOLDERS', 'REFERENCE_DEPLOY', 'Folder', 'folder', 'find_folder',
           'folder_name', 'make_folder', 'write_folder', 'write_files', 'make_solver', 'solver_text',
           'DatasetFamily', 'Head', 'ReferenceLayer', 'FAMILIES', 'VOC', 'SIFTFLOW', 'NYUD', 'PASCALCONTEXT',
           'REFERENCE_LAYERS', 'OWN_LAYER', 'LABEL_TOPS', 'INPUT_CHANNELS', 'SINGLE_CHANNEL_TOPS', 'family',
           'family_of_layer', 'family_of_net',
           'fcn_vgg16', 'fcn_alexnet', 'fcn_googlenet', 'fcn_siftflow', 'fcn_nyud_early', 'fcn_nyud_late',
           'DataSource', 'input_data', 'python_data', 'voc_data', 'siftflow_data', 'nyud_data', 'pascalcontext_data',
           'scaled', 'classes', 'families', 'parts', 'trunks']
