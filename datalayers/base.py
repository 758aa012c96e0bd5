"""The Caffe Python-layer behaviour shared by the reference data layers (setup / reshape / forward / backward).

The layer modules (voc_layers, ...) mix this into ``runtime.Layer`` (``import runtime as caffe``). As in the
reference: setup parses param_str and checks the tops; reshape reads the current sample and shapes the tops
(1 x C x H x W at the image's own size); forward copies it out and moves to the next index (a new random draw,
or +1 wrapping). Beyond the reference, the next samples are read ahead by a background thread so a forward
never waits on decoding: param_str may set 'prefetch': k (default 2; 0 reads on demand like the reference)
and 'workers': w (default 1). The order and the arrays do not depend on them (tests/test_data_loader.py).
The keys 'mirror' and 'jitter' switch on the paper's augmentation (datalayers.augment).
"""
from .augment import augmented, index_of
from .loader import SampleStream
from netspec.param_str import parse_param_str

#: samples a data layer reads ahead unless its param_str says otherwise
DEFAULT_PREFETCH = 2


class SegDataLayer:
    dataset_class = None

    def setup(self, bottom, top):
        name = type(self).__name__
        params = parse_param_str(getattr(self, 'param_str', ''), name)
        self.params = params
        self.dataset = augmented(self.dataset_class(params, layer=name), params)
        tops = self.dataset.tops
        if len(top) != len(tops):
            raise Exception(f'{name}: need to define {len(tops)} tops: {", ".join(tops)} (got {len(top)})')
        if len(bottom) != 0:
            raise Exception(f'{name}: do not define a bottom')
        # the reference's attribute names
        self.split, self.random, self.seed = self.dataset.split, self.dataset.randomize, self.dataset.seed
        self.indices = self.dataset.ids
        self.stream = SampleStream(self.dataset, prefetch=params.get('prefetch', DEFAULT_PREFETCH),
                                   workers=params.get('workers', 1))
        self.idx = index_of(self.stream.peek_index())  # the first draw happens at setup, as in the reference

    def reshape(self, bottom, top):
        key, self.sample = self.stream.current()
        self.idx = index_of(key)
        for blob, a in zip(top, self.sample):
            blob.reshape(*a.shape)

    def forward(self, bottom, top):
        for blob, a in zip(top, self.sample):
            blob.data[...] = a
        self.stream.advance()

    def get_state(self):
        """The sample-order state (picklable), for a solver snapshot; see SampleStream.get_state."""
        return self.stream.get_state()

    def set_state(self, state):
        """Continue the sample order from get_state() (a resumed solver sees the samples it would have seen)."""
        self.stream.set_state(state)
        self.idx = index_of(self.stream.peek_index())

    def backward(self, top, propagate_down, bottom):
        pass
