"""Array-level helpers the op forwards share: faster reductions and 2-D matrix products.

NumPy reduces a short contiguous axis one row at a time (a (1024, 10) row max costs as much as 50 exp
calls); a matrix-vector product sums the rows in one BLAS call, and a loop over the few columns takes the
max with whole-column vector operations. A column sum of a matrix is a vector-matrix product too: 2-3x
faster than ``x.sum(0)`` at every size measured, and as accurate. Each helper returns exactly what
``x.sum``/``x.max`` would, up to float rounding, and falls back to them when the shortcut does not apply.

The graph code generator emits the same calls for the same shapes (``column_sum_ones``,
``is_blas_matrix_product``), so compiled code and eager mode agree bit for bit.
"""

from __future__ import annotations

import functools
import math

import numpy as np

_SHORT = 32  # longest last axis for which the shortcuts pay
_ROWS = 128  # fewest rows for which they pay: below, NumPy's own reduction is as fast or faster (measured)


def reduces_short_last_axis(shape: tuple, dtype, axis) -> bool:
    """Whether a sum or max over ``axis`` takes the short-last-axis shortcut (for a C-contiguous array)."""
    ndim = len(shape)
    return ndim >= 2 and axis in (-1, ndim - 1) and shape[-1] <= _SHORT and dtype.kind == "f" \
        and dtype.itemsize >= 4 and math.prod(shape) >= _ROWS * shape[-1]


def _short_last_axis(x, axis) -> bool:
    # reduces_short_last_axis on an array, cheapest tests first: this runs on every softmax and row sum
    shape = x.shape
    return len(shape) >= 2 and shape[-1] <= _SHORT and x.size >= _ROWS * shape[-1] \
        and reduces_short_last_axis(shape, x.dtype, axis) and x.flags.c_contiguous


def sum_last(xp, x, axis, keepdims: bool):
    """``x.sum(axis, keepdims)``, through BLAS when ``axis`` is a short last axis."""
    if not _short_last_axis(x, axis):
        if xp is np:  # what ndarray.sum calls, without its Python-level wrapper
            return np.add.reduce(x, axis, None, None, keepdims)
        return x.sum(axis=axis, keepdims=keepdims)
    out = x @ xp.ones(x.shape[-1], x.dtype)
    return out[..., None] if keepdims else out


def sums_columns(shape: tuple, dtype, axis) -> bool:
    """Whether a sum over ``axis`` of an array of ``shape``/``dtype`` on NumPy is a BLAS column sum."""
    return len(shape) == 2 and axis in (0, -2, (0,)) and np.dtype(dtype) in _BLAS_FLOATS


@functools.lru_cache(maxsize=64)
def column_sum_ones(rows: int, dtype, keepdims: bool) -> np.ndarray:
    """The read-only ones that sum ``rows`` rows: ``ones @ x`` (a row vector for ``keepdims``)."""
    ones = np.ones((1, rows) if keepdims else rows, dtype)
    ones.flags.writeable = False
    return ones


def sum_first(xp, x, axis, keepdims: bool):
    """``x.sum(axis, keepdims)``, as ``ones @ x`` when it sums the columns of a NumPy matrix."""
    if xp is not np or not sums_columns(x.shape, x.dtype, axis):
        return sum_last(xp, x, axis, keepdims)
    return np.dot(column_sum_ones(x.shape[0], x.dtype, keepdims), x)


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def is_blas_matrix_product(a, b) -> bool:
    """Whether ``a @ b`` is a product of two float32/float64 matrices of one dtype: then ``np.dot`` computes
    it with the same BLAS call as ``np.matmul`` but 0.5-1.5 us less overhead (measured on small matrices)."""
    return a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in _BLAS_FLOATS


def matrix_product(xp, a, b):
    """``a @ b`` (``xp.matmul`` semantics), through ``np.dot`` for two NumPy float matrices."""
    if xp is np and is_blas_matrix_product(a, b):
        return np.dot(a, b)
    return xp.matmul(a, b)


def max_last(xp, x, axis, keepdims: bool):
    """``x.max(axis, keepdims)``, column by column when ``axis`` is a short last axis."""
    if not _short_last_axis(x, axis) or x.shape[-1] == 0:
        return x.max(axis=axis, keepdims=keepdims)
    out = x[..., 0].copy()
    for j in range(1, x.shape[-1]):
        xp.maximum(out, x[..., j], out=out)
    return out[..., None] if keepdims else out
