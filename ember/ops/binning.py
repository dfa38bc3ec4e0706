"""Binning values: ``bucketize`` (``searchsorted`` with the arguments the other way round), ``isin``, and
``histogram`` / ``histogramdd`` as two primitives: the equal-width edges of a dimension
(``histogram_bin_edges``, from the data's range when none is given) and the counts in the bins those edges, or
given edges, make (``histogramdd``, weighted and as a density on request). None has a gradient (PyTorch's have
none) and ONNX has no histogram or set membership."""

from __future__ import annotations

import math
from collections import namedtuple

from ember.backend.dtypes import COMPLEX, FLOATING, bool_
from ember.ops import dispatch
from ember.ops.convert import as_tensor, cast, promote
from ember.ops.dispatch import TensorLike
from ember.ops.infer import as_int, differ, fits, refuse_complex
from ember.ops.kernels import orderable
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, shape_error
from ember.ops.shape import reshape
from ember.ops.sorting import searchsorted

HistogramResult = namedtuple("histogram", ["hist", "bin_edges"])  # like torch.return_types.histogram
HistogramddResult = namedtuple("histogramdd", ["hist", "bin_edges"])


def bucketize(x, boundaries, *, out_int32: bool = False, right: bool = False) -> TensorLike:
    """The index of the bucket of each element of ``x`` among the sorted 1-D ``boundaries``:
    ``boundaries[i - 1] < v <= boundaries[i]`` (``right``: ``boundaries[i - 1] <= v < boundaries[i]``), as
    ``torch.bucketize``; int64 indices (``out_int32``: int32)."""
    boundaries = as_tensor(boundaries)
    if boundaries.ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-D, got shape {list(boundaries.shape)}")
    return searchsorted(boundaries, as_tensor(x, boundaries), out_int32=out_int32, right=right)


# --- isin ----------------------------------------------------------------------------------------------------


def _isin_forward(xp, elements, test, *, assume_unique, invert):
    # (NumPy's isin sorts: bfloat16 as its float32 values, whose sort a NaN does not throw out of order)
    return xp.isin(orderable(elements), orderable(test), assume_unique=assume_unique, invert=invert)


def _flags(name: str, specs: list, **flags) -> None:
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise shape_error(name, specs, f"{key} must be True or False, got {value!r}")


def _isin_infer(elements, test, *, assume_unique, invert):
    _flags("isin", [elements, test], assume_unique=assume_unique, invert=invert)
    return Spec(tuple(elements.shape), bool_)


def _isin_cost(out: Spec, elements: Spec, test: Spec, **attrs) -> Cost:
    n, m = elements.size or 1, max(test.size or 1, 1)
    return Cost(n * max(m.bit_length(), 1) + m * max(m.bit_length(), 1), elements.nbytes + test.nbytes + out.nbytes)


ISIN = defop("isin", forward=_isin_forward, infer=_isin_infer, vjp=NON_DIFFERENTIABLE, cost=_isin_cost, onnx=NO_ONNX)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> TensorLike:
    """Whether each element of ``elements`` occurs in ``test_elements`` (either may be a number), a bool tensor of
    ``elements``' shape, as ``torch.isin``; ``invert`` gives the opposite, ``assume_unique`` says both hold
    distinct values (a faster search)."""
    if not isinstance(elements, TensorLike) and not isinstance(test_elements, TensorLike):
        elements = as_tensor(elements)
    elements, test_elements = promote(elements, test_elements)
    if elements.dtype in COMPLEX:
        refuse_complex("isin", [elements, test_elements])
    return dispatch.apply(ISIN, (elements, test_elements),
                          {"assume_unique": bool(assume_unique), "invert": bool(invert)})


# --- histogram edges -----------------------------------------------------------------------------------------


def _linspace(xp, low, high, steps: int, dtype):
    # PyTorch's linspace: the first half counted up from low, the second down from high (high exactly)
    step = (high - low) / (steps - 1)
    i = xp.arange(steps, dtype=dtype)
    half = steps // 2
    return xp.where(i < half, low + step * i, high - step * (steps - 1 - i)).astype(dtype)


def _edges_forward(xp, x, *, bins, low, high):
    if low is None:  # the data's range (0 to 1 for no data)
        low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"histogram: the data's range [{low}, {high}] is not finite; give range=")
    if low == high:  # PyTorch widens a single point by half a unit each way
        low, high = low - 0.5, high + 0.5
    dtype = x.dtype
    return _linspace(xp, dtype.type(low), dtype.type(high), bins + 1, dtype)


def _edges_infer(x, *, bins, low, high):
    name = "histogram_bin_edges"
    if x.dtype not in FLOATING:
        raise shape_error(name, [x], f"expects a floating-point tensor, got {x.dtype}")
    bins = as_int(name, bins, "bins", [x])
    if bins <= 0:
        raise shape_error(name, [x], f"bins must be positive, got {bins}")
    if low is not None or high is not None:  # (both None: the data's range)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
            raise shape_error(name, [x], f"low and high must be two numbers or both None, got {low!r} and {high!r}")
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise shape_error(name, [x], f"the range [{low}, {high}] must be finite, low at most high")
    return Spec((bins + 1,), x.dtype)


def _edges_cost(out: Spec, x: Spec, **attrs) -> Cost:
    return Cost(2 * (x.size or 1) + 2 * out.size, x.nbytes + out.nbytes)


# The bins + 1 equal-width edges between low and high, or the data's own smallest and largest values (low None).
HISTOGRAM_BIN_EDGES = defop("histogram_bin_edges", forward=_edges_forward, infer=_edges_infer,
                            vjp=NON_DIFFERENTIABLE, cost=_edges_cost, onnx=NO_ONNX)


# --- histogram counts ----------------------------------------------------------------------------------------


def _histogramdd_forward(xp, x, *rest, weighted, density):
    edges, weight = (rest[:-1], rest[-1]) if weighted else (rest, None)
    sizes = [e.shape[0] - 1 for e in edges]
    flat = xp.zeros(x.shape[0], dtype="int64")
    inside = xp.ones(x.shape[0], dtype=bool)
    for d, (e, n) in enumerate(zip(edges, sizes)):
        v = x[:, d]
        # (bfloat16 searched as its float32 values: NumPy's binary search of bfloat16 loses its way at a NaN)
        position = xp.searchsorted(orderable(e), orderable(v), side="right") - 1
        position = xp.where(v == e[-1], n - 1, position)  # the last bin holds its right edge
        inside &= (position >= 0) & (position < n)  # (NaN sorts past the end)
        flat = flat * n + xp.clip(position, 0, n - 1)
    weights = None if weight is None else weight[inside]
    total = math.prod(sizes)
    hist = xp.bincount(flat[inside], weights=weights, minlength=total).astype(x.dtype).reshape(sizes)
    if density:
        volume = xp.ones((), dtype=x.dtype)
        for e in edges:
            volume = volume[..., None] * (e[1:] - e[:-1])
        hist = hist / (hist.sum() * volume)
    return hist.astype(x.dtype, copy=False)


def _histogramdd_infer(x, *rest, weighted, density):
    specs = [x, *rest]
    _flags("histogramdd", specs, weighted=weighted, density=density)
    edges, weight = (rest[:-1], rest[-1]) if weighted else (rest, None)
    if x.dtype not in FLOATING:
        raise shape_error("histogramdd", specs, f"expects a floating-point tensor, got {x.dtype}")
    if x.ndim != 2 or len(edges) != x.shape[1]:
        raise shape_error("histogramdd", specs, "expects points (N, D) and one 1-D tensor of edges per dimension")
    for e in edges:
        if e.ndim != 1 or e.shape[0] is None or e.shape[0] < 1 or e.dtype != x.dtype:
            raise shape_error("histogramdd", specs, "each dimension's bin edges must be a 1-D tensor of at least one "
                              "edge, of the points' dtype")
    if weight is not None and (weight.ndim != 1 or differ(weight.shape[0], x.shape[0]) or weight.dtype != x.dtype):
        raise shape_error("histogramdd", specs, "the weights must be 1-D, one per point, of the points' dtype")
    return Spec(tuple(e.shape[0] - 1 for e in edges), x.dtype)


def _histogramdd_cost(out: Spec, x: Spec, *rest, **attrs) -> Cost:
    searches = sum(max((e.shape[0] or 1).bit_length(), 1) for e in rest)
    return Cost((x.shape[0] or 1) * (searches + 2) + out.size, x.nbytes + sum(e.nbytes or 0 for e in rest) + out.nbytes)


# Counts (or summed weights) of points (N, D) in the bins of the given edges, one 1-D tensor per dimension
HISTOGRAMDD = defop("histogramdd", forward=_histogramdd_forward, infer=_histogramdd_infer, vjp=NON_DIFFERENTIABLE,
                    cost=_histogramdd_cost, onnx=NO_ONNX)


def _float_input(name: str, x) -> TensorLike:
    x = as_tensor(x)
    if x.dtype not in FLOATING:
        raise TypeError(f"{name}: expects a floating-point tensor, got {x.dtype}")
    return x


def _edges(name: str, column: TensorLike, bins, low, high) -> TensorLike:
    if isinstance(bins, TensorLike):
        if bins.ndim != 1 or bins.shape[0] < 1:
            raise ValueError(f"{name}: bin edges must be a 1-D tensor of at least one edge, got shape "
                             f"{list(bins.shape)}")
        if not bins.symbolic and bool((bins.array[1:] < bins.array[:-1]).any()):
            raise ValueError(f"{name}: bin edges must increase monotonically")
        return cast(bins, column.dtype)
    bins = as_int(name, bins, "bins")
    if bins <= 0:
        raise ValueError(f"{name}: bins must be positive, got {bins}")
    if low is not None:
        low, high = float(low), float(high)
        if low > high:
            raise ValueError(f"{name}: min should not exceed max, got range [{low}, {high}]")
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{name}: the range [{low}, {high}] is not finite")
    return dispatch.apply(HISTOGRAM_BIN_EDGES, (column,), {"bins": bins, "low": low, "high": high})


def histogramdd(x, bins=10, *, range=None, weight=None, density: bool = False) -> HistogramddResult:  # noqa: A002
    """The histogram of the points in the last dimension of ``x`` (..., D), as ``torch.histogramdd``: ``bins`` an
    int (each dimension), one int per dimension, or one tensor of edges per dimension; ``range`` the flat list
    ``[low_0, high_0, low_1, ...]`` of equal-width edges (the data's range by default); ``weight`` one weight per
    point; ``density`` divides by the total and the bins' volumes. Returns ``(hist, bin_edges)``, a tuple of
    edges."""
    return _histogramdd("histogramdd", x, bins, range, weight, density)


def _histogramdd(name: str, x, bins, range, weight, density) -> HistogramddResult:  # noqa: A002
    x = _float_input(name, x)
    if x.ndim < 1:
        raise ValueError(f"{name}: expects points in the last dimension, got a 0-d tensor")
    dims = x.shape[-1]
    points = reshape(x, (-1, dims))
    if isinstance(bins, TensorLike) or isinstance(bins, int) and not isinstance(bins, bool):
        bins = [bins] * dims
    bins = list(bins)
    if len(bins) != dims:
        raise ValueError(f"{name}: {len(bins)} bin specifications for points of {dims} dimensions")
    if range is not None and len(range) != 2 * dims:
        raise ValueError(f"{name}: range must hold 2 * {dims} numbers (low and high per dimension), got "
                         f"{len(range)}")
    edges = tuple(_edges(name, points[:, d], b, None if range is None else range[2 * d],
                         None if range is None else range[2 * d + 1]) for d, b in enumerate(bins))
    inputs = (points, *edges)
    if weight is not None:
        weight = as_tensor(weight, x)
        if not fits(tuple(weight.shape), tuple(x.shape[:-1])):
            raise ValueError(f"{name}: weight of shape {list(weight.shape)} must have the points' shape "
                             f"{list(x.shape[:-1])}")
        inputs += (cast(reshape(weight, (-1,)), x.dtype),)
    hist = dispatch.apply(HISTOGRAMDD, inputs, {"weighted": weight is not None, "density": bool(density)})
    return HistogramddResult(hist, edges)


def histogram(x, bins=100, *, range=None, weight=None, density: bool = False) -> HistogramResult:  # noqa: A002
    """The histogram of all elements of ``x``, as ``torch.histogram``: ``bins`` an int (equal-width bins over
    ``range``, the data's own range by default) or a 1-D tensor of edges; ``weight`` (x's shape) weighs each
    element; ``density`` divides by the total and the bin widths. Returns ``(hist, bin_edges)``."""
    x = _float_input("histogram", x)
    if weight is not None:
        weight = as_tensor(weight, x)
        if not fits(tuple(weight.shape), tuple(x.shape)):
            raise ValueError(f"histogram: weight of shape {list(weight.shape)} must have the input's shape "
                             f"{list(x.shape)}")
    if range is not None and len(range) != 2:
        raise ValueError(f"histogram: range must be (min, max), got {range!r}")
    hist, (edges,) = _histogramdd("histogram", reshape(x, (-1, 1)), [bins], range,
                                  None if weight is None else reshape(weight, (-1,)), density)
    return HistogramResult(hist, edges)
