"""A net as Caffe's Net::Init lays it out: the Split layers it inserts, its blob order, and which layers, bottoms,
parameters and blobs its backward computes (net.cpp, util/insert_splits.cpp).

    g = CaffeGraph.of(facts, force_backward)      # facts: one LayerFacts per layer of the filtered net
    g.layers               [CaffeLayer(name, type, bottoms, tops, loss, index)] with Split layers in place;
                           index is the position in `facts` (None for a Split)
    g.blob_names           Caffe's blob order (Split tops included)
    g.layer_need[i], g.bottom_need[i][k], g.param_need[i][j], g.blob_need[name]
                           layer_need_backward_, bottom_need_backward_, param_propagate_down, blob_need_backward_
    g.written(lo, hi)      the blobs whose diffs BackwardFromTo(hi, lo) writes (indices into g.layers)
    g.split_sources        {split top: (source blob, consumer facts index, bottom index)}; the consumer is None for
                           the top that carries a loss weight

InsertSplits: a top read by more than one bottom (a top with an explicit nonzero loss_weight counts as one more
reader) gets a Split layer right after its producer, named `<blob>_<layer>_<top index>_split`, whose tops
`<blob>_<layer>_<top index>_split_<k>` feed the readers in order (k = 0 is the loss's when there is one: then the
producer's loss_weight list is cleared, as Caffe does). In-place layers reuse their bottom's name.

Net::Init: a layer needs backward if a bottom blob needs it (propagate_down overrides per bottom) or one of its
parameters has lr_mult != 0, and then its tops need it. Walking back from the end, a layer that neither produces a
loss nor feeds a contributing layer does not run its backward, nor does a layer all of whose tops are not
back-propagated. force_backward then makes every layer run backward, every bottom the layer allows (a loss layer
refuses its label, bottom 1) need it, and every parameter receive a diff.
"""
from dataclasses import dataclass, field


@dataclass
class LayerFacts:
    """What Net::Init reads from one layer."""
    name: str
    type: str
    bottoms: list
    tops: list
    loss_weight: list                     # the prototxt's loss_weight list (may be empty)
    default_loss: bool = False            # a LossLayer: top 0 weighs 1 when no loss_weight is given
    param_lr: list = field(default_factory=list)          # lr_mult of each parameter blob
    propagate_down: list = field(default_factory=list)    # the prototxt's list (empty: not given)
    allow_force_backward: list = field(default_factory=list)  # per bottom (Layer::AllowForceBackward)


@dataclass
class CaffeLayer:
    name: str
    type: str
    bottoms: list
    tops: list
    loss: list            # Layer::loss(top) after SetLossWeights
    index: object         # position in the facts list; None for a Split layer
    param_lr: list = field(default_factory=list)
    propagate_down: list = field(default_factory=list)
    allow_force_backward: list = field(default_factory=list)


def _split_layer_name(layer, blob, j):
    return f'{blob}_{layer}_{j}_split'


def _split_blob_name(layer, blob, j, k):
    return f'{blob}_{layer}_{j}_split_{k}'


def _loss_weights(f, explicit):
    if len(explicit):
        return [float(explicit[j]) if j < len(explicit) else 0.0 for j in range(len(f.tops))]
    return [1.0 if (f.default_loss and j == 0) else 0.0 for j in range(len(f.tops))]


def insert_splits(facts):
    """Caffe's InsertSplits on the layer list: [CaffeLayer] and {split top: (source, consumer index, bottom k)}."""
    last_top = {}                   # blob name -> (layer i, top j) of its latest producer
    source_of = {}                  # (i, k) -> (layer, top) it reads
    readers = {}                    # (layer, top) -> count of readers (bottoms + explicit loss)
    loss_of = {}                    # (layer, top) -> explicit loss weight
    for i, f in enumerate(facts):
        for k, b in enumerate(f.bottoms):
            if b not in last_top:
                raise ValueError(f'Unknown bottom blob {b!r} (layer {f.name!r}, bottom index {k})')
            src = last_top[b]
            source_of[(i, k)] = src
            readers[src] = readers.get(src, 0) + 1
        for j, t in enumerate(f.tops):
            last_top[t] = (i, j)
        for j in range(min(len(f.loss_weight), len(f.tops))):
            src = last_top[f.tops[j]]
            loss_of[src] = float(f.loss_weight[j])
            if loss_of[src]:
                readers[src] = readers.get(src, 0) + 1
    out, split_sources, next_split = [], {}, {}
    for i, f in enumerate(facts):
        bottoms = list(f.bottoms)
        for k, b in enumerate(bottoms):
            src = source_of[(i, k)]
            if readers.get(src, 0) > 1:
                n = next_split.get(src, 0)
                next_split[src] = n + 1
                bottoms[k] = _split_blob_name(facts[src[0]].name, b, src[1], n)
                split_sources[bottoms[k]] = (b, i, k)
        explicit = list(f.loss_weight)
        splits = []
        for j, t in enumerate(f.tops):
            count = readers.get((i, j), 0)
            if count > 1:
                w = loss_of.get((i, j), 0.0)
                tops = [_split_blob_name(f.name, t, j, k) for k in range(count)]
                loss = ([w] + [0.0] * (count - 1)) if w else [0.0] * count
                splits.append(CaffeLayer(_split_layer_name(f.name, t, j), 'Split', [t], tops, loss, None,
                                         allow_force_backward=[True]))
                if w:
                    explicit = []                  # Caffe clears the producer's whole loss_weight list
                    next_split[(i, j)] = next_split.get((i, j), 0) + 1
                    split_sources[tops[0]] = (t, None, None)
        out.append(CaffeLayer(f.name, f.type, bottoms, list(f.tops), _loss_weights(f, explicit), i,
                              list(f.param_lr), list(f.propagate_down), list(f.allow_force_backward)))
        out.extend(splits)
    return out, split_sources


@dataclass
class CaffeGraph:
    layers: list
    blob_names: list
    layer_need: list
    bottom_need: list
    param_need: list
    blob_need: dict
    split_sources: dict

    @classmethod
    def of(cls, facts, force_backward=False):
        layers, split_sources = insert_splits(facts)
        blob_names, blob_need = [], {}
        layer_need, bottom_need, param_need = [], [], []
        for L in layers:
            need = False
            bneed = []
            for k, b in enumerate(L.bottoms):
                nb = blob_need[b]
                need |= nb
                if len(L.propagate_down):
                    nb = bool(L.propagate_down[k])
                bneed.append(nb)
            pneed = [lr != 0 for lr in L.param_lr]
            need |= any(pneed)
            for t in L.tops:
                if t not in blob_need:
                    blob_names.append(t)
                    blob_need[t] = False
                if need:
                    blob_need[t] = True
            layer_need.append(need)
            bottom_need.append(bneed)
            param_need.append(pneed)
        under_loss, skip = set(), set()
        for i in range(len(layers) - 1, -1, -1):
            L = layers[i]
            contributes = any(w != 0 or t in under_loss for t, w in zip(L.tops, L.loss))
            skip_all = all(t in skip for t in L.tops)
            if layer_need[i] and skip_all:
                layer_need[i] = False
                bottom_need[i] = [False] * len(L.bottoms)
            if not contributes:
                layer_need[i] = False
            for k, b in enumerate(L.bottoms):
                if contributes:
                    under_loss.add(b)
                else:
                    bottom_need[i][k] = False
                if not bottom_need[i][k]:
                    skip.add(b)
        if force_backward:
            for i, L in enumerate(layers):
                layer_need[i] = True
                for k, b in enumerate(L.bottoms):
                    allow = L.allow_force_backward[k] if k < len(L.allow_force_backward) else True
                    bottom_need[i][k] = bottom_need[i][k] or allow
                    blob_need[b] = blob_need[b] or bottom_need[i][k]
                param_need[i] = [True] * len(L.param_lr)
        return cls(layers, blob_names, layer_need, bottom_need, param_need, blob_need, split_sources)

    def written(self, lo, hi):
        """Blob names whose diffs Caffe's BackwardFromTo(hi, lo) writes (each layer it runs writes the bottoms it
        back-propagates to)."""
        out = []
        for i in range(hi, lo - 1, -1):
            if not self.layer_need[i]:
                continue
            for b, nb in zip(self.layers[i].bottoms, self.bottom_need[i]):
                if nb and b not in out:
                    out.append(b)
        return out

    def position(self, facts_index):
        """The position in `layers` of the facts layer `facts_index`."""
        for i, L in enumerate(self.layers):
            if L.index == facts_index:
                return i
        raise IndexError(facts_index)
