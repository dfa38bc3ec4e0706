"""``interpolate(..., antialias=True)`` for bilinear and bicubic 4-D input: PyTorch's separable anti-aliased
resampling. Each output position averages the inputs under a filter (the triangle, or Keys' cubic with a = -0.5)
stretched by the downscaling factor, the weights normalized to sum to 1; per axis each output's window gathered and
weighted, so gradients, ``ember.jit`` and export follow from ``take`` and ``sum``."""

from __future__ import annotations

import numpy as np

from ember import ops as _ops
from ember.tensor import Tensor


def _triangle(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0)


def _keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def antialias_windows(size_in: int, size_out: int, scale: float, cubic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per output position the input indices of its window and their float64 weights, (size_out, taps) each: output
    i's window around ``scale * (i + 0.5)`` in input coordinates, ``support`` wide on each side (the filter's
    half-width times ``scale`` when downscaling), as PyTorch's ``_compute_weights_aa`` (its int casts truncate toward
    zero). Windows narrower than the widest are filled up with index ``size_in`` and weight 0."""
    taps = 4 if cubic else 2
    support = taps * 0.5 * scale if scale >= 1.0 else taps * 0.5
    inverse = 1.0 / scale if scale >= 1.0 else 1.0
    filter_fn = _keys_cubic if cubic else _triangle
    windows = []
    for i in range(size_out):
        center = scale * (i + 0.5)
        low = max(int(center - support + 0.5), 0)
        high = min(int(center + support + 0.5), size_in)
        w = filter_fn((np.arange(low, high) - center + 0.5) * inverse)
        total = w.sum()
        windows.append((low, w / total if total != 0.0 else w))
    width = max(len(w) for _, w in windows)
    index = np.full((size_out, width), size_in, dtype=np.int64)
    weights = np.zeros((size_out, width))
    for i, (low, w) in enumerate(windows):
        index[i, :len(w)] = np.arange(low, low + len(w))
        weights[i, :len(w)] = w
    return index, weights


def resample_antialiased(x: Tensor, axis: int, size_out: int, scale: float, cubic: bool) -> Tensor:
    """``x`` resampled along ``axis`` to ``size_out``: each output the weighted sum of its own window's inputs (a
    product with the whole weight matrix would carry a NaN or inf into every output through its zero weights)."""
    index, weights = antialias_windows(x.shape[axis], size_out, float(scale), cubic)
    moved = _ops.swapaxes(x, axis, -1) if axis != x.ndim - 1 else x
    padded = _ops.pad(moved, ((0, 0),) * (moved.ndim - 1) + ((0, 1),))  # the zero that fills up short windows
    gathered = _ops.reshape(_ops.take(padded, index.reshape(-1), -1), (-1,) + tuple(moved.shape[1:-1]) + index.shape)
    y = _ops.sum(gathered * _ops.as_tensor(weights.astype(x.dtype), x), -1)
    return _ops.swapaxes(y, axis, -1) if axis != x.ndim - 1 else y
