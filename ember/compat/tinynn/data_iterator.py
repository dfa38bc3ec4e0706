"""``tn.data_iterator``: mini-batches of (inputs, targets), shuffled from NumPy's global generator."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

Batch = namedtuple("Batch", ["inputs", "targets"])


class BaseIterator:
    """Calling an iterator on (inputs, targets) yields Batches."""

    def __call__(self, inputs, targets):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(inputs, targets)")


class BatchIterator(BaseIterator):
    """Batches of ``batch_size`` rows (the last may be smaller), in a new random order each call when ``shuffle``."""

    def __init__(self, batch_size: int = 32, shuffle: bool = True):
        if batch_size < 1:
            raise ValueError(f"BatchIterator: batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __call__(self, inputs, targets):
        if len(inputs) != len(targets):
            raise ValueError(f"BatchIterator: {len(inputs)} inputs but {len(targets)} targets")
        order = np.arange(len(inputs))
        if self.shuffle:
            np.random.shuffle(order)
        for start in range(0, len(inputs), self.batch_size):
            rows = order[start:start + self.batch_size]
            yield Batch(inputs=inputs[rows], targets=targets[rows])
