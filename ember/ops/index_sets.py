"""PyTorch's functions that compute integer indices (none has a gradient): ``tril_indices``/``triu_indices``,
``argwhere``, ``nonzero_static`` and ``unravel_index``."""

from __future__ import annotations

import numpy as np

from ember.ops.convert import as_tensor, cast
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import floor_divide, lt, minimum, ne, nonzero, remainder, where
from ember.ops.infer import as_int, check_sizes
from ember.ops.join import concat, stack
from ember.ops.shape import reshape
from ember.ops.sorting import sort


def _triangle_indices(name: str, row: int, col: int, offset: int, dtype, lower: bool) -> TensorLike:
    row, col = as_int(name, row, "row"), as_int(name, col, "col")
    offset = as_int(name, offset, "offset")
    if row < 0 or col < 0:
        raise ValueError(f"{name}: row and col must be non-negative, got {row} and {col}")
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"{name}: dtype must be an integer dtype, got {dtype}")
    rows, cols = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    return as_tensor(np.stack([rows, cols]).astype(dtype).reshape(2, -1))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=np.int64) -> TensorLike:
    """The (2, N) coordinates of the lower triangle of a ``row`` x ``col`` matrix (on and below the
    ``offset``-th diagonal), row by row.

    >>> ember.tril_indices(2, 2).tolist()
    [[0, 1, 1], [0, 0, 1]]
    """
    return _triangle_indices("tril_indices", row, col, offset, dtype, lower=True)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=np.int64) -> TensorLike:
    """The (2, N) coordinates of the upper triangle of a ``row`` x ``col`` matrix (on and above the
    ``offset``-th diagonal), row by row."""
    return _triangle_indices("triu_indices", row, col, offset, dtype, lower=False)


def argwhere(x) -> TensorLike:
    """The indices of the non-zero elements, one row per element: ``nonzero(x)`` (eager only)."""
    return nonzero(as_tensor(x))


def nonzero_static(x, *, size: int, fill_value: int = -1) -> TensorLike:
    """``nonzero(x)`` with exactly ``size`` rows: cut to the first ``size``, or padded with ``fill_value``. Its
    shape is known without x's values, so it builds in a graph (``ember.jit``) too.

    >>> ember.nonzero_static(ember.tensor([0, 3, 0]), size=2).tolist()
    [[1], [-1]]
    """
    x = as_tensor(x)
    size = as_int("nonzero_static", size, "size")
    if size < 0:
        raise ValueError(f"nonzero_static: size must be non-negative, got {size}")
    fill_value = as_int("nonzero_static", fill_value, "fill_value")
    if any(n is None for n in x.shape):
        raise ValueError(f"nonzero_static: needs a known shape, got {list(x.shape)}")
    shape = tuple(x.shape)
    numel = int(np.prod(shape, dtype=np.int64))
    if numel == 0 or not shape:  # (no coordinates to find, or none to give: a 0-d input has 0 columns)
        return as_tensor(np.full((size, len(shape)), fill_value, np.int64), x)
    # each element's flat position, numel for a zero: sorted, the non-zeros' positions come first, in order
    positions = where(reshape(ne(x, 0), (-1,)), as_tensor(np.arange(numel, dtype=np.int64), x), numel)
    first = sort(positions, stable=True).values[:min(size, numel)]
    if size > numel:
        first = concat([first, as_tensor(np.full(size - numel, numel, np.int64), x)], 0)
    coords = stack(unravel_index(minimum(first, numel - 1), shape), 1)
    return where(reshape(lt(first, numel), (size, 1)), coords, fill_value)


def unravel_index(indices, shape) -> tuple:
    """The coordinates in a tensor of ``shape`` of the flat (row-major) ``indices``: one int64 tensor per dim,
    each of the indices' shape (negative indices count from the end, as Python's floor arithmetic gives).

    >>> [c.tolist() for c in ember.unravel_index(ember.tensor([4, 5]), (2, 3))]
    [[1, 1], [1, 2]]
    """
    indices = as_tensor(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"unravel_index: indices must be an integer tensor, got {indices.dtype}")
    shape = (shape,) if not isinstance(shape, (tuple, list)) else tuple(shape)
    shape = check_sizes("unravel_index", shape, "shape")
    numel = int(np.prod(shape, dtype=np.int64))
    if numel == 0:
        raise ValueError(f"unravel_index: a shape {list(shape)} of no elements has no index")
    coords = []
    rest = indices if indices.dtype == np.int64 else cast(indices, np.int64)
    for size in reversed(shape):
        coords.append(remainder(rest, size))
        rest = floor_divide(rest, size)
    return tuple(reversed(coords))
