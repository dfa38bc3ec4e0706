"""Sorting: ``argsort``, the lower ``median`` and ``nanmedian`` of all elements, ``mode``'s indices and
``searchsorted`` as primitives; ``sort``, ``msort``, ``topk``, ``kthvalue``, ``median(x, dim)``,
``nanmedian(x, dim)`` and ``mode`` composed from them with ``gather``, so the values' gradient goes to the chosen
elements."""

from __future__ import annotations

import math
from collections import namedtuple

from ember.backend.dtypes import COMPLEX, FLOATING, int32, int64
from ember.ops import dispatch
from ember.ops.convert import CAST, as_tensor, cast, promote
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import BITWISE_AND, BITWISE_OR, DIV, EQ, NE, eq, maximum, ne, where
from ember.ops.indexing import gather, getitem
from ember.ops.infer import as_int, check_axis, reduction_cost, refuse_complex
from ember.ops.kernels import accumulate, orderable
from ember.ops.modes import vjp_rule
from ember.ops.reduction import SUM, _keepdims_shape, _reduce_infer, any, argmax, sum
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, shape_error
from ember.ops.shape import reshape, reshape_with, squeeze

SortResult = namedtuple("sort", ["values", "indices"])  # like torch.return_types.sort
TopkResult = namedtuple("topk", ["values", "indices"])
MedianResult = namedtuple("median", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])
NanmedianResult = namedtuple("nanmedian", ["values", "indices"])
ModeResult = namedtuple("mode", ["values", "indices"])


def _argsort_forward(xp, x, *, axis, descending):
    x = orderable(x)
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    # descending and stable (ties keep their order, NaN first, as PyTorch): sort the reversed row ascending
    flipped = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
    return xp.ascontiguousarray(x.shape[axis] - 1 - xp.flip(flipped, axis))


def _argsort_infer(x, *, axis, descending):
    check_axis("argsort", axis, x.ndim, [x])
    return Spec(tuple(x.shape), int64)


def _sort_cost(out: Spec, x: Spec, **attrs) -> Cost:
    n = max(x.size or 1, 1)
    return Cost(n * max(n.bit_length(), 1), x.nbytes + out.nbytes)


ARGSORT = defop("argsort", forward=_argsort_forward, infer=_argsort_infer, vjp=NON_DIFFERENTIABLE, cost=_sort_cost,
                onnx="TopK")


def _median_forward(xp, x, *, axis, keepdims):
    flat = x.reshape(-1)
    k = (flat.size - 1) // 2
    value = xp.partition(flat, k)[k]
    if x.dtype in FLOATING and xp.isnan(flat).any():  # a NaN makes the median NaN, as in PyTorch
        value = x.dtype.type("nan")
    return xp.asarray(value, dtype=x.dtype).reshape((1,) * x.ndim if keepdims else ())


def _nanmedian_forward(xp, x, *, axis, keepdims):
    flat = x.reshape(-1)
    if x.dtype in FLOATING:
        flat = flat[~xp.isnan(flat)]
    if flat.size:
        k = (flat.size - 1) // 2
        value = xp.partition(flat, k)[k]
    else:  # every element NaN
        value = x.dtype.type("nan")
    return xp.asarray(value, dtype=x.dtype).reshape((1,) * x.ndim if keepdims else ())


def _whole_median_infer(name):
    def infer(x, *, axis, keepdims):
        if axis is not None:  # along an axis it is composed of argsort and gather, not this op
            raise shape_error(name, [x], f"the op takes the median of every element (axis None), got axis {axis!r}")
        return _reduce_infer(name)(x, axis=None, keepdims=keepdims)

    return infer


def _median_rule(run, ctx, g):
    # Ties share the gradient evenly (PyTorch's median); a NaN median's gradient is shared by the NaNs, which
    # equality alone would not find.
    x = ctx.inputs[0]
    keep = _keepdims_shape(ctx)
    out = reshape_with(run, ctx.output, keep)
    hit = run(EQ, x, out)
    if x.dtype in FLOATING:
        hit = run(BITWISE_OR, hit, run(BITWISE_AND, run(NE, x, x), run(NE, out, out)))
    hit = run(CAST, hit, dtype=x.dtype)
    count = run(SUM, hit, axis=ctx.attrs["axis"], keepdims=True)
    return (hit * run(DIV, reshape_with(run, g, keep), count),)


# The lower median of all elements: NaN wins (median) or is left out (nanmedian), as in PyTorch.
MEDIAN = defop("median", forward=_median_forward, infer=_whole_median_infer("median"), vjp=vjp_rule(_median_rule),
               cost=reduction_cost, onnx="TopK", saves_output=True)
NANMEDIAN = defop("nanmedian", forward=_nanmedian_forward, infer=_whole_median_infer("nanmedian"),
                  vjp=vjp_rule(_median_rule), cost=reduction_cost, onnx=NO_ONNX, saves_output=True)


def _mode_forward(xp, x, *, axis):
    rows = xp.moveaxis(orderable(x), axis, -1)
    order = xp.argsort(rows, axis=-1, kind="stable")
    ordered = xp.take_along_axis(rows, order, -1)
    starts = xp.ones(ordered.shape, bool)
    starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]  # (NaN != NaN: each NaN counts once)
    position = xp.arange(ordered.shape[-1])
    run_length = position - accumulate(xp, "maximum", xp.where(starts, position, 0), -1) + 1
    # The first longest run is the smallest most frequent value; its end, in a stable order, is the value's
    # last occurrence (PyTorch's choice)
    end = xp.argmax(run_length, axis=-1)[..., None]
    return xp.ascontiguousarray(xp.moveaxis(xp.take_along_axis(order, end, -1), -1, axis))


def _mode_infer(x, *, axis):
    if x.ndim == 0:  # (the function runs a 0-d tensor as one element)
        raise shape_error("mode", [x], "the op takes a tensor of at least one dimension")
    axis = check_axis("mode", axis, x.ndim, [x])
    if x.shape[axis] == 0:
        raise shape_error("mode", [x], f"dimension {axis} has no elements")
    return Spec(tuple(1 if d == axis else n for d, n in enumerate(x.shape)), int64)


# The index of the most frequent value along an axis (kept, of size 1); mode gathers the value with it.
MODE = defop("mode", forward=_mode_forward, infer=_mode_infer, vjp=NON_DIFFERENTIABLE, cost=_sort_cost,
             onnx=NO_ONNX)


def _searchsorted_forward(xp, boundaries, values, *, right, out_int32):
    side, dtype = "right" if right else "left", int32 if out_int32 else int64
    boundaries, values = orderable(boundaries), orderable(values)
    if boundaries.dtype.kind == "f" and bool(xp.isnan(boundaries).any()):
        return xp.asarray(_nan_search(xp, boundaries, values, right), dtype=dtype)
    if boundaries.ndim == 1:
        return xp.asarray(xp.searchsorted(boundaries, values, side=side), dtype=dtype)
    # NumPy's searchsorted takes one sequence: one call per row of the leading dimensions
    count = math.prod(values.shape[:-1])
    rows, queries = boundaries.reshape(count, boundaries.shape[-1]), values.reshape(count, values.shape[-1])
    out = xp.empty(queries.shape, dtype)
    for r in range(rows.shape[0]):
        out[r] = xp.searchsorted(rows[r], queries[r], side=side)
    return out.reshape(values.shape)


def _nan_search(xp, boundaries, values, right: bool):
    """PyTorch's binary search, a step for all the values at once, for a sequence holding NaN: its loop moves
    right past a NaN it meets (NaN is not >= a value), where NumPy's search reads NaN as the largest value."""
    n = boundaries.shape[-1]
    start, end = xp.zeros(values.shape, int64), xp.full(values.shape, n, int64)
    while bool((start < end).any()):
        mid = (start + end) // 2
        at = xp.minimum(mid, n - 1)
        seen = boundaries[at] if boundaries.ndim == 1 else xp.take_along_axis(boundaries, at, axis=-1)
        onward = ~(seen > values) if right else ~(seen >= values)
        active = start < end
        start, end = xp.where(active & onward, mid + 1, start), xp.where(active & ~onward, mid, end)
    return start


def _searchsorted_infer(boundaries, values, *, right, out_int32):
    specs = [boundaries, values]
    if boundaries.ndim == 0:
        raise shape_error("searchsorted", specs, "the sorted sequence must have at least one dimension")
    if boundaries.ndim > 1:
        clash = [a is not None and b is not None and a != b for a, b in zip(values.shape, boundaries.shape[:-1])]
        if values.ndim != boundaries.ndim or True in clash:  # (this module's any is the op)
            raise shape_error("searchsorted", specs, "the values must share the sorted sequence's leading "
                              "dimensions (all but the last) when the sequence has more than one dimension")
    return Spec(tuple(values.shape), int32 if out_int32 else int64)


def _searchsorted_cost(out: Spec, boundaries: Spec, values: Spec, **attrs) -> Cost:
    n = boundaries.shape[-1] or 1
    return Cost((out.size or 1) * max(n.bit_length(), 1), boundaries.nbytes + values.nbytes + out.nbytes)


# ONNX has no binary search
SEARCHSORTED = defop("searchsorted", forward=_searchsorted_forward, infer=_searchsorted_infer,
                     vjp=NON_DIFFERENTIABLE, cost=_searchsorted_cost, onnx=NO_ONNX)


def _search_side(right: bool, side: str | None) -> bool:
    if side is None:
        return bool(right)
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if right and side == "left":
        raise ValueError("searchsorted: side='left' and right=True ask for opposite sides")
    return side == "right"


def searchsorted(sorted_sequence, values, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter=None) -> TensorLike:
    """Where each of ``values`` would be inserted into ``sorted_sequence`` (sorted along its last dimension) to
    keep it sorted: the first such index, or with ``right=True`` / ``side='right'`` the last, as
    ``torch.searchsorted``. A sequence of more than one dimension searches each row for the values' matching
    row; ``sorter`` (indices of the sequence's shape) sorts an unsorted sequence first, and the result indexes
    the sorted order. int64 indices (``out_int32``: int32); no gradient."""
    boundaries = as_tensor(sorted_sequence)
    right = _search_side(right, side)
    if sorter is not None:
        sorter = as_tensor(sorter)
        if tuple(sorter.shape) != tuple(boundaries.shape) or sorter.dtype.kind not in "iu":
            raise ValueError(f"searchsorted: sorter must be integer indices of the sequence's shape "
                             f"{list(boundaries.shape)}, got {sorter.dtype}{list(sorter.shape)}")
        boundaries = gather(boundaries, -1, sorter)
    boundaries, values = promote(boundaries, values)
    if values.dtype in COMPLEX:
        refuse_complex("searchsorted", [boundaries, values])
    attrs = {"right": right, "out_int32": bool(out_int32)}
    _searchsorted_infer(Spec(boundaries.shape, boundaries.dtype), Spec(values.shape, values.dtype), **attrs)
    return dispatch.apply(SEARCHSORTED, (boundaries, values), attrs)


def _axis(name: str, x: TensorLike, axis) -> int:
    return check_axis(name, axis, x.ndim, [Spec(x.shape, x.dtype)])


def argsort(x, axis: int = -1, descending: bool = False, *, stable: bool = False) -> TensorLike:
    """Indices that sort ``x`` along ``axis`` (PyTorch's ``argsort(dim=-1, descending=False)``); ties keep
    their order and NaN sorts as the largest value. ``stable`` is accepted: the sort is always stable."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("argsort", [x])
    if x.ndim == 0:
        _axis("argsort", x, axis)
        return reshape(argsort(reshape(x, (1,)), 0, descending), ())
    return dispatch.apply(ARGSORT, (x,), {"axis": _axis("argsort", x, axis), "descending": bool(descending)})


def msort(x) -> TensorLike:
    """``x`` sorted along its first dimension (PyTorch's ``msort``: ``sort(x, 0).values``)."""
    x = as_tensor(x)
    return sort(x, 0).values


def sort(x, axis: int = -1, descending: bool = False, *, stable: bool = False) -> SortResult:
    """``(values, indices)`` of ``x`` sorted along ``axis`` (PyTorch's ``sort``); the values' gradient goes back
    to the elements they came from."""
    x = as_tensor(x)
    indices = argsort(x, axis, descending)
    if x.ndim == 0:
        return SortResult(x, indices)
    return SortResult(gather(x, axis, indices), indices)


def topk(x, k: int, axis: int = -1, largest: bool = True, sorted: bool = True) -> TopkResult:  # noqa: A002
    """The ``k`` largest (``largest=False``: smallest) elements along ``axis`` and their indices, as PyTorch's
    ``topk(k, dim=-1)``; always in sorted order."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("topk", [x])
    k = as_int("topk", k, "k", [Spec(x.shape, x.dtype)])
    if x.ndim == 0:
        return TopkResult(*sort(x)) if k in (0, 1) else topk(reshape(x, (1,)), k)
    axis = _axis("topk", x, axis)
    size = x.shape[axis]
    if k < 0 or size is not None and k > size:  # (k is checked against a graph value's unknown size when it runs)
        raise ValueError(f"topk: k={k} must be in [0, {size}], the size of dimension {axis} of the tensor of "
                         f"shape {list(x.shape)}")
    indices = getitem(argsort(x, axis, largest), (slice(None),) * axis + (slice(0, k),))
    return TopkResult(gather(x, axis, indices), indices)


def _median_along(x: TensorLike, axis, keepdims: bool) -> MedianResult:
    axis = _axis("median", x, axis)
    size = x.shape[axis]
    if size is None or size == 0:
        raise ValueError(f"median: dimension {axis} of the tensor of shape {list(x.shape)} must have a known, "
                         "non-zero size")
    k = (size - 1) // 2
    indices = getitem(argsort(x, axis), (slice(None),) * axis + (slice(k, k + 1),))
    if x.dtype in FLOATING:  # a row holding NaN has a NaN median: its first NaN's
        is_nan = ne(x, x)
        first_nan = argmax(cast(is_nan, x.dtype), axis, keepdims=True)  # (ONNX's ArgMax takes no bool)
        indices = where(any(is_nan, axis, keepdims=True), first_nan, indices)
    values = gather(x, axis, indices)
    if keepdims:
        return MedianResult(values, indices)
    return MedianResult(squeeze(values, axis), squeeze(indices, axis))


def median(x, axis: int | None = None, keepdims: bool = False) -> TensorLike | MedianResult:
    """The lower median: of all elements (ties share the gradient), or along ``axis`` as ``(values, indices)``
    (PyTorch's ``median(dim, keepdim)``, the gradient going to the chosen index). NaN wins, as in PyTorch."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("median", [x])
    if axis is None:
        if x.array.size == 0:
            raise ValueError(f"median: the tensor of shape {list(x.shape)} has no elements")
        return dispatch.apply(MEDIAN, (x,), {"axis": None, "keepdims": False})
    if x.ndim == 0:  # PyTorch takes dim 0 or -1 of a 0-d tensor: its one element
        _axis("median", x, axis)
        return MedianResult(*(reshape(r, ()) for r in _median_along(reshape(x, (1,)), 0, False)))
    return _median_along(x, axis, keepdims)


def kthvalue(x, k: int, axis: int = -1, keepdims: bool = False) -> KthvalueResult:
    """The ``k``-th smallest element (k from 1) along ``axis`` and its index, as PyTorch's ``kthvalue(k, dim=-1,
    keepdim=False)``; NaN sorts as the largest value, and the value's gradient goes to its index."""
    x = as_tensor(x)
    k = as_int("kthvalue", k, "k", [Spec(x.shape, x.dtype)])
    if x.ndim == 0:
        _axis("kthvalue", x, axis)
        found = kthvalue(reshape(x, (1,)), k, 0)
        return KthvalueResult(*(reshape(r, ()) for r in found))
    axis = _axis("kthvalue", x, axis)
    size = x.shape[axis]
    if size is None or not 1 <= k <= size:
        raise ValueError(f"kthvalue: k={k} must be in [1, {size}], the size of dimension {axis} of the tensor of "
                         f"shape {list(x.shape)}")
    indices = getitem(argsort(x, axis), (slice(None),) * axis + (slice(k - 1, k),))
    values = gather(x, axis, indices)
    if keepdims:
        return KthvalueResult(values, indices)
    return KthvalueResult(squeeze(values, axis), squeeze(indices, axis))


def _nanmedian_along(x: TensorLike, axis, keepdims: bool) -> NanmedianResult:
    axis = _axis("nanmedian", x, axis)
    size = x.shape[axis]
    if size is None or size == 0:
        raise ValueError(f"nanmedian: dimension {axis} of the tensor of shape {list(x.shape)} must have a known, "
                         "non-zero size")
    order = argsort(x, axis)  # NaN last
    if x.dtype in FLOATING:  # the lower median of each row's numbers; a row of NaN gives its first NaN
        valid = sum(eq(x, x), axis, keepdims=True)
        indices = gather(order, axis, maximum(valid - 1, 0) // 2)
    else:
        k = (size - 1) // 2
        indices = getitem(order, (slice(None),) * axis + (slice(k, k + 1),))
    values = gather(x, axis, indices)
    if keepdims:
        return NanmedianResult(values, indices)
    return NanmedianResult(squeeze(values, axis), squeeze(indices, axis))


def nanmedian(x, axis: int | None = None, keepdims: bool = False) -> TensorLike | NanmedianResult:
    """``median`` leaving NaN out: the lower median of the numbers of all elements (ties share the gradient), or
    along ``axis`` as ``(values, indices)`` (PyTorch's ``nanmedian(dim, keepdim)``, the gradient going to the
    index). A row of NaN alone gives NaN, with its first NaN's index (PyTorch's is left to its selection
    algorithm there)."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("nanmedian", [x])
    if axis is None:
        if x.array.size == 0:
            raise ValueError(f"nanmedian: the tensor of shape {list(x.shape)} has no elements")
        return dispatch.apply(NANMEDIAN, (x,), {"axis": None, "keepdims": False})
    if x.ndim == 0:
        _axis("nanmedian", x, axis)
        return NanmedianResult(*(reshape(r, ()) for r in _nanmedian_along(reshape(x, (1,)), 0, False)))
    return _nanmedian_along(x, axis, keepdims)


def mode(x, axis: int = -1, keepdims: bool = False) -> ModeResult:
    """The most frequent value along ``axis`` and the index of its last occurrence, as PyTorch's ``mode(dim=-1,
    keepdim=False)``; of values equally frequent the smallest, NaNs each counted once. The value's gradient goes
    to its index."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("mode", [x])
    if x.ndim == 0:
        _axis("mode", x, axis)
        return ModeResult(*(reshape(r, ()) for r in mode(reshape(x, (1,)), 0)))
    axis = _axis("mode", x, axis)
    indices = dispatch.apply(MODE, (x,), {"axis": axis})
    values = gather(x, axis, indices)
    if keepdims:
        return ModeResult(values, indices)
    return ModeResult(squeeze(values, axis), squeeze(indices, axis))
