"""Initial values of new rows, drawn from the row's key and a seed (not from a running generator).

A key gets the same initial row whatever the order ids arrive in, after a restore in a new process, and
on whichever rank holds it. Each initializer is a callable ``(keys, dim, seed) -> float32 (n, dim)``;
any such callable may be passed as ``HashEmbedding(initializer=...)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np

from ember.embedding.hashing import mix64

_COLUMN = np.uint64(0xD1B54A32D192ED03)
_ROUND = 0x8CB92BA72F3D8DD7


def random_bits(keys: np.ndarray, columns: int, seed: int, stream: int = 0) -> np.ndarray:
    """(n, columns) uint64 bits, a pure function of (key, column, seed, stream)."""
    seed_bits = mix64(np.array([seed & (2**64 - 1)], np.uint64))  # arrays wrap silently; NumPy scalars warn
    base = mix64(keys.astype(np.int64, copy=False).reshape(-1).view(np.uint64) ^ seed_bits)
    base += np.uint64((stream * _ROUND) % 2**64)
    offsets = (np.arange(1, columns + 1, dtype=np.uint64) * _COLUMN)
    return mix64(base[:, None] + offsets[None, :])


def _unit(bits: np.ndarray) -> np.ndarray:
    """float64 uniforms in (0, 1] from the top 53 bits."""
    return ((bits >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53


class Constant:
    """Every new row is ``value``."""

    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def __call__(self, keys: np.ndarray, dim: int, seed: int) -> np.ndarray:
        return np.full((keys.size, dim), self.value, np.float32)

    def __repr__(self) -> str:
        return f"Constant({self.value})"


class Uniform:
    """Uniform on [low, high)."""

    def __init__(self, low: float = -0.05, high: float = 0.05):
        if not low < high:
            raise ValueError(f"Uniform: need low < high, got {low}, {high}")
        self.low, self.high = float(low), float(high)

    def __call__(self, keys: np.ndarray, dim: int, seed: int) -> np.ndarray:
        u = _unit(random_bits(keys, dim, seed)) - 2.0**-53
        return (self.low + (self.high - self.low) * u).astype(np.float32)

    def __repr__(self) -> str:
        return f"Uniform({self.low}, {self.high})"


class Normal:
    """Normal with ``mean`` and ``std`` (default ``1 / sqrt(dim)``); ``truncate`` redraws values more than
    that many standard deviations out (TensorFlow's truncated normal uses 2)."""

    def __init__(self, mean: float = 0.0, std: float | None = None, truncate: float | None = None):
        if std is not None and not std > 0:
            raise ValueError(f"Normal: std must be > 0, got {std}")
        if truncate is not None and not truncate > 0:
            raise ValueError(f"Normal: truncate must be > 0, got {truncate}")
        self.mean, self.std, self.truncate = float(mean), std, truncate

    def __call__(self, keys: np.ndarray, dim: int, seed: int) -> np.ndarray:
        std = 1.0 / math.sqrt(dim) if self.std is None else float(self.std)
        z = _box_muller(keys, dim, seed, 0)
        if self.truncate is not None:
            for stream in range(1, 64):  # about 5% redrawn per round at 2 sigma
                bad = np.abs(z) > self.truncate
                if not bad.any():
                    break
                rows = np.flatnonzero(bad.any(axis=1))
                fresh = _box_muller(keys[rows], dim, seed, stream)
                z[rows] = np.where(bad[rows], fresh, z[rows])
            np.clip(z, -self.truncate, self.truncate, out=z)
        return (self.mean + std * z).astype(np.float32)

    def __repr__(self) -> str:
        return f"Normal(mean={self.mean}, std={self.std}, truncate={self.truncate})"


def _box_muller(keys: np.ndarray, dim: int, seed: int, stream: int) -> np.ndarray:
    bits = random_bits(keys, 2 * dim, seed, stream)
    radius = np.sqrt(-2.0 * np.log(_unit(bits[:, :dim])))
    return radius * np.cos(2.0 * np.pi * _unit(bits[:, dim:]))


def TruncatedNormal(std: float | None = None) -> Normal:  # noqa: N802  (an initializer, named like a class)
    """TensorFlow's default for embedding columns: normal with std ``1 / sqrt(dim)``, cut at 2 std."""
    return Normal(0.0, std, truncate=2.0)


def resolve(initializer) -> Callable:
    """An initializer from what ``HashEmbedding(initializer=...)`` accepts: None (truncated normal with
    std 1/sqrt(dim)), a number (a constant), "zeros", or a callable ``(keys, dim, seed) -> (n, dim)``."""
    if initializer is None:
        return TruncatedNormal()
    if isinstance(initializer, numbers.Real) and not isinstance(initializer, bool):
        return Constant(float(initializer))
    if initializer == "zeros":
        return Constant(0.0)
    if callable(initializer):
        return initializer
    raise TypeError(f"HashEmbedding: initializer must be None, a number, 'zeros' or a callable "
                    f"(keys, dim, seed) -> array, got {initializer!r}")
