"""``tn.seeder``: one seed for NumPy's global generator (tinynn's initializers, shuffling, dropout) and Ember's."""

from __future__ import annotations

import numpy as np

import ember


def random_seed(seed: int) -> None:
    """Seed NumPy's global generator and Ember's; ``seed`` must be in [0, 2**32 - 1] as in tinynn."""
    seed = int(seed)
    if not 0 <= seed <= 2 ** 32 - 1:
        raise ValueError(f"random_seed: the seed must be between 0 and 2**32 - 1, got {seed}")
    np.random.seed(seed)
    ember.manual_seed(seed)
