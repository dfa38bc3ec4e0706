"""Counting values: ``histc`` as a primitive (its size is the number of bins); ``unique``,
``unique_consecutive`` and ``bincount``, whose sizes depend on the values, computed eagerly only (building a graph
with them is a TypeError naming the function)."""

from __future__ import annotations

import math

from ember.backend.devices import array_module
from ember.backend.dtypes import COMPLEX, FLOATING, int64
from ember.ops import dispatch
from ember.ops.convert import as_tensor
from ember.ops.dispatch import TensorLike
from ember.ops.infer import as_int, check_axis, refuse_complex
from ember.ops.kernels import orderable
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, shape_error


def _concrete(name: str, x: TensorLike):
    if x.symbolic:
        raise TypeError(f"{name}: the size of its result depends on the values of {x!r}, which a graph does not "
                        "have while it is built; compute it eagerly")
    return x.array


def _histc_range(xp, x, low: float, high: float) -> tuple:
    # PyTorch's edges: the data's own range when none is given, widened by one each way when it is one point
    if low == high and x.size:
        low, high = float(x.min()), float(x.max())
    if low == high:
        low, high = low - 1, high + 1
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"histc: the range [{low}, {high}] is not finite")
    return x.dtype.type(low), x.dtype.type(high)


def _histc_forward(xp, x, *, bins, low, high):
    low, high = _histc_range(xp, x, low, high)
    inside = x[(x >= low) & (x <= high)]  # (NaN falls outside)
    # the bin in x's dtype, computed as PyTorch does; the top edge belongs to the last bin
    position = ((inside - low) * bins / (high - low)).astype(int64)
    counts = xp.bincount(xp.minimum(position, bins - 1).reshape(-1), minlength=bins)
    return counts.astype(x.dtype)


def _histc_infer(x, *, bins, low, high):
    if x.dtype not in FLOATING:
        raise shape_error("histc", [x], f"expects a floating-point tensor, got {x.dtype}")
    bins = as_int("histc", bins, "bins", [x])
    if bins <= 0:
        raise shape_error("histc", [x], f"bins must be positive, got {bins}")
    for edge in (low, high):
        if isinstance(edge, bool) or not isinstance(edge, (int, float)):
            raise TypeError(f"histc: min and max must be numbers, got {edge!r}")
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise shape_error("histc", [x], f"the range [{low}, {high}] must be finite, min at most max")
    return Spec((bins,), x.dtype)


def _histc_cost(out: Spec, x: Spec, **attrs) -> Cost:
    return Cost(4 * (x.size or 1), x.nbytes + out.nbytes)


# Counts in equal bins between two edges; no gradient (PyTorch has none), and ONNX has no histogram.
HISTC = defop("histc", forward=_histc_forward, infer=_histc_infer, vjp=NON_DIFFERENTIABLE, cost=_histc_cost,
              onnx=NO_ONNX)


def histc(x, bins: int = 100, min: float = 0, max: float = 0) -> TensorLike:  # noqa: A002  (PyTorch's names)
    """Counts of ``x``'s elements in ``bins`` equal bins between ``min`` and ``max`` (the data's own smallest and
    largest value when both are equal), as ``torch.histc``: elements outside the range and NaN are left out, and
    ``max`` itself falls in the last bin. The counts have x's floating dtype."""
    x = as_tensor(x)
    if x.dtype not in FLOATING:
        raise TypeError(f"histc: expects a floating-point tensor, got {x.dtype}")
    bins = as_int("histc", bins, "bins", [Spec(x.shape, x.dtype)])
    if bins <= 0:
        raise ValueError(f"histc: bins must be positive, got {bins}")
    low, high = float(min), float(max)
    if low > high:
        raise ValueError(f"histc: max ({high}) must be at least min ({low})")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"histc: the range [{low}, {high}] is not finite")
    return dispatch.apply(HISTC, (x,), {"bins": bins, "low": low, "high": high})


def _slices(xp, array, dim: int):
    """``array`` with ``dim`` moved first, and its slices along ``dim`` as the rows of a matrix."""
    moved = xp.moveaxis(array, dim, 0)
    return moved, moved.reshape(moved.shape[0], math.prod(moved.shape[1:]))


def _run_starts(xp, rows):
    """Where each run of equal consecutive elements (of a 1-D ``rows``) or rows starts (NaN equals nothing, as
    in PyTorch)."""
    starts = xp.ones(rows.shape[0], bool)
    differs = rows[1:] != rows[:-1]
    starts[1:] = differs if rows.ndim == 1 else differs.any(axis=1)
    return starts


def _results(xp, values, inverse, starts, return_inverse: bool, return_counts: bool):
    results = [dispatch.wrap(values)]
    if return_inverse:
        results.append(dispatch.wrap(inverse.astype(int64)))
    if return_counts:
        results.append(dispatch.wrap(xp.diff(xp.append(xp.flatnonzero(starts), starts.size)).astype(int64)))
    return results[0] if len(results) == 1 else tuple(results)


def unique(x, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim: int | None = None):
    """The distinct elements of ``x`` in ascending order (1-D), or with ``dim`` its distinct slices along
    ``dim`` in lexicographic order; with ``return_inverse`` each element's (slice's) index into them and
    ``return_counts`` how often each occurs, as ``torch.unique`` (NaNs are each distinct). Eager only: the count
    depends on the values; no gradient. The result is always sorted."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("unique", [x])
    array = _concrete("unique", x)
    xp = array_module(array)
    if dim is None:
        moved = rows = array.reshape(-1)
        order = xp.argsort(orderable(rows))
    else:
        if x.ndim == 0:
            raise ValueError("unique: dim needs a tensor of at least one dimension, got a 0-d tensor")
        dim = check_axis("unique", dim, x.ndim, [Spec(x.shape, x.dtype)])
        moved, rows = _slices(xp, array, dim)
        # lexsort's last key is the primary one: the first column
        order = xp.lexsort(orderable(rows).T[::-1]) if rows.shape[1] else xp.arange(rows.shape[0])
    starts = _run_starts(xp, rows[order])
    inverse = xp.empty(rows.shape[0], int64)
    inverse[order] = xp.cumsum(starts) - 1
    values = moved[order[starts]]
    if dim is None:
        inverse = inverse.reshape(array.shape)
    else:
        values = xp.ascontiguousarray(xp.moveaxis(values, 0, dim))
    return _results(xp, values, inverse, starts, return_inverse, return_counts)


def unique_consecutive(x, return_inverse: bool = False, return_counts: bool = False, dim: int | None = None):
    """``x`` with each run of equal consecutive elements (with ``dim``: slices along ``dim``) kept once, as
    ``torch.unique_consecutive``; ``return_inverse`` gives each element's (slice's) index into the result and
    ``return_counts`` each run's length. Eager only (the size depends on the values); no gradient."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("unique_consecutive", [x])
    array = _concrete("unique_consecutive", x)
    xp = array_module(array)
    if dim is None:
        flat = array.reshape(-1)
        starts = _run_starts(xp, flat)
        inverse = (xp.cumsum(starts) - 1).reshape(array.shape)
        return _results(xp, flat[starts], inverse, starts, return_inverse, return_counts)
    if x.ndim == 0:
        raise ValueError("unique_consecutive: dim needs a tensor of at least one dimension, got a 0-d tensor")
    dim = check_axis("unique_consecutive", dim, x.ndim, [Spec(x.shape, x.dtype)])
    moved, rows = _slices(xp, array, dim)
    starts = _run_starts(xp, rows)
    values = xp.ascontiguousarray(xp.moveaxis(moved[starts], 0, dim))
    return _results(xp, values, xp.cumsum(starts) - 1, starts, return_inverse, return_counts)


def bincount(x, weights=None, minlength: int = 0) -> TensorLike:
    """How often each value 0, 1, ... occurs in the non-negative 1-D integer ``x`` (at least ``minlength``
    bins), or the sums of ``weights`` per value, as ``torch.bincount`` (eager only: the size depends on the
    values; no gradient)."""
    x = as_tensor(x)
    array = _concrete("bincount", x)
    if x.ndim != 1 or x.dtype.kind not in "iu":
        raise ValueError(f"bincount: expects a 1-D integer tensor, got {x.dtype} of shape {list(x.shape)}")
    if array.size and int(array.min()) < 0:
        raise ValueError("bincount: the values must be non-negative")
    xp = array_module(array)
    if weights is None:
        return dispatch.wrap(xp.bincount(array, minlength=minlength).astype(int64))
    weights = as_tensor(weights, x)
    if tuple(weights.shape) != tuple(x.shape):
        raise ValueError(f"bincount: weights of shape {list(weights.shape)} must match the input's "
                         f"{list(x.shape)}")
    counts = xp.bincount(array, _concrete("bincount", weights), minlength=minlength)
    return dispatch.wrap(counts.astype(weights.dtype if weights.dtype == xp.float32 else xp.float64))
