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
_SCALE24 = np.float32(2.0**-24)


def key_streams(keys: np.ndarray, seed: int) -> np.ndarray:
    """One uint64 per key: the start of that key's random stream under ``seed``."""
    seed_bits = mix64(np.array([seed & (2**64 - 1)], np.uint64))  # arrays wrap silently; NumPy scalars warn
    return mix64(keys.astype(np.int64, copy=False).reshape(-1).view(np.uint64) ^ seed_bits)


def random_bits(streams: np.ndarray, columns: np.ndarray, draw: int = 0) -> np.ndarray:
    """uint64 bits, a pure function of (key stream, column, draw); ``streams`` and ``columns`` broadcast."""
    counter = streams + (columns.astype(np.uint64) + np.uint64(1)) * _COLUMN
    counter += np.uint64((draw * _ROUND) % 2**64)
    return mix64(counter)


def _uniform_pairs(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two float32 uniforms from each uint64: one in (0, 1] from the top 24 bits, one in [0, 1) from the low 24."""
    high = ((bits >> np.uint64(40)).astype(np.float32) + np.float32(1)) * _SCALE24
    low = (bits & np.uint64(0xFFFFFF)).astype(np.float32) * _SCALE24
    return high, low


def _polar(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    high, low = _uniform_pairs(bits)
    return np.sqrt(np.float32(-2) * np.log(high)), np.float32(2 * np.pi) * low


def _normal_rows(streams: np.ndarray, dim: int, draw: int) -> np.ndarray:
    """(n, dim) standard normals by Box-Muller, two from each 64-bit draw: columns 2c and 2c + 1 share one."""
    radius, angle = _polar(random_bits(streams[:, None], np.arange((dim + 1) // 2)[None, :], draw))
    z = np.empty((streams.size, 2 * radius.shape[1]), np.float32)
    np.multiply(radius, np.cos(angle), out=z[:, 0::2])
    np.multiply(radius, np.sin(angle), out=z[:, 1::2])
    return z[:, :dim]


def _normals(streams: np.ndarray, columns: np.ndarray, draw: int) -> np.ndarray:
    """The normals ``_normal_rows`` would give at (stream, column) pairs of one draw."""
    radius, angle = _polar(random_bits(streams, columns // 2, draw))
    return radius * np.where(columns % 2 == 0, np.cos(angle), np.sin(angle))


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
        columns = np.arange(dim)[None, :]
        _, u = _uniform_pairs(random_bits(key_streams(keys, seed)[:, None], columns))
        return (np.float32(self.low) + np.float32(self.high - self.low) * u).astype(np.float32)

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
        streams = key_streams(keys, seed)
        z = _normal_rows(streams, dim, 0)
        if self.truncate is not None:
            limit = np.float32(self.truncate)
            rows, cols = np.nonzero(np.abs(z) > limit)
            for draw in range(1, 64):  # redraw only the values out of range: about 5% at 2 sigma, then 0.2%...
                if not rows.size:
                    break
                fresh = _normals(streams[rows], cols, draw)
                z[rows, cols] = fresh
                still = np.abs(fresh) > limit
                rows, cols = rows[still], cols[still]
            np.clip(z, -limit, limit, out=z)
        return (np.float32(self.mean) + np.float32(std) * z).astype(np.float32)

    def __repr__(self) -> str:
        return f"Normal(mean={self.mean}, std={self.std}, truncate={self.truncate})"


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
