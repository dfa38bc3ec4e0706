"""Indexing ops: ``x[index]`` (basic, integer-array and boolean), pad (a slice's adjoint), take/index_add,
gather/scatter_add, one_hot and the embedding lookup with its row-sparse gradient; select, unbind, diagonal and
diag as indexing."""

from __future__ import annotations

import warnings

import numpy as np

from ember.backend.devices import array_module, from_torch, is_torch_tensor
from ember.backend.dtypes import LOW_PRECISION, float32, int64
from ember.backend.runtime_flags import nondeterministic_alert
from ember.ops import dispatch
from ember.ops.convert import as_tensor, promote, same_dtype
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import WHERE, _scalar
from ember.ops.infer import as_int, check_axis, check_sizes, differ, fits, movement_cost, normalize_axis
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.registry import (
    NO_ONNX,
    NON_DIFFERENTIABLE,
    IndexShapeError,
    ShapeError,
    Spec,
    defop,
    format_shape,
    shape_error,
)
from ember.ops.shape import clone, reshape, reshape_with
from ember.ops.sized import slice_sized, sourced

# why the scatter-adds below are not deterministic on a GPU (use_deterministic_algorithms)
_ATOMIC = "on a GPU it adds with atomic operations, in an order that varies"


_PLAIN = frozenset({int, slice, type(None), type(Ellipsis), bool})


def _byte_mask(array):
    """An index array, PyTorch's deprecated uint8 mask read as a mask (not indices), as PyTorch reads it."""
    if array.dtype == np.uint8:
        warnings.warn("indexing with dtype uint8 is deprecated, please use a dtype bool instead (the uint8 tensor is "
                      "read as a mask, as PyTorch reads it)", UserWarning, stacklevel=4)
        return array != 0
    return array


def sequence_index(index):
    """PyTorch's reading of a list index: a list shorter than 32 that holds a sequence, a Tensor, a slice, an
    Ellipsis or None indexes as the tuple of its items (``x[[rows, cols]]`` is ``x[rows, cols]``), with
    PyTorch's deprecation warning; other indexes are returned as they are."""
    if index.__class__ is not list or len(index) >= 32:
        return index
    for item in index:
        if (item is None or item is Ellipsis or isinstance(item, (list, tuple, range, slice, np.ndarray, TensorLike))
                or is_torch_tensor(item)):
            warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated; use "
                          "x[tuple(seq)] instead of x[seq] (read as the tuple, as PyTorch reads it)", UserWarning,
                          stacklevel=3)
            return tuple(index)
    return index


def index_arrays(index, shape: tuple | None = None):
    """Normalise an index: Tensors become arrays and boolean masks become integer arrays. Given the indexed
    ``shape``, each mask is first checked to match the axes it covers (NumPy's rule, which the integer arrays
    it becomes could no longer tell)."""
    if not isinstance(index, tuple):
        index = (index,)
    checked = shape is None
    out = []
    for item in index:
        if isinstance(item, TensorLike):
            if isinstance(item, TensorLike) and item.symbolic:
                raise TypeError(f"getitem: an index that is a graph value ({item!r}) has no entries while the graph "
                                "is built; use take / gather with it, or a constant index")
            item = _byte_mask(item.array)
        elif isinstance(item, list):
            item = np.asarray(item)
            if item.size == 0:  # [] picks nothing, as PyTorch's (NumPy's float64 would be refused)
                item = item.astype(int64)
        elif item.__class__ not in _PLAIN and is_torch_tensor(item):
            item = _byte_mask(from_torch(item))
        if hasattr(item, "dtype") and hasattr(item, "ndim"):
            if item.dtype == np.bool_:
                if item.ndim == 0:  # x[tensor(True)] adds a dimension as x[True] does; nonzero refuses 0-d
                    out.append(bool(item))
                    continue
                if not checked:
                    _check_masks(index, shape)
                    checked = True
                out.extend(item.nonzero())
                continue
            if item.dtype.kind not in "iu":
                raise IndexError(f"getitem: index arrays must be integer or bool, got {item.dtype}")
        out.append(item)
    return tuple(out)


def ints_first(index: tuple) -> tuple | None:
    """PyTorch's order for a normalised index whose integers and integer arrays NumPy would not find side by
    side: the integers (and 0-d arrays) index first, as basic indexing, and the arrays then index what is left.
    For x of shape (4, 5, 6), ``x[0, :, [0, 1]]`` is ``x[0][:, [0, 1]]``, of shape (5, 2), where NumPy, counting
    0 among the arrays, moves their axis first: (2, 5). Returns the two indexes, or None where NumPy's one step
    gives PyTorch's result."""
    ints, arrays = [], []
    for i, item in enumerate(index):
        ndim = getattr(item, "ndim", None)
        if ndim is None:
            if isinstance(item, int) and not isinstance(item, bool):
                ints.append(i)
        elif ndim == 0:
            if item.dtype.kind in "iu":
                ints.append(i)
        else:
            arrays.append(i)
    if not ints or not arrays:
        return None
    both = sorted(ints + arrays)
    if both[-1] - both[0] + 1 == len(both):  # side by side: NumPy keeps their axes in place, as PyTorch does
        return None
    first = tuple(slice(None) if i in arrays else int(item) if i in ints else item for i, item in enumerate(index))
    second = tuple(item if i in arrays or item is Ellipsis else slice(None)
                   for i, item in enumerate(index) if i not in ints)
    return first, second


def _check_masks(index: tuple, shape: tuple) -> None:
    """A ShapeError naming getitem when a boolean mask in ``index`` does not match the axes it covers."""
    if None in shape:  # a graph's unknown dimension: checked when the graph is specialized
        return
    host = tuple(item.array if isinstance(item, TensorLike) else np.asarray(item) if isinstance(item, list) else item
                 for item in index)
    try:
        _indexed_shape(tuple(shape), None, host)
    except IndexError as exc:
        raise IndexShapeError(f"getitem: a boolean mask does not fit the input of shape {format_shape(shape)}: "
                              f"{exc}") from None


def _is_basic(index) -> bool:
    return all(item is None or item is Ellipsis or isinstance(item, (int, slice)) for item in index)


def _indexed_shape(shape, dtype, index) -> tuple:
    # Index a zero-stride stand-in of the right shape: exact NumPy semantics, no data touched.
    dummy = np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), shape, (0,) * len(shape))
    host = tuple(np.asarray(i.get()) if hasattr(i, "get") else i for i in index)
    try:
        return dummy[host].shape
    except MemoryError:  # NumPy allocates an advanced index's result before checking the indices' bounds
        raise ValueError(f"the result of indexing shape {list(shape)} would not fit in memory") from None


def _getitem_infer(x, *, index):
    try:
        return Spec(_indexed_shape(tuple(x.shape), x.dtype, index), x.dtype)
    except (IndexError, TypeError, ValueError) as exc:
        if isinstance(exc, TypeError) and None in x.shape:
            raise  # an unknown dimension: the graph probes it with stand-in sizes
        kind = IndexShapeError if isinstance(exc, IndexError) else ShapeError
        raise shape_error("getitem", [x], f"index {index!r} does not fit: {exc}", kind) from exc


def _indexed(array, index):
    """``array[index]``, where an index of integers alone gives a 0-d view of the element rather than NumPy's copied
    scalar, so that an in-place op on ``x[i, j]`` writes into ``x``, as PyTorch's does."""
    out = array[index]
    if isinstance(out, np.generic) and _is_basic(index):
        return array[index + (Ellipsis,)]
    return out


GETITEM = defop(
    "getitem",
    forward=lambda xp, x, *, index: _indexed(x, index),
    infer=_getitem_infer,
    vjp=vjp_rule(lambda run, ctx, g: (_placed(run, g, ctx.inputs[0], ctx.attrs["index"]),)),
    cost=movement_cost,
    view=lambda array, attrs, shape: _indexed(array, attrs["index"]),  # a view for basic indexing only: callers check
    onnx="Slice",
    vjp_reads=(),
)


def _placed(run, g, x, index):
    """``g`` added into zeros of ``x``'s shape at ``index`` (read from ``x`` when the graph runs where unknown)."""
    if None in x.shape:
        return run(GETITEM_GRAD, g, x, shape=None, index=index)
    return run(GETITEM_GRAD, g, shape=tuple(x.shape), index=index)


def _getitem_grad_forward(xp, g, like=None, *, shape, index):
    out = xp.zeros(shape if like is None else like.shape, g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        if xp is not np:
            nondeterministic_alert("getitem_grad", _ATOMIC)
        xp.add.at(out, index, g)
    return out


def _getitem_grad_infer(g, like=None, *, shape, index):
    if like is not None:  # the shape of ``like``, which may hold unknown sizes (checked when the graph runs)
        if shape is not None:
            raise shape_error("getitem_grad", [g, like], "give the shape or a value of that shape, not both")
        return Spec(tuple(like.shape), g.dtype)
    shape = check_sizes("getitem_grad", shape, "shape", [g])
    try:
        indexed = _indexed_shape(shape, g.dtype, index)
    except (IndexError, TypeError, ValueError) as exc:
        raise shape_error("getitem_grad", [g], f"index {index!r} does not fit shape {list(shape)}: {exc}") from None
    if indexed != tuple(g.shape):
        raise shape_error("getitem_grad", [g], f"index {index!r} of shape {list(shape)} picks {list(indexed)}")
    return Spec(shape, g.dtype)


GETITEM_GRAD = defop(
    "getitem_grad",
    forward=_getitem_grad_forward,
    infer=_getitem_grad_infer,
    vjp=lambda ctx, gg: (getitem(gg, ctx.attrs["index"]),) + (None,) * (len(ctx.inputs) - 1),
    cost=movement_cost,
    onnx=NO_ONNX,
)


def getitem(x: TensorLike, index) -> TensorLike:
    """``x[index]`` with NumPy semantics, except that integers index before integer arrays, as in PyTorch
    (``ints_first``); repeated integer indices accumulate their gradients."""
    x = as_tensor(x)
    if isinstance(index, TensorLike) and index.symbolic and index.dtype.kind in "iu":  # a graph value picks rows
        return take(x, index, axis=0)
    sized = _sized_slices(index, x.ndim)
    if sized:  # slices bounded by sizes read from graph values: the rest first, then one slice op per such axis
        index, axes = sized
        x = getitem(x, index)
        for axis, item in axes:
            x = slice_sized(x, axis, item)
        return x
    index = index_arrays(index, x.shape)
    if not _is_basic(index):
        steps = ints_first(index)
        if steps is not None:
            return getitem(getitem(x, steps[0]), steps[1])
    return dispatch.apply(GETITEM, (x,), {"index": index})


def _sized_slices(index, ndim: int):
    """For an index holding slices bounded by ``UnknownSize``s read from graph values (``mask[:t, :t]`` while a
    graph is built for any length): the index with those slices full, and their (axis, slice) pairs; else None.
    Such an index holds only slices, integers, None and one Ellipsis (so every slice's axis is known)."""
    items = index if isinstance(index, tuple) else (index,)
    if not any(isinstance(i, slice) and sourced((i.start, i.stop, i.step)) for i in items):
        return None
    if sum(i is Ellipsis for i in items) == 1:
        spanned = ndim - sum(1 for i in items if i is not None and i is not Ellipsis)
        at = next(k for k, i in enumerate(items) if i is Ellipsis)
        items = items[:at] + (slice(None),) * max(spanned, 0) + items[at + 1:]
    plain, axes, axis = [], [], 0
    for i in items:
        if isinstance(i, slice) and sourced((i.start, i.stop, i.step)):
            plain.append(slice(None))
            axes.append((axis, i))
            axis += 1
        elif isinstance(i, slice) or i is None:
            plain.append(i)
            axis += 1
        elif isinstance(i, int) and not isinstance(i, bool):
            plain.append(i)
        else:
            return None  # (an Ellipsis or an array before: the index reports the unknown size it cannot use)
    return tuple(plain), axes


# --- select, unbind, diagonal, diag: PyTorch's indexing by dimension ---------------------------------------


def _spec(x: TensorLike) -> list:
    return [Spec(x.shape, x.dtype)]


def select(x: TensorLike, axis: int, index: int) -> TensorLike:
    """The slice at ``index`` along ``axis``, without that dimension (PyTorch's ``select(dim, index)``)."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise IndexError("select: a 0-d tensor has no dimension to select from")
    axis = check_axis("select", axis, x.ndim, _spec(x))
    size = x.shape[axis]
    index = as_int("select", index, "index", _spec(x))
    if size is not None and not -size <= index < size:
        raise IndexError(f"select: index {index} is out of range for dimension {axis} of size {size} of the "
                         f"tensor of shape {list(x.shape)}")
    return getitem(x, (slice(None),) * axis + (index,))


def unbind(x: TensorLike, axis: int = 0) -> tuple:
    """The slices along ``axis``, each without that dimension (PyTorch's ``unbind``)."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise IndexError("unbind: a 0-d tensor has no dimension to unbind")
    axis = check_axis("unbind", axis, x.ndim, _spec(x))
    if x.shape[axis] is None:
        raise ValueError(f"unbind: dimension {axis} of {x!r} is unknown while the graph is built")
    return tuple(select(x, axis, i) for i in range(x.shape[axis]))


def _writable_diagonal(xp, x, offset: int, axis1: int, axis2: int):
    """``x``'s diagonal as a view that writes through into ``x``, as PyTorch's (NumPy's is read-only)."""
    offset = max(-x.shape[axis1], min(x.shape[axis2], offset))  # (as empty beyond; NumPy overflows past int64)
    out = xp.diagonal(x, offset, axis1, axis2)
    if xp is np and x.flags.writeable:
        out.flags.writeable = True
    return out


def _diagonal_infer(x, *, offset, axis1, axis2, name: str = "diagonal"):
    if x.ndim < 2:
        raise shape_error(name, [x], "needs at least 2 dimensions")
    offset = as_int(name, offset, "offset", [x])
    first, second = check_axis(name, axis1, x.ndim, [x]), check_axis(name, axis2, x.ndim, [x])
    rows, cols = x.shape[first], x.shape[second]
    if first == second or rows is None or cols is None:
        raise shape_error(name, [x], f"axis1 {axis1} and axis2 {axis2} must be two dimensions of known size")
    n = max(0, min(rows - max(-offset, 0), cols - max(offset, 0)))
    return Spec(tuple(d for i, d in enumerate(x.shape) if i not in (first, second)) + (n,), x.dtype)


def _diagonal_grad_infer(g, *, shape, offset, axis1, axis2):
    shape = check_sizes("diagonal_grad", shape, "shape")
    expected = _diagonal_infer(Spec(shape, g.dtype), offset=offset, axis1=axis1, axis2=axis2, name="diagonal_grad")
    if not fits(tuple(g.shape), tuple(expected.shape)):
        raise shape_error("diagonal_grad", [g], f"the diagonal of shape {list(shape)} has shape "
                                                f"{list(expected.shape)}")
    return Spec(shape, g.dtype)


def _diagonal_grad_forward(xp, g, *, shape, offset, axis1, axis2):
    out = xp.zeros(shape, g.dtype)
    _writable_diagonal(xp, out, offset, axis1, axis2)[...] = g
    return out


DIAGONAL = defop(
    "diagonal",
    forward=lambda xp, x, *, offset, axis1, axis2: _writable_diagonal(xp, x, offset, axis1, axis2),
    infer=_diagonal_infer,
    vjp=vjp_rule(lambda run, ctx, g: (run(DIAGONAL_GRAD, g, shape=tuple(ctx.inputs[0].shape), **ctx.attrs),)),
    cost=movement_cost,
    onnx="Gather",
    vjp_reads=(),
    view=lambda array, attrs, shape: _writable_diagonal(np, array, **attrs),
)

# zeros of ``shape`` with ``g`` on the diagonal: diagonal's adjoint, and diag_embed
DIAGONAL_GRAD = defop(
    "diagonal_grad",
    forward=_diagonal_grad_forward,
    infer=_diagonal_grad_infer,
    vjp=vjp_rule(lambda run, ctx, gg: (run(DIAGONAL, gg, **{k: v for k, v in ctx.attrs.items() if k != "shape"}),)),
    cost=movement_cost,
    onnx=NO_ONNX,
    vjp_reads=(),
)


def _diagonal_axes(name: str, x: TensorLike, offset, axis1, axis2) -> tuple:
    first, second = check_axis(name, axis1, x.ndim, _spec(x)), check_axis(name, axis2, x.ndim, _spec(x))
    if first == second:
        raise ValueError(f"{name}: axis1 and axis2 are both dimension {first} of the tensor of shape "
                         f"{list(x.shape)}")
    offset = as_int(name, offset, "offset", _spec(x))
    if x.shape[first] is None or x.shape[second] is None:
        raise ValueError(f"{name}: dimensions {first} and {second} of {x!r} must be known")
    return offset, first, second


def diagonal(x: TensorLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> TensorLike:
    """The diagonal of the ``axis1`` x ``axis2`` matrices of x (above the main one for a positive ``offset``),
    as the last dimension (``numpy.diagonal``; PyTorch's ``diagonal(offset, dim1, dim2)``). A view, as
    PyTorch's: writing into it writes into x."""
    x = as_tensor(x)
    offset, first, second = _diagonal_axes("diagonal", x, offset, axis1, axis2)
    return dispatch.apply(DIAGONAL, (x,), {"offset": offset, "axis1": first, "axis2": second})


_matrix_diagonal = diagonal  # (diag's argument takes the name)


def diag(x: TensorLike, diagonal: int = 0) -> TensorLike:
    """A 1-D x as the ``diagonal``-th diagonal of a square matrix of zeros, or a 2-D x's ``diagonal``-th
    diagonal (PyTorch's ``diag``)."""
    x = as_tensor(x)
    offset = as_int("diag", diagonal, "diagonal", _spec(x))
    if x.ndim == 2:
        return clone(_matrix_diagonal(x, offset))  # (a copy, as PyTorch's diag)
    if x.ndim != 1 or x.shape[0] is None:
        raise ValueError(f"diag: expects a 1-D or 2-D tensor of known size, got shape {list(x.shape)}")
    n = x.shape[0] + abs(offset)
    steps = np.arange(x.shape[0])
    index = (steps + max(-offset, 0), steps + max(offset, 0))
    return dispatch.apply(GETITEM_GRAD, (x,), {"shape": (n, n), "index": index})  # x added into zeros at index


# --- pad: the adjoint of a basic slice -----------------------------------------------------------------


def _pad_infer(x, *, pad_width, value):
    if not isinstance(pad_width, (tuple, list)) or len(pad_width) != x.ndim or any(
            not isinstance(pair, (tuple, list)) or len(pair) != 2 or min(check_sizes("pad", pair, "pad_width", [x]))
            < 0 for pair in pad_width):
        raise shape_error("pad", [x], f"pad_width {pad_width} needs one non-negative (before, after) pair per axis")
    return Spec(tuple(d + a + b for d, (a, b) in zip(x.shape, pad_width)), x.dtype)


def _pad_rule(run, ctx, g):
    index = tuple(slice(a, a + d) for (a, _), d in zip(ctx.attrs["pad_width"], ctx.inputs[0].shape))
    return (run(GETITEM, g, index=index),)


PAD = defop(
    "pad",
    forward=lambda xp, x, *, pad_width, value: xp.pad(x, pad_width, mode="constant", constant_values=value),
    infer=_pad_infer,
    vjp=vjp_rule(_pad_rule),
    cost=movement_cost,
    onnx="Pad",
    vjp_reads=(),
)


def pad(x: TensorLike, pad_width, value: float = 0.0) -> TensorLike:
    """Pad with a constant; ``pad_width`` is NumPy's: an int, one (before, after) pair, or one per axis."""
    x = as_tensor(x)
    if not isinstance(pad_width, (tuple, list)):
        pad_width = as_int("pad", pad_width, "pad_width")
        pad_width = ((pad_width, pad_width),) * x.ndim
    else:
        pad_width = tuple(check_sizes("pad", pair, "pad_width", minimum=-(2**63)) if isinstance(pair, (tuple, list))
                          else (as_int("pad", pair, "pad_width"),) * 2 for pair in pad_width)
        if len(pad_width) == 1 and x.ndim != 1:
            pad_width = pad_width * x.ndim
    return dispatch.apply(PAD, (x,), {"pad_width": pad_width, "value": value})


# --- take / index_add -----------------------------------------------------------------------------------


def _axis_index(axis: int, indices) -> tuple:
    return (slice(None),) * axis + (indices,)


def _check_indices(name, indices: TensorLike):
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be an integer tensor, got {indices.dtype}")


def refuse_negative(name: str, indices: TensorLike, x: TensorLike, axis: int) -> None:
    """An IndexError naming ``name`` for a negative index along ``axis``: PyTorch's gather, scatter and
    index_add/index_copy/index_select refuse one, where NumPy would count it from the end."""
    if indices.symbolic or indices.dtype.kind == "u" or not indices.array.size:
        return
    low = int(indices.array.min())
    if low < 0:
        raise IndexError(f"{name}: index {low} is out of bounds for dimension {axis} with size "
                         f"{x.shape[axis] if x.ndim else 1} "
                         f"(input of shape {list(x.shape)}; negative indices do not count from the end here)")


def _take_infer(x, indices, *, axis, name="take"):
    axis = check_axis(name, axis, x.ndim, [x, indices])
    return Spec(tuple(x.shape[:axis]) + tuple(indices.shape) + tuple(x.shape[axis + 1:]), x.dtype)


TAKE = defop(
    "take",
    forward=lambda xp, x, indices, *, axis: xp.take(x, indices, axis=axis),
    infer=_take_infer,
    vjp=vjp_rule(lambda run, ctx, g: (
        run(INDEX_ADD, _zeros_with(run, ctx.inputs[0], g), ctx.inputs[1], g, axis=ctx.attrs["axis"]), None)),
    cost=movement_cost,
    onnx="Gather",
)


def take(x: TensorLike, indices, axis: int | None = None) -> TensorLike:
    """Elements of ``x`` at ``indices`` along ``axis`` (``torch.index_select``); with no axis, of x flattened, as
    ``numpy.take`` and ``torch.take`` (a result of ``indices``' shape).

    >>> ember.take(ember.tensor([[1, 2], [3, 4]]), ember.tensor([0, 3])).tolist()
    [1, 4]
    """
    x = as_tensor(x)
    indices = as_tensor(indices, x) if not isinstance(indices, TensorLike) else indices
    _check_indices("take", indices)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = normalize_axis("take", axis, x.ndim, [Spec(x.shape, x.dtype)])[0]
    return dispatch.apply(TAKE, (x, indices), {"axis": axis})


def _index_add_forward(xp, x, indices, src, *, axis):
    if xp is not np:
        nondeterministic_alert("index_add", _ATOMIC)
    out = x.copy()
    xp.add.at(out, _axis_index(axis, indices), src)
    return out


def _index_add_infer(x, indices, src, *, axis):
    expected = _take_infer(x, indices, axis=axis, name="index_add").shape
    if tuple(src.shape) != expected or src.dtype != x.dtype:
        raise shape_error("index_add", [x, indices, src], f"src must be {x.dtype}{list(expected)}")
    return Spec(tuple(x.shape), x.dtype)


INDEX_ADD = defop(
    "index_add",
    forward=_index_add_forward,
    infer=_index_add_infer,
    vjp=vjp_rule(lambda run, ctx, g: (
        g, None, run(TAKE, g, ctx.inputs[1], axis=ctx.attrs["axis"]) if ctx.needs[2] else None)),
    cost=movement_cost,
    onnx=NO_ONNX,
)


def index_add(x: TensorLike, *args, alpha: float = 1, **kwargs) -> TensorLike:
    """A copy of ``x`` with ``src`` added at ``indices`` along ``axis``; repeated indices accumulate. Takes
    Ember's ``index_add(x, indices, src, axis=0)`` or PyTorch's ``index_add(x, dim, index, source, alpha=1)``
    (a Python int second argument is PyTorch's dim). PyTorch's form refuses a source of another dtype than
    x's, as PyTorch does; Ember's promotes the two to one dtype."""
    if (args and isinstance(args[0], int) and not isinstance(args[0], bool)) or "source" in kwargs \
            or "index" in kwargs:
        axis, indices, src = _bind("index_add", ("axis", "index", "source"), args, kwargs)
        x, src = same_dtype("index_add", x, src)
        if x.dtype.kind in "iu" and isinstance(alpha, float):  # PyTorch casts alpha to the integer dtype
            alpha = int(alpha)
    else:
        indices, src, axis = _bind("index_add", ("indices", "src", "axis"), args, kwargs, {"axis": 0})
    return _index_add(x, indices, src if alpha == 1 else src * alpha, axis, "index_add")


def _bind(name: str, names: tuple, args: tuple, kwargs: dict, defaults: dict | None = None) -> tuple:
    """``args`` and ``kwargs`` as the values of ``names``, in order, with a TypeError naming what is wrong."""
    if len(args) > len(names):
        raise TypeError(f"{name}: takes {len(names)} arguments after the tensor ({', '.join(names)}), got {len(args)}")
    values = {**(defaults or {}), **dict(zip(names, args))}
    for key, value in kwargs.items():
        if key in names[:len(args)]:
            raise TypeError(f"{name}: got {key} twice")
        values[key] = value
    unknown, missing = sorted(set(values) - set(names)), [n for n in names if n not in values]
    if unknown or missing:
        raise TypeError(f"{name}: unexpected arguments {unknown}, missing {missing}; it takes {', '.join(names)}")
    return tuple(values[n] for n in names)


def _index_add(x: TensorLike, indices, src, axis: int, strict: str | None = None) -> TensorLike:
    """index_add's op; given ``strict`` (the caller's name), negative indices are refused."""
    x, src = promote(x, src)
    indices = indices if isinstance(indices, TensorLike) else as_tensor(np.asarray(indices), x)
    _check_indices("index_add", indices)
    axis = normalize_axis("index_add", axis, x.ndim, [Spec(x.shape, x.dtype)])[0]
    if strict:
        refuse_negative(strict, indices, x, axis)
    if x.ndim == 0:  # PyTorch's: a 0-d tensor indexed as one of one element
        return reshape(_index_add(reshape(x, (1,)), reshape(indices, (-1,)), reshape(src, (-1,)), 0), ())
    expected = tuple(x.shape[:axis]) + tuple(indices.shape) + tuple(x.shape[axis + 1:])
    if not fits(tuple(src.shape), expected):  # (the eager forward's add.at would broadcast it)
        raise shape_error(strict or "index_add", [x, indices, src], f"the source must have shape {list(expected)}: "
                          f"the input's outside dim {axis} and the index's length along it, got {list(src.shape)}")
    return dispatch.apply(INDEX_ADD, (x, indices, src), {"axis": axis})


def _zeros_with(run, x, like):
    """Zeros of ``x``'s shape in ``like``'s dtype and array module, inside a rule over ``run``: a constant
    Tensor on Tensors, an array on arrays."""
    if run is on_tensors:
        return dispatch.wrap(like.xp.zeros(x.shape, like.dtype))
    return array_module(like).zeros(x.shape, like.dtype)


# --- gather / scatter_add (PyTorch's dim-wise indexing) ----------------------------------------------------


def _along_axis(xp, index, axis: int) -> tuple:
    grids = []
    for d, size in enumerate(index.shape):
        if d == axis:
            grids.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = size
            grids.append(xp.arange(size).reshape(shape))
    return tuple(grids)


def _gather_infer(x, index, *, axis, name="gather"):
    check_axis(name, axis, x.ndim, [x, index])
    if index.ndim != x.ndim:
        raise shape_error(name, [x, index], "index must have as many dimensions as the input")
    for d, (a, b) in enumerate(zip(index.shape, x.shape)):
        if d != axis and a > b:
            raise shape_error(name, [x, index], f"index is larger than the input along axis {d}")
    return Spec(tuple(index.shape), x.dtype)


def _gather_forward(xp, x, index, *, axis):
    if index.ndim != x.ndim:  # NumPy would index silently with the wrong meaning; infer names the problem
        raise ValueError("gather: index and input differ in dimensions")
    return x[_along_axis(xp, index, axis)]


GATHER = defop(
    "gather",
    forward=_gather_forward,
    infer=_gather_infer,
    vjp=vjp_rule(lambda run, ctx, g: (
        run(SCATTER_ADD, _zeros_with(run, ctx.inputs[0], g), ctx.inputs[1], g, axis=ctx.attrs["axis"]), None)),
    cost=movement_cost,
    onnx="GatherElements",
)


def gather(x: TensorLike, axis: int, index) -> TensorLike:
    """``out[i][j] = x[index[i][j]][j]`` for axis 0 and so on: PyTorch's ``gather``."""
    x = as_tensor(x)
    index = index if isinstance(index, TensorLike) else as_tensor(np.asarray(index), x)
    _check_indices("gather", index)
    axis = normalize_axis("gather", axis, x.ndim, [Spec(x.shape, x.dtype)])[0]
    refuse_negative("gather", index, x, axis)
    return dispatch.apply(GATHER, (x, index), {"axis": axis})


def _scatter_add_forward(xp, x, index, src, *, axis):
    if index.ndim != x.ndim or src.ndim != index.ndim or any(s < i for s, i in zip(src.shape, index.shape)):
        # add.at would broadcast a too-small src silently; infer names the problem
        raise ValueError("scatter_add: index and src do not fit the input")
    if xp is not np:
        nondeterministic_alert("scatter_add", _ATOMIC)
    region = tuple(slice(0, d) for d in index.shape)
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: summed in float32 and rounded once, as PyTorch's
        out = x.astype(float32)
        xp.add.at(out, _along_axis(xp, index, axis), src[region].astype(float32))
        return out.astype(x.dtype)
    out = x.copy()
    xp.add.at(out, _along_axis(xp, index, axis), src[region])
    return out


def _scatter_add_infer(x, index, src, *, axis):
    _gather_infer(x, index, axis=axis, name="scatter_add")
    if src.ndim != index.ndim or any(s < i for s, i in zip(src.shape, index.shape)) or src.dtype != x.dtype:
        raise shape_error("scatter_add", [x, index, src], "src must cover the index and match the input dtype")
    return Spec(tuple(x.shape), x.dtype)


def _scatter_add_rule(run, ctx, g):
    x, index, src = ctx.inputs
    gsrc = None
    if ctx.needs[2]:
        gsrc = run(GATHER, g, index, axis=ctx.attrs["axis"])
        if tuple(gsrc.shape) != tuple(src.shape):
            gsrc = run(PAD, gsrc, pad_width=tuple((0, s - i) for s, i in zip(src.shape, index.shape)), value=0.0)
    return g, None, gsrc


SCATTER_ADD = defop(
    "scatter_add",
    forward=_scatter_add_forward,
    infer=_scatter_add_infer,
    vjp=vjp_rule(_scatter_add_rule),
    cost=movement_cost,
    onnx="ScatterElements",
)


def scatter_add(x: TensorLike, axis: int, index, src) -> TensorLike:
    """A copy of ``x`` with ``out[index[i][j]][j] += src[i][j]`` (axis 0): PyTorch's ``scatter_add`` (src of
    x's dtype)."""
    x, src = same_dtype("scatter_add", x, src, "src")
    index = index if isinstance(index, TensorLike) else as_tensor(np.asarray(index), x)
    _check_indices("scatter_add", index)
    axis = normalize_axis("scatter_add", axis, x.ndim, [Spec(x.shape, x.dtype)])[0]
    refuse_negative("scatter_add", index, x, axis)
    return dispatch.apply(SCATTER_ADD, (x, index, src), {"axis": axis})


# --- one_hot ------------------------------------------------------------------------------------------------


def _one_hot_forward(xp, indices, *, num_classes):
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise IndexError(
            f"one_hot: indices must lie in [0, {num_classes}), got values from {int(indices.min())} "
            f"to {int(indices.max())}"
        )
    return (indices[..., None] == xp.arange(num_classes)).astype(int64)


def _num_classes(indices, num_classes) -> int:
    if as_int("one_hot", num_classes, "num_classes", [indices]) < 0:
        raise shape_error("one_hot", [indices], f"num_classes must be non-negative, got {num_classes}")
    return num_classes


ONE_HOT = defop(
    "one_hot",
    forward=_one_hot_forward,
    infer=lambda indices, *, num_classes: Spec(tuple(indices.shape) + (_num_classes(indices, num_classes),), int64),
    vjp=NON_DIFFERENTIABLE,
    cost=movement_cost,
    onnx="OneHot",
)


def one_hot(indices, num_classes: int = -1) -> TensorLike:
    """int64 one-hot rows for integer class indices; ``num_classes=-1`` uses max + 1."""
    indices = as_tensor(indices)
    _check_indices("one_hot", indices)
    if num_classes == -1:
        if isinstance(indices, TensorLike) and indices.symbolic:
            raise ValueError(f"one_hot: indices {indices!r} have no values while the graph is built; "
                             "give num_classes")
        num_classes = int(indices.array.max()) + 1 if indices.array.size else 0
    return dispatch.apply(ONE_HOT, (indices,), {"num_classes": as_int("one_hot", num_classes, "num_classes")})


# --- embedding ----------------------------------------------------------------------------------------------


def _embedding_forward(xp, weight, ids, *, sparse, padding_idx=None, scale_grad_by_freq=False):
    n = weight.shape[0]
    if ids.size:
        # On a GPU each answer fetched to the host waits for its queue: fetch both bounds in one copy
        low, high = (int(ids.min()), int(ids.max())) if xp is np else xp.stack([ids.min(), ids.max()]).tolist()
        if low < 0 or high >= n:
            raise IndexError(f"embedding: ids must lie in [0, {n}) for a weight of shape {list(weight.shape)}, "
                             f"got values from {low} to {high}")
    return xp.take(weight, ids, axis=0)  # weight[ids], 2-3x faster


def _embedding_infer(weight, ids, *, sparse, padding_idx=None, scale_grad_by_freq=False):
    if weight.ndim < 1:
        raise shape_error("embedding", [weight, ids], "weight must have rows: (num_embeddings, ...)")
    if ids.dtype.kind not in "iu":
        raise shape_error("embedding", [weight, ids], "ids must be integers")
    return Spec(tuple(ids.shape) + tuple(weight.shape[1:]), weight.dtype)


def _embedding_rule(run, ctx, g):
    weight, ids = ctx.inputs
    rows = reshape_with(run, g, (-1,) + tuple(weight.shape[1:]))  # (a 1-D weight's rows are scalars)
    column_shape = (-1,) + (1,) * (weight.ndim - 1)  # an id per row, broadcast over the row
    padding_idx = ctx.attrs.get("padding_idx")
    if padding_idx is not None:  # the padding row gets no gradient
        rows = run(WHERE, reshape_with(run, ids, column_shape) == ids.dtype.type(padding_idx), _scalar(run, rows, 0.0),
                   rows)
    if ctx.attrs.get("scale_grad_by_freq"):  # each id's rows divided by its count among the ids
        flat, column = reshape_with(run, ids, (-1,)), reshape_with(run, ids, column_shape)
        ones = run(WHERE, column == column, _scalar(run, rows, 1.0), _scalar(run, rows, 0.0))
        counts = run(EMBEDDING_GRAD, ones, flat, num_embeddings=weight.shape[0])
        rows = rows / run(EMBEDDING, counts, flat, sparse=False)
    if ctx.attrs["sparse"]:
        if run is not on_tensors:  # an eager backward on arrays
            return dispatch.row_sparse(ids.reshape(-1), dispatch.wrap(rows), weight.shape), None
        if isinstance(ids, TensorLike) and ids.symbolic:  # a graph's gradients densify it where it is not wanted
            return dispatch.row_sparse(ids.reshape(-1), rows, weight.shape), None
        if not dispatch.grad_enabled():
            return dispatch.row_sparse(ids.array.reshape(-1), rows, weight.shape), None
    return run(EMBEDDING_GRAD, rows, reshape_with(run, ids, (-1,)), num_embeddings=weight.shape[0]), None


EMBEDDING = defop(
    "embedding",
    forward=_embedding_forward,
    infer=_embedding_infer,
    vjp=vjp_rule(_embedding_rule),
    cost=movement_cost,
    onnx="Gather",
    vjp_reads=(1,),  # the ids; the table only for its shape
)


def _embedding_grad_forward(xp, rows, ids, *, num_embeddings):
    # index_add's sum into zeros, without index_add's copy of them (a table-sized copy per lookup: half the
    # CTR model's dense backward)
    if xp is not np:
        nondeterministic_alert("embedding_grad", _ATOMIC)
    out = xp.zeros((num_embeddings,) + rows.shape[1:], rows.dtype)
    xp.add.at(out, _axis_index(0, ids), rows)
    return out


def _embedding_grad_infer(rows, ids, *, num_embeddings):
    if rows.ndim < 1 or ids.ndim != 1 or ids.dtype.kind not in "iu" or differ(rows.shape[0], ids.shape[0]):
        raise shape_error("embedding_grad", [rows, ids], "needs rows (n, ...) and n integer ids")
    if as_int("embedding_grad", num_embeddings, "num_embeddings", [rows, ids]) < 0:
        raise shape_error("embedding_grad", [rows, ids], f"num_embeddings must be non-negative, got {num_embeddings}")
    return Spec((num_embeddings,) + tuple(rows.shape[1:]), rows.dtype)


# The dense gradient of an embedding: each row of ``rows`` (of any shape) summed into row ``ids[i]`` of a zero table.
EMBEDDING_GRAD = defop(
    "embedding_grad",
    forward=_embedding_grad_forward,
    infer=_embedding_grad_infer,
    vjp=lambda ctx, g: (take(g, ctx.inputs[1], axis=0) if ctx.needs[0] else None, None),
    cost=movement_cost,
    onnx=NO_ONNX,
    fresh=True,
)


def dense_gradient(grad) -> TensorLike:
    """A row-sparse gradient of a weight as a dense Tensor, by ops (so it also builds graph nodes)."""
    indices = grad.indices if isinstance(grad.indices, TensorLike) else as_tensor(grad.indices)
    return dispatch.apply(EMBEDDING_GRAD, (grad.values, indices), {"num_embeddings": grad.shape[0]})


def embedding(ids, weight: TensorLike, sparse: bool = False, padding_idx: int | None = None,
              scale_grad_by_freq: bool = False) -> TensorLike:
    """Rows of the 2-D ``weight`` for integer ``ids`` (any shape). With ``sparse=True`` the weight's gradient
    is a ``RowSparse`` holding only the looked-up rows (dense when differentiating twice); the ids equal to
    ``padding_idx`` (a row of the weight) send it no gradient; ``scale_grad_by_freq`` divides the gradient each
    id sends by the number of times it occurs in ``ids``. (``table_rows`` takes a table of any rank.)"""
    ids = as_tensor(ids)
    _check_indices("embedding", ids)
    if weight.ndim != 2:
        raise shape_error("embedding", [weight, ids], "weight must be 2-D (num_embeddings, dim)")
    return _lookup(ids, weight, sparse, padding_idx, scale_grad_by_freq)


def table_rows(ids, table: TensorLike, sparse: bool = False, padding_idx: int | None = None,
               scale_grad_by_freq: bool = False) -> TensorLike:
    """``table[ids]``: the rows of ``table`` (along its first axis; a 1-D table's rows are scalars) for integer
    ``ids`` (any shape), by the ``embedding`` op, with ``embedding``'s options: with ``sparse=True`` the table's
    gradient is row-sparse whatever its rank (TF-1's ``IndexedSlices`` of a gather on a variable)."""
    ids = as_tensor(ids)
    _check_indices("embedding", ids)
    if table.ndim < 1:
        raise shape_error("embedding", [table, ids], "the table must have rows: (num_rows, ...)")
    return _lookup(ids, table, sparse, padding_idx, scale_grad_by_freq)


def _lookup(ids: TensorLike, table: TensorLike, sparse: bool, padding_idx: int | None,
            scale_grad_by_freq: bool) -> TensorLike:
    attrs = {"sparse": bool(sparse)}
    if padding_idx is not None:
        rows = table.shape[0]
        if not -rows <= padding_idx < rows:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for a weight of shape "
                             f"{list(table.shape)}")
        attrs["padding_idx"] = int(padding_idx) % rows
    if scale_grad_by_freq:
        attrs["scale_grad_by_freq"] = True
    return dispatch.apply(EMBEDDING, (table, ids), attrs)
