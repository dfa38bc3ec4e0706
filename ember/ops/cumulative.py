"""Running reductions beside ``cumsum`` and ``cumprod``: ``logcumsumexp`` as a primitive, and ``cummax`` /
``cummin`` as the running extremum's indices (a primitive) and ``gather``, so the values' gradient goes to the
element each running extremum came from, as PyTorch's."""

from __future__ import annotations

from collections import namedtuple

import ml_dtypes
import numpy as np

from ember.backend.dtypes import COMPLEX, FLOATING, LOW_PRECISION, float32, float64, int64
from ember.ops import dispatch
from ember.ops.convert import as_tensor
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import ABS, EXP, GT, LOG, LT, WHERE, _scalar
from ember.ops.indexing import gather
from ember.ops.infer import check_axis, elementwise_cost, refuse_complex
from ember.ops.kernels import accumulate
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Spec, defop, shape_error
from ember.ops.shape import reshape

CummaxResult = namedtuple("cummax", ["values", "indices"])  # like torch.return_types.cummax
CumminResult = namedtuple("cummin", ["values", "indices"])


def _logcumsumexp_forward(xp, x, *, axis, reverse):
    # float16 and bfloat16 accumulate in float32, rounded once, as PyTorch's (a long running sum rounded at each
    # step drifts: 0.5 off after 300 bfloat16 elements), and float32 on the CPU in float64, as PyTorch's CPU kernel
    # (0.012 off after a million float32 elements)
    wide = float32 if x.dtype in LOW_PRECISION else float64 if xp is np and x.dtype == float32 else None
    work = x if wide is None else x.astype(wide)
    if reverse:  # from the end: what its gradient needs
        out = xp.ascontiguousarray(xp.flip(accumulate(xp, "logaddexp", xp.flip(work, axis), axis), axis))
    else:
        out = accumulate(xp, "logaddexp", work, axis)
    return out if work is x else out.astype(x.dtype)


def _logcumsumexp_infer(x, *, axis, reverse):
    if x.ndim == 0:  # (the function runs a 0-d tensor as one element)
        raise shape_error("logcumsumexp", [x], "the op takes a tensor of at least one dimension")
    check_axis("logcumsumexp", axis, x.ndim, [x])
    if x.dtype not in FLOATING:
        raise shape_error("logcumsumexp", [x], f"expects a floating-point tensor, got {x.dtype}")
    return Spec(tuple(x.shape), x.dtype)


def _logcumsumexp_rule(run, ctx, g):
    # d out[j] / d x[i] = exp(x[i] - out[j]) for i <= j. The gradient sum over j >= i of g[j] * exp(x[i] - out[j])
    # is taken apart by the sign of g, each part summed as a reversed log-cum-sum-exp of log|g| - out, so that
    # no exponential overflows. (Where g has the other sign its log is the lowest float, whose exp is 0; the
    # inner where keeps log's own gradient finite there.)
    x, out, axis = ctx.inputs[0], ctx.output, ctx.attrs["axis"]
    zero, one = _scalar(run, g, 0.0), _scalar(run, g, 1.0)
    lowest = _scalar(run, g, float(ml_dtypes.finfo(g.dtype).min) / 2)  # (half: adding x to it stays finite)
    parts = []
    for sign in (GT, LT):
        chosen = run(sign, g, zero)
        log_g = run(WHERE, chosen, run(LOG, run(WHERE, chosen, run(ABS, g), one)), lowest)
        summed = run(LOGCUMSUMEXP, log_g - out, axis=axis, reverse=not ctx.attrs["reverse"])
        parts.append(run(EXP, summed + x))
    return (parts[0] - parts[1],)


LOGCUMSUMEXP = defop("logcumsumexp", forward=_logcumsumexp_forward, infer=_logcumsumexp_infer,
                     vjp=vjp_rule(_logcumsumexp_rule), cost=elementwise_cost(20), onnx=NO_ONNX, saves_output=True)


def _running_index_forward(xp, x, *, axis, largest):
    running = accumulate(xp, "maximum" if largest else "minimum", x, axis)
    # Where x reaches the running extremum (ties and NaN included) the index moves to it, as PyTorch's; in
    # between it stays: the last such place so far.
    reached = x == running
    if x.dtype in FLOATING:
        reached |= xp.isnan(x)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    position = xp.arange(x.shape[axis], dtype=int64).reshape(shape)
    return accumulate(xp, "maximum", xp.where(reached, position, 0), axis)


def _running_index_infer(x, *, axis, largest):
    if x.ndim == 0:  # (the function runs a 0-d tensor as one element)
        raise shape_error("running_extremum_index", [x], "the op takes a tensor of at least one dimension")
    check_axis("running_extremum_index", axis, x.ndim, [x])
    return Spec(tuple(x.shape), int64)


# The index of the running maximum (largest) or minimum so far along an axis; cummax/cummin gather with it.
RUNNING_INDEX = defop("running_extremum_index", forward=_running_index_forward, infer=_running_index_infer,
                      vjp=NON_DIFFERENTIABLE, cost=elementwise_cost(3), onnx=NO_ONNX)


def _along(name: str, x, axis) -> tuple:
    x = as_tensor(x)
    if axis is None:
        raise TypeError(f"{name}: give the dimension to run along (dim=), for the tensor of shape {list(x.shape)}")
    return x, check_axis(name, axis, x.ndim, [Spec(x.shape, x.dtype)])


def logcumsumexp(x, axis: int | None = None) -> TensorLike:
    """``log(cumsum(exp(x), axis))`` computed without overflow, as PyTorch's ``logcumsumexp(x, dim)``; floating
    tensors only."""
    x, axis = _along("logcumsumexp", x, axis)
    if x.dtype not in FLOATING:
        raise TypeError(f"logcumsumexp: expects a floating-point tensor, got {x.dtype}")
    if x.ndim == 0:
        return reshape(logcumsumexp(reshape(x, (1,)), 0), ())
    return dispatch.apply(LOGCUMSUMEXP, (x,), {"axis": axis, "reverse": False})


def _running_extremum(name: str, result, x, axis, largest: bool):
    x, axis = _along(name, x, axis)
    if x.dtype in COMPLEX:
        refuse_complex(name, [x])
    if x.ndim == 0:
        return result(*(reshape(r, ()) for r in _running_extremum(name, result, reshape(x, (1,)), 0, largest)))
    indices = dispatch.apply(RUNNING_INDEX, (x,), {"axis": axis, "largest": largest})
    return result(gather(x, axis, indices), indices)


def cummax(x, axis: int | None = None) -> CummaxResult:
    """The running maximum along ``axis`` and the index it came from, as PyTorch's ``cummax(x, dim)``: a tie
    takes the later index, and from a NaN on the maximum is NaN (the latest NaN's index). The values' gradient
    goes to those indices."""
    return _running_extremum("cummax", CummaxResult, x, axis, True)


def cummin(x, axis: int | None = None) -> CumminResult:
    """The running minimum along ``axis`` and its index, as PyTorch's ``cummin(x, dim)`` (see ``cummax``)."""
    return _running_extremum("cummin", CumminResult, x, axis, False)
