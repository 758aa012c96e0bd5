"""The order in which a data layer visits its split, exactly as the reference layers do.

Training (split name contains 'train' and randomize is on): uniform draws with replacement. The reference ran
under Python 2, whose random.randint(0, n-1) is int(random() * n); Python 3's randint uses another algorithm, so
the draw here is int(rng.random() * n) from random.Random(seed), which reproduces the Python 2 sequence (integer
seeds give the same Mersenne Twister state in both; tests/test_data_order.py proves it). One draw happens at setup
and one after every forward. Otherwise: the split file's order from the first id, wrapping at the end.
"""
import random


def randomized(split, randomize=True):
    """The reference rule: randomization is switched off whenever the split name lacks 'train'."""
    return bool(randomize) and 'train' in split


class SampleOrder:
    """An endless iterator of split indices; a private Random keeps other users of `random` from disturbing it."""

    def __init__(self, n, randomize, seed=None):
        if n <= 0:
            raise ValueError('SampleOrder needs at least one sample')
        self.n, self.randomize, self.seed = n, bool(randomize), seed
        self._rng = random.Random(seed) if self.randomize else None
        self._next = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.randomize:
            return int(self._rng.random() * self.n)
        idx = self._next
        self._next = (idx + 1) % self.n
        return idx

    def get_state(self):
        """Where the order stands (picklable): the generator's state, or the next sequential index."""
        return {'rng': self._rng.getstate() if self._rng is not None else None, 'next': self._next}

    def set_state(self, state):
        if (state['rng'] is None) == self.randomize:
            raise ValueError('SampleOrder.set_state: state of a ' + ('sequential' if self.randomize else 'random') +
                             ' order given to a ' + ('random' if self.randomize else 'sequential') + ' one')
        if state['rng'] is not None:
            self._rng.setstate(state['rng'])
        self._next = state['next']

    def take(self, k):
        return [next(self) for _ in range(k)]
