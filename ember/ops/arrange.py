"""PyTorch's rearranging and selecting functions composed from indexing, ``cat`` and ``where``: ``flip``,
``roll``, ``tril``, ``triu``, ``index_select``, ``masked_select``, ``hstack``/``vstack``/``dstack``,
``meshgrid``, ``unflatten``, ``diff``, ``scatter``, ``index_fill`` and ``index_copy`` (gradients come from those
ops)."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import COMPLEX, FLOATING, real_of
from ember.ops.autocast import is_autocast_enabled
from ember.ops.convert import as_tensor, cast, cast_written, check_fill_value, promote, same_dtype
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import div, ge, gt, le, ne, sub, true_divide, where
from ember.ops.indexing import _index_add, getitem, refuse_negative, scatter_add, take
from ember.ops.infer import as_int, check_axis
from ember.ops.join import concat
from ember.ops.registry import Spec
from ember.ops.scatter_reduce import scatter_reduce, zeros_of
from ember.ops.shape import broadcast_to, clone, reshape
from ember.ops.sized import arange_sized, size_along


def _axes(name: str, x: TensorLike, dims, repeats: bool = False) -> list[int]:
    dims = [dims] if not isinstance(dims, (tuple, list)) else list(dims)
    axes = [check_axis(name, d, x.ndim, [Spec(x.shape, x.dtype)]) for d in dims]
    if not repeats and len(set(axes)) != len(axes):
        raise ValueError(f"{name}: dims {dims} name one dimension twice")
    return axes


def flip(x, dims, *more_dims) -> TensorLike:
    """``x`` reversed along each of ``dims`` (a sequence, or the dims as arguments: ``x.flip(0, 2)``): a copy, as
    PyTorch's (a write into it leaves ``x`` as it was)."""
    x = as_tensor(x)
    dims = (dims, *more_dims) if more_dims else dims
    if x.ndim == 0:
        _axes("flip", x, dims)
        return clone(x)
    index = [slice(None)] * x.ndim
    for axis in _axes("flip", x, dims):
        index[axis] = slice(None, None, -1)
    return clone(getitem(x, tuple(index)))  # the reversed slice alone would be a view of x


def _roll_one(x: TensorLike, shift: int, axis: int) -> TensorLike:
    size = x.shape[axis]
    if size is None:
        raise ValueError(f"roll: dimension {axis} of the tensor of shape {list(x.shape)} must have a known size")
    cut = size - shift % size if size else 0
    if cut in (0, size):
        return x
    before = (slice(None),) * axis
    return concat([getitem(x, before + (slice(cut, None),)), getitem(x, before + (slice(0, cut),))], axis)


def roll(x, shifts, dims=None) -> TensorLike:
    """``x`` shifted by ``shifts`` along ``dims`` (elements leaving one end come back at the other); without
    ``dims`` the flattened tensor is rolled and reshaped back."""
    x = as_tensor(x)
    shifts = [shifts] if not isinstance(shifts, (tuple, list)) else list(shifts)
    shifts = [as_int("roll", s, "shifts") for s in shifts]
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: {len(shifts)} shifts need as many dims")
        flat = reshape(x, (-1,))
        rolled = _roll_one(flat, shifts[0], 0)
        return reshape(clone(flat) if rolled is flat else rolled, tuple(x.shape))
    axes = _axes("roll", x, dims, repeats=True) if x.ndim else [0] * len(shifts)  # (a repeated dim: shifts add up)
    if len(axes) != len(shifts):
        raise ValueError(f"roll: {len(shifts)} shifts and {len(axes)} dims; give one shift per dim")
    if x.ndim == 0:
        return clone(x)
    out = x
    for shift, axis in zip(shifts, axes):
        out = _roll_one(out, shift, axis)
    return clone(x) if out is x else out  # whole turns: still a new tensor, as PyTorch's (not x itself)


def _triangle(name: str, x, diagonal: int, lower: bool) -> TensorLike:
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{name}: needs a matrix or a batch of them, got shape {list(x.shape)}")
    diagonal = as_int(name, diagonal, "diagonal")
    keep = triangle(size_along(x, -2), size_along(x, -1), diagonal, lower)
    return where(keep if keep.__class__ is not np.ndarray else as_tensor(keep, x), x,
                 False if x.dtype == np.bool_ else 0)


def triangle(rows, cols, diagonal: int, lower: bool):
    """The bool (rows, cols) mask of ``tril`` (``lower``) or ``triu``: a NumPy array for known sizes; for a size
    a graph leaves unknown (an ``UnknownSize`` read from a graph value), a tensor comparing two ranges read from
    the sizes when the graph runs."""
    if rows.__class__ is int and cols.__class__ is int:
        return np.tri(rows, cols, diagonal, dtype=bool) if lower else ~np.tri(rows, cols, diagonal - 1, dtype=bool)
    row, col = (as_tensor(np.arange(n)) if n.__class__ is int else arange_sized(0, n, 1, np.int64)
                for n in (rows, cols))
    row, col = reshape(row, (-1, 1)), reshape(col, (1, -1))
    return (le if lower else ge)(sub(col, row), diagonal)


def tril(x, diagonal: int = 0) -> TensorLike:
    """The lower triangle of the last two dimensions (on and below the ``diagonal``-th diagonal), zeros above."""
    return _triangle("tril", x, diagonal, lower=True)


def triu(x, diagonal: int = 0) -> TensorLike:
    """The upper triangle of the last two dimensions (on and above the ``diagonal``-th diagonal), zeros below."""
    return _triangle("triu", x, diagonal, lower=False)


def index_select(x, axis: int, index) -> TensorLike:
    """The entries of ``x`` at the 1-D ``index`` along ``axis`` (PyTorch's ``index_select(dim, index)``)."""
    x = as_tensor(x)
    index = as_tensor(index, x)
    if index.ndim > 1:
        raise ValueError(f"index_select: the index must be 1-D, got shape {list(index.shape)}")
    if index.dtype.kind in "iu":
        refuse_negative("index_select", index, x, _axes("index_select", x, axis)[0] if x.ndim else 0)
    if x.ndim == 0:  # PyTorch's: one index picks the 0-d tensor's value, and the result stays 0-d
        if index.shape and index.shape[0] != 1:
            raise IndexError(f"index_select: an index into a 0-d tensor must have one value, got {index.shape[0]}")
        return reshape(take(x, reshape(index, (-1,))), ())
    return take(x, reshape(index, (-1,)), axis)


def masked_select(x, mask) -> TensorLike:
    """The elements of ``x`` where ``mask`` (broadcast together) is true, as a 1-D tensor (eager only: its
    length depends on the values)."""
    x, mask = as_tensor(x), as_tensor(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"masked_select: the mask must be a bool tensor, got {mask.dtype}")
    try:
        shape = np.broadcast_shapes(tuple(x.shape), tuple(mask.shape))
    except ValueError:
        raise ValueError(f"masked_select: the mask of shape {list(mask.shape)} and the input of shape "
                         f"{list(x.shape)} do not broadcast together") from None
    return getitem(broadcast_to(x, shape), broadcast_to(mask, shape))


def _tensors(name: str, tensors) -> list:
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{name}: needs at least one tensor")
    return tensors


def _at_least(x: TensorLike, ndim: int) -> TensorLike:
    """``x`` with ones added as PyTorch's atleast_1d/2d/3d add them: (n,) -> (1, n) -> (1, n, 1)."""
    shape = tuple(x.shape)
    if len(shape) >= ndim:
        return x
    if ndim == 3:
        shape = {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[len(shape)]
    else:
        shape = (1,) * (ndim - len(shape)) + shape
    return reshape(x, shape)


def hstack(tensors) -> TensorLike:
    """The tensors joined column-wise: along dimension 1, or 0 for 1-D tensors (0-d ones count as 1-D)."""
    tensors = [_at_least(t, 1) for t in _tensors("hstack", tensors)]
    return concat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors) -> TensorLike:
    """The tensors joined row-wise (along dimension 0), 1-D tensors as rows."""
    return concat([_at_least(t, 2) for t in _tensors("vstack", tensors)], 0)


def dstack(tensors) -> TensorLike:
    """The tensors joined depth-wise (along dimension 2), as ``atleast_3d`` shapes them."""
    return concat([_at_least(t, 3) for t in _tensors("dstack", tensors)], 2)


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids of 1-D (or 0-d) tensors: the k-th output varies along dimension k (``indexing="ij"``);
    ``"xy"`` swaps the first two dimensions, as NumPy's default."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    tensors = [as_tensor(t) for t in tensors]
    for t in tensors:
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expects 0-d or 1-D tensors, got shape {list(t.shape)}")
    sizes = [1 if t.ndim == 0 else t.shape[0] for t in tensors]
    swap = indexing == "xy" and len(tensors) > 1
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for k, t in enumerate(tensors):
        axis = {0: 1, 1: 0}.get(k, k) if swap else k
        shape = [1] * len(tensors)
        shape[axis] = sizes[axis]
        grids.append(broadcast_to(reshape(t, tuple(shape)), tuple(sizes)))
    return tuple(grids)


def unflatten(x, axis: int, sizes) -> TensorLike:
    """``x`` with dimension ``axis`` split into ``sizes`` (one of them may be -1), PyTorch's ``unflatten``."""
    x = as_tensor(x)
    axis = _axes("unflatten", x, axis)[0]
    sizes = tuple(as_int("unflatten", s, "sizes") for s in sizes)
    if not sizes:
        raise ValueError("unflatten: sizes must not be empty")
    size = x.shape[axis]
    if size is not None:  # the sizes are read against dim ``axis`` alone: x may have no elements elsewhere
        product = int(np.prod([s for s in sizes if s != -1]))
        inferred = size // product if sizes.count(-1) == 1 and product and size % product == 0 else None
        if any(s < -1 for s in sizes) or (product != size if -1 not in sizes else inferred is None):
            raise ValueError(f"unflatten: sizes {list(sizes)} do not multiply up to {size}, the size of dim {axis} "
                             f"of the input of shape {list(x.shape)}")
        sizes = tuple(inferred if s == -1 else s for s in sizes)
    return reshape(x, tuple(x.shape[:axis]) + sizes + tuple(x.shape[axis + 1:]))


def _difference(x: TensorLike, axis: int) -> TensorLike:
    before = (slice(None),) * axis
    later, earlier = getitem(x, before + (slice(1, None),)), getitem(x, before + (slice(None, -1),))
    return ne(later, earlier) if x.dtype == np.bool_ else sub(later, earlier)


def diff(x, n: int = 1, axis: int = -1, prepend=None, append=None) -> TensorLike:
    """The ``n``-th forward difference along ``axis`` (``x[1:] - x[:-1]``, repeated; bools by xor), after
    joining ``prepend`` and ``append`` to x along it, as PyTorch's ``diff``."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("diff: needs a tensor of at least one dimension, got a 0-d one")
    axis = _axes("diff", x, axis)[0]
    n = as_int("diff", n, "n")
    if n < 0:
        raise ValueError(f"diff: n must be non-negative, got {n}")
    one_slice = tuple(x.shape[:axis]) + (1,) + tuple(x.shape[axis + 1:])
    parts = [as_tensor(t, x) for t in (prepend, x, append) if t is not None]
    parts = [broadcast_to(reshape(t, (1,) * x.ndim), one_slice) if t.ndim == 0 else t for t in parts]
    out = concat(parts, axis) if len(parts) > 1 else x
    for _ in range(n):
        out = _difference(out, axis)
    return clone(x) if out is x else out  # n=0: a new tensor, as PyTorch's (not x itself)


def _placed(name: str, x: TensorLike, add, values: TensorLike) -> TensorLike:
    """``x`` with the ``values`` that ``add(zeros, values)`` puts in place where it puts any; repeated indices,
    whose winner PyTorch leaves unspecified, give their values' mean (rounded down for integers)."""
    values = cast_written(name, values, x.dtype)
    counting = real_of(x.dtype)  # (complex numbers do not compare)
    counts = add(zeros_of(x, counting), _ones(values, counting))
    placed = add(zeros_of(x, x.dtype), values)
    hit = gt(counts, 0)
    safe = where(hit, counts, 1)
    mean = (true_divide(placed, safe) if x.dtype in FLOATING or x.dtype in COMPLEX
            else div(placed, safe, rounding_mode="floor"))
    return where(hit, mean if mean.dtype == x.dtype else cast(mean, x.dtype), x)


def _ones(x: TensorLike, dtype) -> TensorLike:
    return zeros_of(x, dtype) + 1


def _filled(name: str, x: TensorLike, add, shape_of: TensorLike, value) -> TensorLike:
    check_fill_value(name, value, x.dtype)
    counting = real_of(x.dtype)
    out = where(gt(add(zeros_of(x, counting), _ones(shape_of, counting)), 0), value, x)
    return cast_written(name, out, x.dtype)


def _index(name: str, x: TensorLike, index) -> TensorLike:
    index = as_tensor(index, x) if not isinstance(index, TensorLike) else index
    if index.dtype.kind not in "iu":
        raise TypeError(f"{name}: the index must be an integer tensor, got {index.dtype}")
    return index


def scatter(x, axis: int, index, src=None, *, value=None, reduce: str | None = None) -> TensorLike:
    """A copy of ``x`` with ``out[index[i][j]][j] = src[i][j]`` (axis 0) or ``= value`` (a number given as
    ``src`` or ``value``): PyTorch's ``scatter``; ``reduce="add"`` or ``"multiply"`` combines them with x's
    elements instead (``scatter_reduce``'s ``"sum"`` and ``"prod"``)."""
    x = as_tensor(x)
    if reduce not in (None, "add", "multiply"):
        raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
    if (src is None) == (value is None):
        raise TypeError("scatter: give one of src and value")
    index = _index("scatter", x, index)
    axis = _axes("scatter", x, axis)[0]
    if value is None and isinstance(src, TensorLike):
        src = same_dtype("scatter", x, src, "src")[1]  # (the cast would truncate 1.5 into int64's 1)
    if reduce is not None:
        if value is not None or not isinstance(src, TensorLike):  # a number is cast to x's dtype, as PyTorch's
            number = src if value is None else value
            check_fill_value("scatter", number, x.dtype)
            src = broadcast_to(cast(as_tensor(number, x), x.dtype), tuple(index.shape))
        return scatter_reduce(x, axis, index, src, "sum" if reduce == "add" else "prod")
    if x.dtype == np.bool_:  # placed as int64 (scatter_add counts in the input's dtype), read back as bool
        src = cast(src, np.int64) if isinstance(src, TensorLike) else src
        return cast(scatter(cast(x, np.int64), axis, index, src, value=value), np.bool_)
    def add(base, values):
        return scatter_add(base, axis, index, values)

    if value is not None or not isinstance(src, TensorLike):
        return _filled("scatter", x, add, index, src if value is None else value)
    if src.ndim != index.ndim or any(s is not None and i is not None and s < i for s, i in zip(src.shape,
                                                                                                  index.shape)):
        raise ValueError(f"scatter: src of shape {list(src.shape)} must cover the index of shape "
                         f"{list(index.shape)}")
    region = tuple(slice(0, d) for d in index.shape)
    return _placed("scatter", x, add, getitem(src, region) if tuple(src.shape) != tuple(index.shape) else src)


def _index_along(name: str, x: TensorLike, axis: int, index) -> tuple[int, TensorLike]:
    index = _index(name, x, index)
    if index.ndim > 1:
        raise ValueError(f"{name}: the index must be 1-D, got shape {list(index.shape)}")
    return _axes(name, x, axis)[0], reshape(index, (-1,))


def index_fill(x, axis: int, index, value) -> TensorLike:
    """A copy of ``x`` with the entries at ``index`` along ``axis`` set to ``value`` (a number or a 0-d
    tensor, which gets their gradient), as PyTorch's ``index_fill``."""
    x = as_tensor(x)
    axis, index = _index_along("index_fill", x, axis, index)
    if isinstance(value, TensorLike) and value.ndim != 0:
        raise ValueError(f"index_fill: value must be a number or a 0-d tensor, got shape {list(value.shape)}")
    if x.ndim == 0:  # PyTorch's: a 0-d tensor indexed as one of one element
        return reshape(index_fill(reshape(x, (1,)), 0, index, value), ())
    def add(base, values):
        return _index_add(base, index, values, axis)

    return _filled("index_fill", x, add, take(x, index, axis), value)


def index_copy(x, axis: int, index, source) -> TensorLike:
    """A copy of ``x`` with the slices at ``index`` along ``axis`` replaced by ``source``'s, as PyTorch's
    ``index_copy`` (source of x's dtype; under CPU autocast the two are promoted to one, as PyTorch's)."""
    if isinstance(source, TensorLike) and is_autocast_enabled("cpu"):
        x, source = promote(x, source)
    x, source = same_dtype("index_copy", x, source)
    axis, index = _index_along("index_copy", x, axis, index)
    def add(base, values):
        return _index_add(base, index, values, axis, "index_copy")

    return _placed("index_copy", x, add, source)
