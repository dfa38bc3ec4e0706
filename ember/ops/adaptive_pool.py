"""Adaptive average pooling along one axis, for bins that do not divide the axis: ``adaptive_avg_axis`` and its
gradient ``adaptive_avg_axis_grad``, each linear and the other's vjp.

PyTorch's bin i of ``out`` over an axis of ``size`` spans [floor(i * size / out), ceil((i + 1) * size / out));
bins overlap by an element where ``out`` does not divide ``size``. The means are one product with a
(size, out) weight matrix (BLAS-fast), but a product also multiplies each element by the zero weights of the bins
it is not in, so one inf or NaN would make NaN of its row's other bins (inf * 0). Where the product is not all
finite, the bins are summed again by gathers, which add only each bin's own elements: an inf then reaches only
the bins that hold it, as in PyTorch. The gradient is the transposed averaging, computed the same way.
"""

from __future__ import annotations

import functools

import numpy as np

from ember.ops.infer import as_int, check_axis, require_float
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, Cost, Spec, defop, shape_error


def adaptive_bins(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """The [start, end) of each of PyTorch's ``out`` adaptive bins over ``size`` elements."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


@functools.lru_cache(maxsize=64)
def bin_weights(size: int, out: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(size, out), column i holding 1 / (bin i's length) on bin i's elements, and its transpose, both
    C-contiguous: NumPy's stacked products run up to 3x slower with a transposed view."""
    starts, ends = adaptive_bins(size, out)
    matrix = np.zeros((size, out))
    for i, (start, end) in enumerate(zip(starts, ends)):
        matrix[start:end, i] = 1.0 / (end - start)
    pair = matrix.astype(dtype), np.ascontiguousarray(matrix.T.astype(dtype))
    for m in pair:
        m.flags.writeable = False
    return pair


def _bin_sums(xp, x, axis: int, starts: np.ndarray, ends: np.ndarray):
    """The sum of each [start, end) along ``axis``, by one gather per position in the bins: no element is
    multiplied, so a non-finite one reaches only the sums of its own bins."""
    lengths = ends - starts
    index = [slice(None)] * x.ndim
    out = None
    for k in range(int(lengths.max())):
        longer = np.nonzero(lengths > k)[0]
        part = xp.take(x, xp.asarray(starts[longer] + k), axis=axis)
        if out is None:  # every bin holds an element
            out = part
        elif longer.size == lengths.size:
            out += part
        else:
            index[axis] = xp.asarray(longer)
            out[tuple(index)] += part
    return out


def _product(xp, x, axis: int, right: np.ndarray, left: np.ndarray):
    """``x`` times ``right`` (in, out) along ``axis`` (``left`` is its transpose), or None where that is not
    exact: a dtype with no BLAS product, or a result that is not all finite (then some element is not finite,
    and its zero weights in the other bins made NaN there)."""
    if x.dtype not in (np.float32, np.float64):
        return None
    last = x.ndim - 1
    with np.errstate(invalid="ignore"):  # inf * 0 in a product is found below, not reported
        if axis == last:
            out = xp.matmul(x, xp.asarray(right))
        elif axis == last - 1:
            out = xp.matmul(xp.asarray(left), x)
        else:
            out = xp.moveaxis(xp.matmul(xp.asarray(left), xp.moveaxis(x, axis, last - 1)), last - 1, axis)
    return out if x.size == 0 or bool(xp.isfinite(out).all()) else None


def _along(xp, lengths: np.ndarray, axis: int, ndim: int, dtype):
    """Bin lengths shaped to broadcast along ``axis``."""
    shape = [1] * ndim
    shape[axis] = lengths.size
    return xp.asarray(lengths.reshape(shape).astype(dtype))


def _forward(xp, x, *, axis, output_size):
    size = x.shape[axis]
    out = _product(xp, x, axis, *bin_weights(size, output_size, x.dtype))
    if out is None:
        starts, ends = adaptive_bins(size, output_size)
        out = _bin_sums(xp, x, axis, starts, ends)
        out /= _along(xp, ends - starts, axis, x.ndim, out.dtype)
    return out


def _grad_forward(xp, g, *, axis, input_size):
    """Each input element's gradient: the sum over the bins holding it of the bin's gradient over its length."""
    out_size = g.shape[axis]
    weights, transposed = bin_weights(input_size, out_size, g.dtype)
    out = _product(xp, g, axis, transposed, weights)
    if out is None:
        starts, ends = adaptive_bins(input_size, out_size)
        position = np.arange(input_size)
        first = np.searchsorted(ends, position, side="right")  # the first bin ending after each element
        after = np.searchsorted(starts, position, side="right")  # one past the last bin starting at or before it
        out = _bin_sums(xp, g / _along(xp, ends - starts, axis, g.ndim, g.dtype), axis, first, after)
    return out


def _check(name: str, x: Spec, axis, size, what: str) -> tuple[int, int]:
    require_float(name, [x])
    axis = check_axis(name, axis, x.ndim, [x])
    size = as_int(name, size, what, [x])
    if size <= 0:
        raise shape_error(name, [x], f"{what} must be positive, got {size}")
    return axis, size


def _infer(x: Spec, *, axis, output_size):
    axis, output_size = _check("adaptive_avg_axis", x, axis, output_size, "output_size")
    if x.shape[axis] is not None and x.shape[axis] <= 0:
        raise shape_error("adaptive_avg_axis", [x], f"axis {axis} must not be empty")
    return Spec(tuple(x.shape[:axis]) + (output_size,) + tuple(x.shape[axis + 1:]), x.dtype)


def _grad_infer(g: Spec, *, axis, input_size):
    axis, input_size = _check("adaptive_avg_axis_grad", g, axis, input_size, "input_size")
    return Spec(tuple(g.shape[:axis]) + (input_size,) + tuple(g.shape[axis + 1:]), g.dtype)


def _cost(out: Spec, x: Spec, **attrs) -> Cost:
    """The product's multiply-adds: each input row times the (in, out) weights."""
    return Cost(2 * (x.size or 0) * (out.shape[attrs["axis"]] or 0), (x.nbytes or 0) + (out.nbytes or 0))


def _rule(run, ctx, g):
    return (run(ADAPTIVE_AVG_AXIS_GRAD, g, axis=ctx.attrs["axis"], input_size=ctx.inputs[0].shape[ctx.attrs["axis"]]),)


def _grad_rule(run, ctx, gg):
    return (run(ADAPTIVE_AVG_AXIS, gg, axis=ctx.attrs["axis"], output_size=ctx.inputs[0].shape[ctx.attrs["axis"]]),)


ADAPTIVE_AVG_AXIS = defop("adaptive_avg_axis", forward=_forward, infer=_infer, vjp=vjp_rule(_rule), cost=_cost,
                          onnx="MatMul")
ADAPTIVE_AVG_AXIS_GRAD = defop("adaptive_avg_axis_grad", forward=_grad_forward, infer=_grad_infer,
                               vjp=vjp_rule(_grad_rule), cost=_cost, onnx=NO_ONNX)
