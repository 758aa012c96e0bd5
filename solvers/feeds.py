"""Feeds for Solver.feed made from in-memory arrays."""

__all__ = ['shuffled_batches']


def shuffled_batches(arrays, batch, rng):
    """feed(solver, pass) -> {name: array[idx]} for `batch` samples a pass: the samples are dealt from the end of
    a running sequence of `rng` permutations (numpy's Generator), a new permutation appended whenever fewer than
    `batch` remain, so every sample comes once per permutation. `arrays`: {Input blob name: array over samples}."""
    n = len(next(iter(arrays.values())))
    order = []

    def feed(_solver, _pass):
        while len(order) < batch:
            order.extend(rng.permutation(n).tolist())
        idx = [order.pop() for _ in range(batch)]
        return {name: a[idx] for name, a in arrays.items()}
    return feed
