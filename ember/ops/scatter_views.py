"""PyTorch's functions that write into a copy of a tensor through a view or an index: ``diag_embed``,
``diagflat``, ``diagonal_scatter``, ``select_scatter``, ``slice_scatter``, ``index_put``, ``masked_scatter`` and
``put``. Each places its values with ``getitem_grad`` (the adjoint of ``x[index]``: values added into zeros at
the index) and keeps the rest with ``where``, so the gradients are those ops'."""

from __future__ import annotations

import numpy as np

from ember.backend.devices import from_torch, is_torch_tensor
from ember.ops import dispatch
from ember.ops.arrange import _axes
from ember.ops.convert import as_tensor, cast, cast_same_kind, same_dtype
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import where
from ember.ops.indexing import (
    DIAGONAL_GRAD,
    GETITEM_GRAD,
    INDEX_ADD,
    _indexed_shape,
    diag,
    getitem,
    index_arrays,
    ints_first,
)
from ember.ops.infer import as_int, check_axis
from ember.ops.registry import Spec
from ember.ops.shape import broadcast_to, reshape
from ember.ops.views import known, movedim


def _embed(values: TensorLike, shape: tuple, index: tuple) -> TensorLike:
    """Zeros of ``shape`` with ``values`` added at ``index``."""
    return dispatch.apply(GETITEM_GRAD, (values,), {"shape": tuple(shape), "index": index})


def _like(name: str, x: TensorLike, src, shape: tuple) -> TensorLike:
    """``src`` in x's dtype, checked to have ``shape``."""
    src = as_tensor(src, x)
    if tuple(src.shape) != tuple(shape):
        raise ValueError(f"{name}: src of shape {list(src.shape)} must have shape {list(shape)} (input of shape "
                         f"{list(x.shape)})")
    return src if src.dtype == x.dtype else cast(src, x.dtype)


def _replace(x: TensorLike, src: TensorLike, index: tuple) -> TensorLike:
    """``x`` with ``x[index]`` (no position named twice) replaced by ``src``."""
    mask = np.zeros(tuple(x.shape), bool)
    mask[index] = True
    return where(as_tensor(mask, x), _embed(src, tuple(x.shape), index), x)


def _diagonal_index(rows: int, cols: int, offset: int) -> tuple:
    n = max(0, min(rows - max(-offset, 0), cols - max(offset, 0)))
    steps = np.arange(n)
    return Ellipsis, steps + max(-offset, 0), steps + max(offset, 0)


def diag_embed(x, offset: int = 0, dim1: int = -2, dim2: int = -1) -> TensorLike:
    """Matrices whose ``offset``-th diagonal (in dims ``dim1``, ``dim2`` of the result) holds the last dim of
    ``x``, zeros elsewhere.

    >>> ember.diag_embed(ember.tensor([[1., 2.]])).tolist()
    [[[1.0, 0.0], [0.0, 2.0]]]
    """
    x = as_tensor(x)
    known("diag_embed", x)
    if x.ndim == 0:
        raise ValueError("diag_embed: expects a tensor of at least 1 dimension, got a 0-d one")
    offset = as_int("diag_embed", offset, "offset")
    n = x.shape[-1] + abs(offset)
    ndim = x.ndim + 1
    specs = [Spec(tuple(x.shape[:-1]) + (n, n), x.dtype)]
    first, second = (check_axis("diag_embed", d, ndim, specs) for d in (dim1, dim2))
    if first == second:
        raise ValueError(f"diag_embed: dim1 and dim2 are both dimension {first} of the result of shape "
                         f"{list(specs[0].shape)}")
    rest = iter(x.shape[:-1])
    shape = tuple(n if d in (first, second) else next(rest) for d in range(ndim))
    return dispatch.apply(DIAGONAL_GRAD, (x,), {"shape": shape, "offset": offset, "axis1": first, "axis2": second})


def diagflat(x, offset: int = 0) -> TensorLike:
    """The flattened ``x`` as the ``offset``-th diagonal of a square matrix of zeros."""
    x = as_tensor(x)
    known("diagflat", x)
    return diag(reshape(x, (-1,)), offset)


def diagonal_scatter(x, src, offset: int = 0, dim1: int = 0, dim2: int = 1) -> TensorLike:
    """A copy of ``x`` whose diagonal (``x.diagonal(offset, dim1, dim2)``) is ``src``."""
    x = as_tensor(x)
    known("diagonal_scatter", x)
    if x.ndim < 2:
        raise ValueError(f"diagonal_scatter: expects a tensor of at least 2 dimensions, got shape {list(x.shape)}")
    first, second = _axes("diagonal_scatter", x, (dim1, dim2))
    offset = as_int("diagonal_scatter", offset, "offset")
    moved = movedim(x, (first, second), (-2, -1))
    index = _diagonal_index(moved.shape[-2], moved.shape[-1], offset)
    src = _like("diagonal_scatter", x, src, tuple(moved.shape[:-2]) + (len(index[1]),))
    return movedim(_replace(moved, src, index), (-2, -1), (first, second))


def select_scatter(x, src, dim: int, index: int) -> TensorLike:
    """A copy of ``x`` whose slice ``x.select(dim, index)`` is ``src``."""
    x = as_tensor(x)
    known("select_scatter", x)
    axis = _axes("select_scatter", x, dim)[0]
    position = as_int("select_scatter", index, "index")
    size = x.shape[axis]
    if not -size <= position < size:
        raise IndexError(f"select_scatter: index {position} is out of range for dimension {axis} of size {size} "
                         f"(shape {list(x.shape)})")
    where_at = (slice(None),) * axis + (position % size,)
    return _replace(x, _like("select_scatter", x, src, _indexed_shape(tuple(x.shape), None, where_at)), where_at)


def slice_scatter(x, src, dim: int = 0, start: int | None = None, end: int | None = None,
                  step: int = 1) -> TensorLike:
    """A copy of ``x`` whose slice ``start:end:step`` along ``dim`` is ``src``."""
    x = as_tensor(x)
    known("slice_scatter", x)
    axis = _axes("slice_scatter", x, dim)[0]
    step = as_int("slice_scatter", step, "step")
    if step <= 0:
        raise ValueError(f"slice_scatter: step must be positive, got {step}")
    where_at = (slice(None),) * axis + (slice(start, end, step),)
    return _replace(x, _like("slice_scatter", x, src, _indexed_shape(tuple(x.shape), None, where_at)), where_at)


def index_put(x, indices, values, accumulate: bool = False) -> TensorLike:
    """A copy of ``x`` with ``x[indices] = values`` (``indices`` a tuple of index tensors, None for a whole
    dim; ``values`` broadcast to what they pick); with ``accumulate`` the values are added, repeated indices
    adding up. Without it the last of the values a position is named for wins, as PyTorch on the CPU.

    >>> ember.index_put(ember.zeros(3), (ember.tensor([0, 2]),), ember.tensor(5.0)).tolist()
    [5.0, 0.0, 5.0]
    """
    x = as_tensor(x)
    known("index_put", x)
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put: indices must be a tuple of tensors, got {type(indices).__name__}")
    index = index_arrays(tuple(slice(None) if i is None else i for i in indices), x.shape)
    return _put_at("index_put", x, index, same_dtype("index_put", x, values, "values")[1], accumulate)


def setitem(x, index, value) -> TensorLike:
    """A copy of ``x`` with ``x[index] = value`` (any index ``x[index]`` takes; ``value`` broadcast to what it
    picks and cast to x's dtype): what ``x[index] = value`` records on a tensor whose gradient is wanted."""
    x = as_tensor(x)
    known("setitem", x)
    index = index_arrays(index, x.shape)
    steps = ints_first(index)
    if steps is not None:  # PyTorch's order: the integers' part first, then the arrays within it
        first, second = steps
        return _put_at("setitem", x, first, setitem(getitem(x, first), second, value), False)
    return _put_at("setitem", x, index, value, False)


def check_put_dtype(x: TensorLike, index, value: TensorLike) -> None:
    """A RuntimeError for ``x[index] = value`` where ``value`` is a tensor of another dtype than ``x`` and ``index``
    holds tensors, arrays or lists: PyTorch puts through ``index_put_`` then, which refuses the cast (only basic
    indexing casts, as ``copy_``; so does a lone boolean mask given one value, as ``masked_fill_``)."""
    items = index if isinstance(index, tuple) else (index,)
    advanced = []
    for item in items:
        if item is None or item is Ellipsis or isinstance(item, (int, slice, np.integer)):
            continue
        if isinstance(item, list):
            item = np.asarray(item)
        elif not isinstance(item, TensorLike) and is_torch_tensor(item):
            item = from_torch(item)
        if getattr(item, "ndim", None) == 0 and item.dtype.kind in "iu":
            continue  # a 0-d integer tensor indexes as an integer
        advanced.append(item)
    if not advanced:
        return
    mask = getattr(advanced[0], "ndim", 0) > 0 and advanced[0].dtype == np.bool_
    if len(advanced) == 1 and mask and int(np.prod(value.shape, dtype=np.int64)) == 1:
        return
    raise RuntimeError(f"__setitem__: an index of tensors puts the value as index_put, which needs the value in the "
                       f"tensor's dtype {x.dtype}, got {value.dtype} (as in PyTorch; only basic indexing casts): "
                       f"cast the value first, e.g. value.to({x.dtype})")


def _put_at(name: str, x: TensorLike, index: tuple, values, accumulate: bool) -> TensorLike:
    """``index_put`` and ``setitem`` at a normalized ``index`` (``index_arrays``'s)."""
    try:
        picked = _indexed_shape(tuple(x.shape), None, index)
    except (IndexError, ValueError) as exc:
        raise IndexError(f"{name}: the indices do not fit the input of shape {list(x.shape)}: {exc}") from None
    values = as_tensor(values, x)
    # (setitem casts as PyTorch's copy_ does, the imaginary parts dropped with a warning; index_put refuses them)
    values = cast(values, x.dtype) if name == "setitem" and values.dtype != x.dtype else cast_same_kind(
        name, values, x.dtype)
    try:
        values = broadcast_to(values, picked) if tuple(values.shape) != picked else values
    except ValueError:
        raise ValueError(f"{name}: values of shape {list(values.shape)} do not broadcast to the {list(picked)} "
                         f"elements the indices pick from the input of shape {list(x.shape)}") from None
    host_index = tuple(i.get() if hasattr(i, "get") else i for i in index)
    if accumulate:  # each value added into x in turn, rounded each time, as PyTorch's CPU loop
        positions = np.arange(int(np.prod(x.shape, dtype=np.int64))).reshape(tuple(x.shape))[host_index]
        positions = as_tensor(positions.reshape(-1), x)
        flat = dispatch.apply(INDEX_ADD, (reshape(x, (-1,)), positions, reshape(values, (-1,))), {"axis": 0})
        return reshape(flat, tuple(x.shape))
    counts = np.zeros(tuple(x.shape), np.int64)
    np.add.at(counts, host_index, 1)
    if counts.max(initial=0) > 1:  # the last write to a position wins, as PyTorch's sequential CPU loop
        values = where(as_tensor(_last_writes(tuple(x.shape), host_index), x), values, as_tensor(0, values))
    return where(as_tensor(counts > 0, x), _embed(values, tuple(x.shape), index), x)


def _last_writes(shape: tuple, index: tuple) -> np.ndarray:
    """Of the positions ``index`` picks (in row-major order), those that name their target for the last time."""
    targets = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)[index]
    reverse = targets.reshape(-1)[::-1]
    keep = np.zeros(reverse.size, bool)
    keep[reverse.size - 1 - np.unique(reverse, return_index=True)[1]] = True
    return keep.reshape(targets.shape)


def masked_scatter(x, mask, source) -> TensorLike:
    """A copy of ``x`` whose elements where ``mask`` is true are, in row-major order, the first elements of
    ``source`` (``x`` and ``mask`` broadcast together, as PyTorch's out-of-place ``masked_scatter``).

    >>> ember.masked_scatter(ember.zeros(3), ember.tensor([True, False, True]), ember.tensor([1., 2.])).tolist()
    [1.0, 0.0, 2.0]
    """
    x, mask, source = as_tensor(x), as_tensor(mask), as_tensor(source)
    known("masked_scatter", x, source)
    if mask.dtype != np.bool_:
        raise TypeError(f"masked_scatter: the mask must be a bool tensor, got {mask.dtype}")
    if mask.symbolic:
        raise TypeError("masked_scatter: the mask must have values (how many elements it takes depends on them)")
    if x.ndim == 0 and mask.ndim == 0:  # as a one-element tensor (NumPy's nonzero refuses 0-d arrays)
        return reshape(masked_scatter(reshape(x, (1,)), reshape(mask, (1,)), source), ())
    try:
        shape = np.broadcast_shapes(tuple(x.shape), tuple(mask.shape))
    except ValueError:
        raise ValueError(f"masked_scatter: the mask of shape {list(mask.shape)} does not broadcast with the input "
                         f"of shape {list(x.shape)}") from None
    x = broadcast_to(x, shape) if shape != tuple(x.shape) else x  # PyTorch's out-of-place form expands both
    spread = np.broadcast_to(np.asarray(_host(mask)), shape)
    index = np.nonzero(spread)
    n = len(index[0])
    flat = reshape(same_dtype("masked_scatter", x, source)[1], (-1,))
    if flat.shape[0] < n:
        raise ValueError(f"masked_scatter: the mask selects {n} elements, more than the {flat.shape[0]} of the "
                         f"source of shape {list(source.shape)}")
    picked = flat[:n] if flat.shape[0] != n else flat
    return where(as_tensor(np.ascontiguousarray(spread), x), _embed(picked, tuple(x.shape), index), x)


def _host(t: TensorLike):
    """A tensor's array on the host (masks and indices decide shapes here)."""
    array = t.array
    return array.get() if hasattr(array, "get") else array


def put(x, index, source, accumulate: bool = False) -> TensorLike:
    """A copy of ``x`` with the elements at the flat (row-major) ``index`` set to ``source``'s, or with
    ``accumulate`` increased by them (negative indices count from the end).

    >>> ember.put(ember.zeros(2, 2), ember.tensor([3, 0]), ember.tensor([1., 2.])).tolist()
    [[2.0, 0.0], [0.0, 1.0]]
    """
    x, source = same_dtype("put", x, source)
    index = as_tensor(index)
    known("put", x, source)
    if index.dtype.kind not in "iu":
        raise TypeError(f"put: index must be an integer tensor, got {index.dtype}")
    if index.symbolic:
        raise TypeError("put: the index must have values while the graph is built")
    flat_index = np.asarray(_host(index)).reshape(-1).astype(np.int64)
    numel = int(np.prod(x.shape, dtype=np.int64))
    size = int(np.prod(source.shape, dtype=np.int64))
    if size != flat_index.size:
        raise ValueError(f"put: source of shape {list(source.shape)} must have as many elements as the index of "
                         f"shape {list(index.shape)}")
    if flat_index.size and (flat_index.min() < -numel or flat_index.max() >= numel):
        raise IndexError(f"put: index values from {flat_index.min()} to {flat_index.max()} are out of range for "
                         f"the {numel} elements of the input of shape {list(x.shape)}")
    flat = index_put(reshape(x, (-1,)), (flat_index % max(numel, 1),), reshape(source, (-1,)), accumulate)
    return reshape(flat, tuple(x.shape))
