"""The global random generator: seeded by ``manual_seed``, saved and restored with its state."""

from __future__ import annotations

import math

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


def keep_mask(shape: tuple, p: float) -> np.ndarray:
    """Booleans, each True with probability ``1 - p``: dropout's mask, from the global generator.

    Each element compares 32 random bits with a threshold, two elements per 64-bit draw of the bit
    generator: twice as fast as comparing float64 uniforms, and as fine-grained as float32 ones.
    """
    n = math.prod(shape)
    bits = _generator.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n].reshape(shape)
    return bits >= keep_threshold(p)


def keep_threshold(p: float) -> np.uint32:
    """The 32-bit threshold that random bits reach with probability ``1 - p``."""
    return np.uint32(min(round(p * 2.0**32), 2**32 - 1))


def draw_seed() -> np.uint64:
    """64 random bits from the global generator: the seed of one counter-based draw on a GPU."""
    return np.uint64(_generator.bit_generator.random_raw())
