"""Ops that join tensors or repeat one, and the splits that undo a join: concat, stack, split, chunk, repeat,
tile. Their gradients slice (``getitem``) or sum (``reduction.sum``), so they sit above both."""

from __future__ import annotations

from ember.backend.dtypes import result_type
from ember.ops import dispatch
from ember.ops.convert import as_tensor, cast
from ember.ops.dispatch import TensorLike
from ember.ops.indexing import GETITEM, getitem, index_arrays
from ember.ops.infer import as_int, check_axis, check_sizes, differ, fits, movement_cost, normalize_axis, same_dtype
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.reduction import SUM
from ember.ops.registry import NO_ONNX, Spec, defop, describe, shape_error
from ember.ops.shape import reshape_with, unsqueeze

# --- concatenate / stack / split ------------------------------------------------------------------------


def _concat_infer(*specs, axis):
    same_dtype("concat", specs)
    first = specs[0]
    if first.ndim == 0:
        raise shape_error("concat", specs, "zero-dimensional inputs cannot be concatenated")
    axis = check_axis("concat", axis, first.ndim, specs)
    for s in specs[1:]:
        if s.ndim != first.ndim or any(differ(a, b) for i, (a, b) in enumerate(zip(s.shape, first.shape)) if i != axis):
            raise shape_error("concat", specs, f"shapes must match except along axis {axis}")
    shape = [next((s.shape[i] for s in specs if s.shape[i] is not None), None) for i in range(first.ndim)]
    sizes = [s.shape[axis] for s in specs]
    shape[axis] = None if None in sizes else sum(sizes)
    return Spec(tuple(shape), first.dtype)


def _concat_rule(run, ctx, g):
    axis = ctx.attrs["axis"] % g.ndim
    grads, start = [], 0
    for t, need in zip(ctx.inputs, ctx.needs):
        stop = start + t.shape[axis]
        index = index_arrays((slice(None),) * axis + (slice(start, stop),), g.shape)  # as getitem reads it
        grads.append(run(GETITEM, g, index=index) if need else None)
        start = stop
    return tuple(grads)


def _slice_axis(x: TensorLike, axis: int, start: int, stop: int) -> TensorLike:
    return getitem(x, (slice(None),) * axis + (slice(start, stop),))


CONCAT = defop(
    "concat",
    forward=lambda xp, *xs, axis: xp.concatenate(xs, axis=axis),
    infer=_concat_infer,
    vjp=vjp_rule(_concat_rule),
    cost=movement_cost,
    onnx="Concat",
    vjp_reads=(),
)


def _same_dtype_tensors(name, tensors):
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{name}: needs at least one tensor")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = result_type(dtype, t.dtype)
    return tuple(cast(t, dtype) for t in tensors)


def concat(tensors, axis: int = 0) -> TensorLike:
    """Join tensors along an existing axis. A 1-D empty tensor (shape ``(0,)``) joins tensors of any shape,
    adding nothing, as in PyTorch's ``cat``."""
    tensors = _same_dtype_tensors("concat", tensors)
    if axis.__class__ is not int:
        axis = as_int("concat", axis, "axis", [Spec(t.shape, t.dtype) for t in tensors])
    if len(tensors) > 1 and any(t.shape == (0,) for t in tensors):
        tensors = _fit_empty(tensors, axis)
    return dispatch.apply(CONCAT, tensors, {"axis": axis})


def _fit_empty(tensors: tuple, axis: int) -> tuple:
    """``tensors`` with each ``(0,)`` one reshaped to the others' shape with ``axis`` empty (it keeps its
    place and gets its empty gradient), when another tensor has more than one dimension."""
    other = next((t for t in tensors if t.ndim != 1), None)
    if other is None or None in tuple(other.shape) or not -other.ndim <= axis < other.ndim:
        return tensors  # all 1-D, or left to concat's shape rule to name what is wrong
    shape = list(other.shape)
    shape[axis] = 0
    return tuple(reshape_with(on_tensors, t, shape) if t.shape == (0,) else t for t in tensors)


concatenate = concat
cat = concat


def stack(tensors, axis: int = 0) -> TensorLike:
    """Join tensors of one shape along a new axis."""
    tensors = _same_dtype_tensors("stack", tensors)
    shape = tensors[0].shape
    for t in tensors[1:]:
        if not fits(t.shape, shape):
            raise ValueError(f"stack: all tensors need one shape, got {list(shape)} and {list(t.shape)}")
    axis = check_axis("stack", axis, len(shape) + 1, [Spec(t.shape, t.dtype) for t in tensors])
    return concat([unsqueeze(t, axis) for t in tensors], axis=axis)


def split(x: TensorLike, split_size_or_sections, axis: int = 0) -> tuple:
    """Split along ``axis`` into parts of ``split_size_or_sections`` elements (an int; the last part may be
    smaller) or into parts of the given sizes (a list), like ``torch.split``, whose tuple it returns (a module
    returning it gets its backward hooks, as PyTorch's). For a number of equal parts use ``chunk``."""
    x = as_tensor(x)
    spec = [Spec(x.shape, x.dtype)]
    if x.ndim == 0:
        raise ValueError("split: expects a tensor of at least one dimension, got a 0-d one")
    axis = check_axis("split", axis, x.ndim, spec)
    length = x.shape[axis]
    if not isinstance(split_size_or_sections, (tuple, list)):
        size = as_int("split", split_size_or_sections, "split_size", spec)
        if size < 0 or size == 0 and length != 0:
            raise ValueError(f"split: the part size must be positive (0 only for an empty axis), got {size} for "
                             f"axis {axis} of length {length}")
        # an empty axis is one empty part, as PyTorch's
        sizes = [size] * (length // size) + ([length % size] if length % size else []) if length != 0 else [0]
    else:
        sizes = list(check_sizes("split", split_size_or_sections, "sizes", spec))
        if sum(sizes) != length:
            raise ValueError(f"split: sizes {sizes} do not add up to {length}, the length of axis {axis}")
    parts, start = [], 0
    for size in sizes:
        parts.append(_slice_axis(x, axis, start, start + size))
        start += size
    return tuple(parts)


def chunk(x: TensorLike, chunks: int, axis: int = 0) -> tuple:
    """Split into ``chunks`` parts of equal size (the last may be smaller), like ``torch.chunk``: a tuple."""
    x = as_tensor(x)
    spec = [Spec(x.shape, x.dtype)]
    chunks = as_int("chunk", chunks, "chunks", spec)
    if x.ndim == 0:
        raise ValueError("chunk: expects a tensor of at least one dimension, got a 0-d one")
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks} (input {describe(spec)})")
    length = x.shape[check_axis("chunk", axis, x.ndim, spec)]
    if length == 0:  # PyTorch's: ``chunks`` empty parts
        return split(x, [0] * chunks, axis)
    size = -(-length // chunks)
    sizes = [size] * (length // size) + ([length % size] if length % size else [])
    return split(x, sizes, axis)


# --- repeat / tile -------------------------------------------------------------------------------------


def _repeat_infer(x, *, repeats, axis):
    if as_int("repeat", repeats, "repeats", [x]) < 0:
        raise shape_error("repeat", [x], f"repeats must be non-negative, got {repeats}")
    if axis is None:
        return Spec((x.size * repeats,), x.dtype)
    axis_ = normalize_axis("repeat", axis, x.ndim, [x])[0]
    shape = list(x.shape)
    shape[axis_] *= repeats
    return Spec(tuple(shape), x.dtype)


def _repeat_rule(run, ctx, g):
    x, repeats, axis = ctx.inputs[0], ctx.attrs["repeats"], ctx.attrs["axis"]
    if axis is None:
        size = x.array.size if run is on_tensors else x.size
        summed = run(SUM, reshape_with(run, g, (size, repeats)), axis=1, keepdims=False)
        return (reshape_with(run, summed, x.shape),)
    axis = axis % x.ndim
    shape = tuple(x.shape)
    split_shape = shape[:axis] + (shape[axis], repeats) + shape[axis + 1:]
    return (run(SUM, reshape_with(run, g, split_shape), axis=axis + 1, keepdims=False),)


REPEAT = defop(
    "repeat",
    forward=lambda xp, x, *, repeats, axis: xp.repeat(x, repeats, axis=axis),
    infer=_repeat_infer,
    vjp=vjp_rule(_repeat_rule),
    cost=movement_cost,
    onnx=NO_ONNX,
)


def repeat(x: TensorLike, repeats: int, axis: int | None = None) -> TensorLike:
    """Repeat each element ``repeats`` times along ``axis`` (NumPy's ``repeat``; PyTorch's
    ``repeat_interleave``). With ``axis=None`` the input is flattened first."""
    x = as_tensor(x)
    if repeats.__class__ is not int or repeats < 0:
        if as_int("repeat", repeats, "repeats") < 0:
            raise ValueError(f"repeat: repeats must be a non-negative int, got {repeats!r}")
        repeats = int(repeats)
    if axis is not None:
        axis = check_axis("repeat", axis, x.ndim, [Spec(x.shape, x.dtype)])
    return dispatch.apply(REPEAT, (x,), {"repeats": repeats, "axis": axis})


def _tile_infer(x, *, reps):
    reps = check_sizes("tile", reps, "reps", [x])
    if len(reps) < x.ndim:  # the public function pads reps with ones; NumPy would too, in front
        reps = (1,) * (x.ndim - len(reps)) + reps
    shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
    return Spec(tuple(d * r for d, r in zip(shape, reps)), x.dtype)


def _tile_rule(run, ctx, g):
    x, reps = ctx.inputs[0], ctx.attrs["reps"]
    shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
    interleaved = []
    for r, d in zip(reps, shape):
        interleaved += [r, d]
    axes = tuple(range(0, 2 * len(reps), 2))  # as ``sum`` normalises them: one axis as an int
    g = run(SUM, reshape_with(run, g, interleaved), axis=axes if len(axes) != 1 else axes[0], keepdims=False)
    return (reshape_with(run, g, x.shape),)


TILE = defop(
    "tile",
    forward=lambda xp, x, *, reps: xp.tile(x, reps),
    infer=_tile_infer,
    vjp=vjp_rule(_tile_rule),
    cost=movement_cost,
    onnx="Tile",
)


def tile(x: TensorLike, *reps) -> TensorLike:
    """Repeat the whole tensor ``reps`` times per axis (NumPy's ``tile``; PyTorch's ``Tensor.repeat``); the
    counts as one sequence or as arguments (``x.tile(2, 3)``), as PyTorch's ``tile``."""
    x = as_tensor(x)
    if not reps:
        raise TypeError("tile: missing the repeat counts (reps)")
    reps = reps[0] if len(reps) == 1 else reps
    reps = check_sizes("tile", reps if isinstance(reps, (tuple, list)) else (reps,), "reps", [Spec(x.shape, x.dtype)])
    reps = (1,) * (x.ndim - len(reps)) + reps
    return dispatch.apply(TILE, (x,), {"reps": reps})
