"""The global random generator: seeded by ``manual_seed``, saved and restored with its state."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed Ember's global generator (initialisation, dropout, shuffling, ``rand``/``randn``)."""
    global _generator
    _generator = np.random.default_rng(int(seed))


def generator() -> np.random.Generator:
    """The global NumPy generator all of Ember's randomness draws from."""
    return _generator


def get_rng_state() -> dict:
    """The generator's state, a plain dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state from ``get_rng_state``."""
    _generator.bit_generator.state = state
