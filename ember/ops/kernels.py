"""Array-level helpers the op forwards share: faster reductions, 2-D matrix products and running ufuncs.

NumPy reduces a contiguous last axis one row at a time (a (1024, 10) row max costs as much as 50 exp
calls). A matrix-vector product with ones sums such rows in one BLAS call: 1.5-8x faster than
``np.add.reduce`` at every row count measured, from 4 rows up, for rows of up to 1024 (``_ROW_SUM``). A
column sum of a matrix (or of the rows of an (N, L, E) array) is a vector-matrix product too: 2-3x faster than
``x.sum(0)`` at every size measured, and more accurate (NumPy adds a column's values one after another). A
per-channel sum of an (N, C, ...) array (batch norm, a convolution's bias gradient) is two such products: 3-24x
faster than ``np.add.reduce`` over the axes (0, 2, ...), which steps through the short inner rows. For many
rows, the max over the rows of a transposed copy (or, for a few columns, a loop over them) takes the row max
with whole-row vector operations. Each helper returns exactly what ``x.sum``/``x.max`` would, up to float
rounding, and falls back to them when the shortcut does not apply.

The graph code generator emits the same calls for the same shapes (``sums_rows``, ``sums_columns``,
``sums_leading``, ``sums_blocks``, ``sum_ones``, ``is_blas_matrix_product``), so compiled code and eager mode agree
bit for bit.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ember.backend import onednn
from ember.backend.dtypes import LOW_PRECISION, bfloat16, float32

_SHORT = 32  # longest last axis for which the row-max shortcuts pay
# Longest last axis summed as a product with ones: 2.5-7x faster than NumPy's reduce from 48 to 1024 columns
# (measured), and within about 1.5x its rounding error; longer rows keep NumPy's pairwise sum (more accurate there).
_ROW_SUM = 1024
_ROWS = 128  # fewest rows for which the column-loop max pays: below, NumPy's own is as fast (measured)
# A row max over a short last axis of NumPy: from this many rows, the max over the rows of a transposed copy pays
# (2x NumPy's own at 64 rows of 10, 9x at 4096); with at most _FEW columns, the column loop is cheaper still.
_ROWS_TRANSPOSED = 32
_FEW = 4
# Sums over tuples of axes none longer than _BLOCK, of arrays of at least _BLOCK_MIN elements, add slices
# (``sum_blocks``): below that size NumPy's one reduce call costs less than the loop's calls.
_BLOCK = 8
_BLOCK_MIN = 1 << 14
BLAS_FLOATS = frozenset({np.dtype(np.float32), np.dtype(np.float64)})  # the dtypes BLAS computes in


def reduces_short_last_axis(shape: tuple, dtype, axis) -> bool:
    """Whether a max over ``axis`` takes the column-loop shortcut (for a C-contiguous array)."""
    ndim = len(shape)
    return ndim >= 2 and axis in (-1, ndim - 1) and shape[-1] <= _SHORT and dtype.kind == "f" \
        and dtype.itemsize >= 4 and math.prod(shape) >= _ROWS * shape[-1]


def _short_last_axis(x, axis) -> bool:
    # reduces_short_last_axis on an array, cheapest tests first: this runs on every softmax
    shape = x.shape
    return len(shape) >= 2 and shape[-1] <= _SHORT and x.size >= _ROWS * shape[-1] \
        and reduces_short_last_axis(shape, x.dtype, axis) and x.flags.c_contiguous


def sums_rows(shape: tuple, dtype, axis) -> bool:
    """Whether a sum over ``axis`` of an array of ``shape``/``dtype`` on NumPy is a BLAS row sum."""
    ndim = len(shape)
    return ndim >= 2 and axis in (-1, ndim - 1, (-1,), (ndim - 1,)) and shape[-1] <= _ROW_SUM \
        and np.dtype(dtype) in BLAS_FLOATS


@functools.lru_cache(maxsize=64)
def sum_ones(n: int, dtype, shape: str) -> np.ndarray:
    """Read-only ones that sum ``n`` rows or columns by a product: ``shape`` is "vector" (n,), "row" (1, n)
    or "column" (n, 1)."""
    ones = np.ones({"vector": n, "row": (1, n), "column": (n, 1)}[shape], dtype)
    ones.flags.writeable = False
    return ones


def sum_last(xp, x, axis, keepdims: bool):
    """``x.sum(axis, keepdims)``, through BLAS when ``axis`` is a short last axis."""
    if xp is np:
        shape = x.shape
        if len(shape) >= 2 and shape[-1] <= _ROW_SUM and x.dtype in BLAS_FLOATS and \
                axis in (-1, len(shape) - 1, (-1,), (len(shape) - 1,)):  # sums_rows, cheapest tests first
            return np.dot(x, sum_ones(shape[-1], x.dtype, "column" if keepdims else "vector"))
        if x.dtype in LOW_PRECISION:  # float16 / bfloat16: accumulate in float32, round once (as PyTorch)
            return np.add.reduce(x, axis, np.float32, None, keepdims).astype(x.dtype)
        return sum_reduce(x, axis, keepdims)
    if not _short_last_axis(x, axis):
        return x.sum(axis=axis, keepdims=keepdims)
    out = x @ xp.ones(x.shape[-1], x.dtype)
    return out[..., None] if keepdims else out


def sum_reduce(x, axis, keepdims: bool):
    """A NumPy float ``x.sum(axis, keepdims)``: ``sum_blocks`` where it pays, else NumPy's reduce."""
    if x.size >= _BLOCK_MIN and sums_blocks(x.shape, x.dtype, axis):
        return sum_blocks(x, axis, keepdims)
    return np.add.reduce(x, axis, None, None, keepdims)  # what ndarray.sum calls, without its wrapper


def sums_blocks(shape: tuple, dtype, axis) -> bool:
    """Whether a sum over ``axis`` (an int or a tuple) of a NumPy array of ``shape``/``dtype`` is ``sum_blocks``:
    every summed axis short, the array large."""
    if axis.__class__ is int:
        axis = (axis,)
    return axis.__class__ is tuple and 0 < len(axis) and None not in shape and math.prod(shape) >= _BLOCK_MIN \
        and np.dtype(dtype) in BLAS_FLOATS and all(shape[a] <= _BLOCK for a in axis)


def sum_blocks(x, axis, keepdims: bool):
    """``x.sum(axis, keepdims)`` over short axes (the windows of a reshaped pooling) as whole-array additions
    of the slices at each position along them, the last axis first. NumPy's reduce steps through such axes
    a few elements at a time: 13x slower over (64, 256, 7, 2, 7, 2)'s axes (3, 5), 6x over (N, C, 98, 2)'s
    axis 3 (measured). Along one axis the slices add in NumPy's order, so the bits are its reduce's."""
    index = [slice(None)] * x.ndim
    for a in sorted((axis,) if axis.__class__ is int else axis, key=lambda a: a % x.ndim, reverse=True):
        index[a] = slice(0, 1) if keepdims else 0
        total = x[tuple(index)].copy()
        for k in range(1, x.shape[a]):
            index[a] = slice(k, k + 1) if keepdims else k
            total += x[tuple(index)]
        index[a] = slice(None)
        if not keepdims:
            index.pop(a % x.ndim)
        x = total
    return x


def sums_columns(shape: tuple, dtype, axis) -> bool:
    """Whether a sum over ``axis`` of an array of ``shape``/``dtype`` on NumPy is a BLAS column sum."""
    return len(shape) == 2 and axis in (0, -2, (0,)) and np.dtype(dtype) in BLAS_FLOATS


def sums_leading(shape: tuple, dtype, axis) -> bool:
    """Whether a sum over ``axis`` of a NumPy array of three or more axes sums every axis but the last (a bias or
    layer norm's gradient over (N, L, E)): ``sum_leading``, a column sum of its rows."""
    return len(shape) >= 3 and axis == _leading_axes(len(shape)) and np.dtype(dtype) in BLAS_FLOATS


@functools.cache
def _leading_axes(ndim: int) -> tuple:
    return tuple(range(ndim - 1))


def sum_leading(x, keepdims: bool):
    """``x.sum(axis=(0, ..., ndim - 2), keepdims)`` of a NumPy float array as ``ones @ rows``."""
    columns = x.shape[-1]
    rows = math.prod(x.shape[:-1])
    total = np.dot(sum_ones(rows, x.dtype, "vector"), x.reshape(rows, columns))
    return total.reshape((1,) * (x.ndim - 1) + (columns,)) if keepdims else total


def sums_channels(shape: tuple, dtype, axis) -> bool:
    """Whether a sum over ``axis`` of a NumPy array is a per-channel sum of (N, C, ...): every axis but 1."""
    return len(shape) >= 3 and axis == _channel_axes(len(shape)) and np.dtype(dtype) in BLAS_FLOATS \
        and math.prod(shape) > 0


@functools.cache
def _channel_axes(ndim: int) -> tuple:
    return (0,) + tuple(range(2, ndim))


def sum_channels(x, keepdims: bool):
    """``x.sum((0, 2, ...), keepdims)`` of a NumPy float array as two products: the batch summed by
    ``ones @ x`` over rows of C * H * W, then each channel's row by ``rows @ ones``."""
    n, c = x.shape[0], x.shape[1]
    per_position = np.dot(sum_ones(n, x.dtype, "vector"), x.reshape(n, -1))
    total = np.dot(per_position.reshape(c, -1), sum_ones(per_position.size // c, x.dtype, "vector"))
    return total.reshape((1, c) + (1,) * (x.ndim - 2)) if keepdims else total


def sum_first(xp, x, axis, keepdims: bool):
    """``x.sum(axis, keepdims)``, as ``ones @ x`` when it sums the columns of a NumPy matrix (and as
    ``sum_channels`` when it sums every axis but the channels of an (N, C, ...) array)."""
    if xp is not np or x.ndim != 2 or x.dtype not in BLAS_FLOATS or not (axis == 0 or axis == -2 or axis == (0,)):
        if xp is np and axis.__class__ is tuple and x.ndim >= 3 and x.dtype in BLAS_FLOATS:
            if axis == _channel_axes(x.ndim) and x.size:  # sums_channels, its cheapest tests first
                return sum_channels(x, keepdims)
            if axis == _leading_axes(x.ndim):  # sums_leading
                return sum_leading(x, keepdims)
        return sum_last(xp, x, axis, keepdims)  # sums_columns, its cheapest tests first
    return np.dot(sum_ones(x.shape[0], x.dtype, "row" if keepdims else "vector"), x)


def dot_pays(rows: int, inner: int, cols: int) -> bool:
    """Whether ``np.dot`` beats ``np.matmul`` on a float (rows, inner) @ (inner, cols) product: by 0.5-1.5 us
    of overhead on small ones; on large ones with a transposed left operand it measured up to 10% slower."""
    return rows * inner * cols <= _DOT_MAX


_DOT_MAX = 1 << 18  # multiply-adds (a 64 x 64 x 64 product)
# Where the ``onednn`` extra is enabled, a float32 product OpenBLAS would run on several threads (more than
# _DOT_MAX multiply-adds) runs on oneDNN's sgemm instead, on the OpenMP pool its convolutions use: 5-15% faster
# on 2 cores at 128-1024 rows, and no product is left to OpenBLAS's threads, whose spinning beside OpenMP's
# slows both pools. Products with fewer than _ONEDNN_SIDE rows or inner size (a batch of 64's products, forward
# and backward) stay on OpenBLAS, where an MLP at batch 64 measured 5-10% faster.
_ONEDNN_MIN = _DOT_MAX + 1
_ONEDNN_SIDE = 128
# Stacks of matrices (attention's products) run as one oneDNN matmul over the whole stack: from 2^22 multiply-adds
# in all it measured 1.4-2.4x NumPy's loop over one-thread OpenBLAS calls (64 heads of 64 tokens and width 32,
# 2^23); at 2^21 it was 10-20% slower.
_STACKED_ONEDNN_MIN = 1 << 22
_FLOAT32 = np.dtype(np.float32)


def is_blas_matrix_product(a, b) -> bool:
    """Whether ``a @ b`` is a small product of two float32/float64 matrices of one dtype, which ``np.dot``
    computes with the same BLAS call as ``np.matmul`` and less overhead (``dot_pays``)."""
    return a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in BLAS_FLOATS \
        and dot_pays(a.shape[0], a.shape[1], b.shape[1])


def matrix_product(xp, a, b):
    """``a @ b`` (``xp.matmul`` semantics): through ``np.dot`` for two small NumPy float matrices, on oneDNN's
    sgemm for two large float32 ones (``large_product_pays``)."""
    # is_blas_matrix_product, dot_pays and large_product_pays inlined: this runs for every product of every layer
    if xp is np and a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in BLAS_FLOATS:
        size = a.shape[0] * a.shape[1] * b.shape[1]
        if size <= _DOT_MAX:
            return np.dot(a, b)
        if size >= _ONEDNN_MIN and a.dtype == _FLOAT32 and min(a.shape) >= _ONEDNN_SIDE and onednn.enabled():
            return large_product(a, b)
    elif xp is np and a.ndim >= 3 and a.dtype == _FLOAT32 and stacked_product_pays(a, b) and onednn.enabled():
        return large_product(a, b)
    return xp.matmul(a, b)


def stacked_product_pays(a, b) -> bool:
    """Whether ``a @ b`` of two float32 stacks of matrices (arrays or specs) is one that runs on oneDNN's matmul
    where the ``onednn`` extra is enabled (``large_product``): one leading shape, and at least
    ``_STACKED_ONEDNN_MIN`` multiply-adds in all."""
    return a.ndim >= 3 and a.ndim == b.ndim and a.dtype == _FLOAT32 and b.dtype == _FLOAT32 \
        and tuple(a.shape[:-2]) == tuple(b.shape[:-2]) and a.shape[-1] == b.shape[-2] \
        and None not in tuple(a.shape) and None not in tuple(b.shape) \
        and math.prod(a.shape) * b.shape[-1] >= _STACKED_ONEDNN_MIN


def large_product_pays(rows: int, inner: int, cols: int, dtype) -> bool:
    """Whether a (rows, inner) @ (inner, cols) product of two NumPy matrices of ``dtype`` is one that runs on
    oneDNN's sgemm where the ``onednn`` extra is enabled (``large_product``): float32, at least ``_ONEDNN_MIN``
    multiply-adds, rows and inner size at least ``_ONEDNN_SIDE``. Generated code binds ``large_product`` for
    such a product whether oneDNN is enabled or not when it is compiled: the call asks at run time, as eager
    mode does."""
    return rows * inner * cols >= _ONEDNN_MIN and min(rows, inner) >= _ONEDNN_SIDE and np.dtype(dtype) == _FLOAT32


def large_product(a, b, out=None):
    """``a @ b`` of two float32 matrices, or stacks of them, by oneDNN's sgemm on its threads (``onednn.product``,
    ``onednn.stacked_product``), else by ``np.matmul`` (oneDNN off, or an operand it does not take)."""
    result = onednn.product(a, b, out) if a.ndim == 2 else onednn.stacked_product(a, b, out)
    if result is not None:
        return result
    return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)


def max_last(xp, x, axis, keepdims: bool):
    """``x.max(axis, keepdims)``; over a short last axis of many rows, by whole-row vector operations: the max
    over the rows of a transposed copy (NumPy), or a loop over the columns."""
    shape = x.shape
    if xp is np and len(shape) >= 2 and _FEW < shape[-1] <= _SHORT and x.size >= _ROWS_TRANSPOSED * shape[-1] \
            and axis in (-1, len(shape) - 1) and x.dtype in BLAS_FLOATS and x.flags.c_contiguous:
        columns = x.reshape(-1, shape[-1]).T.copy()  # (columns, rows), each row of it one column of x
        out = np.maximum.reduce(columns, 0)
        return out.reshape(shape[:-1] + (1,) if keepdims else shape[:-1])
    if not _short_last_axis(x, axis) or x.shape[-1] == 0:
        if xp is np:
            return np.maximum.reduce(x, axis, None, None, keepdims)  # what ndarray.max calls, without its wrapper
        return x.max(axis=axis, keepdims=keepdims)
    out = x[..., 0].copy()
    for j in range(1, x.shape[-1]):
        xp.maximum(out, x[..., j], out=out)
    return out[..., None] if keepdims else out


def orderable(x):
    """``x`` as an array that NumPy's sorts and binary searches order with NaN last: a bfloat16 array (compared
    element by element, which a NaN throws out of order) as its float32 values, the same numbers."""
    return x.astype(float32) if x.dtype == bfloat16 else x


def accumulate(xp, name: str, x, axis: int):
    """``xp.<name>.accumulate(x, axis=axis)`` for the binary ufunc ``name`` (``maximum``, ``minimum``,
    ``logaddexp``): NumPy's own; on other array modules (CuPy's accumulate covers add and multiply only) in
    log2(n) whole-array steps (``accumulate_by_doubling``)."""
    if xp is np:
        return getattr(np, name).accumulate(x, axis=axis)
    return accumulate_by_doubling(xp, getattr(xp, name), x, axis)


def accumulate_by_doubling(xp, ufunc, x, axis: int):
    """A running ``ufunc`` along ``axis``: after the steps of 1, 2, 4... elements, each element has combined
    every one before it (Hillis and Steele's scan). The same values as ``ufunc.accumulate`` for an associative
    ``ufunc``, rounded in another order for ``logaddexp``."""
    out = xp.moveaxis(x, axis, -1).copy()
    step = 1
    while step < out.shape[-1]:
        out[..., step:] = ufunc(out[..., step:], out[..., :-step])  # (the right side is computed first)
        step *= 2
    return xp.ascontiguousarray(xp.moveaxis(out, -1, axis))
