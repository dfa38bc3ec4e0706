"""Activations and normalised exponentials: softmax and log_softmax are primitives (their fused vjps
are short and stable); gelu, silu, elu, leaky_relu and friends are compositions."""

from __future__ import annotations

import math

import numpy as np

from ember.backend.dtypes import LOW_PRECISION, float32
from ember.ops import dispatch
from ember.ops.autocast import FLOAT32
from ember.ops.convert import as_tensor, cast, cast_float, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import (
    EXP,
    MUL,
    SUB,
    WHERE,
    _scalar,
    _typed,
    erf,
    expm1,
    sigmoid,
    softplus,
    tanh,
    where,
)
from ember.ops.infer import check_axis, elementwise_cost, require_float, unary_float
from ember.ops.kernels import max_last, sum_last
from ember.ops.modes import vjp_rule
from ember.ops.piecewise import piecewise
from ember.ops.reduction import SUM
from ember.ops.registry import Fusion, Spec, defop


def _softmax_infer(name):
    def infer(x, *, axis):
        require_float(name, [x])
        check_axis(name, axis, x.ndim, [x])
        return Spec(tuple(x.shape), x.dtype)

    return infer


def _log_softmax_forward(xp, x, *, axis):
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        return _log_softmax_forward(xp, x.astype(np.float32), axis=axis).astype(x.dtype)
    if not x.size:  # nothing to normalize (an empty row has no maximum to shift by)
        return xp.empty_like(x)
    shifted = x - max_last(xp, x, axis, True)
    log_total = xp.log(sum_last(xp, xp.exp(shifted), axis, True))
    shifted -= log_total  # in place: the same numbers as a new array, one allocation fewer
    return shifted


def _softmax_forward(xp, x, *, axis, out=None):
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        wide = _softmax_forward(xp, x.astype(np.float32), axis=axis)
        if out is None:
            return wide.astype(x.dtype)
        out[...] = wide
        return out
    if not x.size:  # nothing to normalize (an empty row has no maximum to shift by)
        return xp.empty_like(x) if out is None else out
    # generated code passes a planned buffer as out
    e = x - max_last(xp, x, axis, True) if out is None else xp.subtract(x, max_last(xp, x, axis, True), out=out)
    try:
        xp.exp(e, out=e)
    except TypeError:  # x is 0-d: NumPy gave a scalar, which takes no out=
        return _softmax_forward(xp, x.reshape(1), axis=0).reshape(())
    e /= sum_last(xp, e, axis, True)
    return e


def _log_softmax_rule(run, ctx, g):
    total = run(SUM, g, axis=ctx.attrs["axis"], keepdims=True)
    return (run(SUB, g, run(MUL, run(EXP, ctx.output), total)),)


def _softmax_rule(run, ctx, g):
    out = ctx.output
    return (run(MUL, out, run(SUB, g, run(SUM, run(MUL, g, out), axis=ctx.attrs["axis"], keepdims=True))),)


LOG_SOFTMAX = defop("log_softmax", forward=_log_softmax_forward, infer=_softmax_infer("log_softmax"),
                    vjp=vjp_rule(_log_softmax_rule), cost=elementwise_cost(12), onnx="LogSoftmax", saves_output=True,
                    fresh=True, autocast=FLOAT32)
SOFTMAX = defop("softmax", forward=_softmax_forward, infer=_softmax_infer("softmax"), vjp=vjp_rule(_softmax_rule),
                cost=elementwise_cost(12), onnx="Softmax", saves_output=True, writes_out=True, fresh=True,
                autocast=FLOAT32)


def _check_axis(name, x: TensorLike, axis: int) -> int:
    return check_axis(name, axis, x.ndim, [Spec(x.shape, x.dtype)])


def softmax(x, axis: int = -1, dtype=None) -> TensorLike:
    """exp(x) / sum(exp(x)) along ``axis``, computed stably (in ``dtype`` when given: x is cast first)."""
    x = to_float(x) if dtype is None else cast_float("softmax", x, dtype)
    return dispatch.apply(SOFTMAX, (x,), {"axis": _check_axis("softmax", x, axis)})


def log_softmax(x, axis: int = -1, dtype=None) -> TensorLike:
    """log(softmax(x)) along ``axis``, computed stably (in ``dtype`` when given: x is cast first)."""
    x = to_float(x) if dtype is None else cast_float("log_softmax", x, dtype)
    return dispatch.apply(LOG_SOFTMAX, (x,), {"axis": _check_axis("log_softmax", x, axis)})


def leaky_relu(x, negative_slope: float = 0.01) -> TensorLike:
    """x where x > 0, else ``negative_slope * x``."""
    x = to_float(x)
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: the slope not rounded to the dtype first (as PyTorch)
        return cast(leaky_relu(cast(x, float32), negative_slope), x.dtype)
    x = piecewise(x)
    return where(x > 0, x, x * negative_slope)


def elu(x, alpha: float = 1.0) -> TensorLike:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return scaled_elu(x, alpha)


def scaled_elu(x, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0) -> TensorLike:
    """PyTorch's elu kernel, which selu and celu share: ``scale * x`` where x > 0, else
    ``alpha * scale * (exp(input_scale * x) - 1)``; float16 / bfloat16 computed in float32 and rounded once."""
    x = to_float(x)
    if x.dtype in LOW_PRECISION:  # (selu's scale times a bfloat16 was the scale rounded to bfloat16: 4 off at 800)
        return cast(scaled_elu(cast(x, float32), alpha, scale, input_scale), x.dtype)
    below = x < 0
    # expm1 of 0 where x >= 0 keeps the unused branch finite, so its gradient is never inf * 0. expm1, as PyTorch:
    # exp(x) - 1 cancelled near 0 (elu(-1e-8) was 0 in float32).
    negative = where(below, x, 0.0)
    negative = expm1(negative if input_scale == 1.0 else negative * input_scale) * (alpha * scale)
    linear = x if scale == 1.0 else x * scale
    # x = 0 gets PyTorch's gradient, the exponential's slope there, and its second derivative 0 (PyTorch's x < 0
    # mask): a line of that slope, which for elu (alpha = 1) and celu is the positive branch itself
    slope = alpha * scale * input_scale
    if slope != scale:
        linear = where(x == 0, x * slope, linear)
    return where(below, negative, linear)


def gelu(x, approximate: str = "none") -> TensorLike:
    """Gaussian error linear unit: x * Phi(x); ``approximate="tanh"`` uses the tanh formula."""
    x = to_float(x)
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        return cast(gelu(cast(x, float32), approximate), x.dtype)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (tanh(inner) + 1.0)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * 0.5 * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0)


def silu(x) -> TensorLike:
    """x * sigmoid(x) (also called swish)."""
    x = to_float(x)
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        return cast(silu(cast(x, float32)), x.dtype)
    return x * sigmoid(x)


def mish(x) -> TensorLike:
    """x * tanh(softplus(x))."""
    x = to_float(x)
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        return cast(mish(cast(x, float32)), x.dtype)
    return x * tanh(softplus(x))


def relu6(x) -> TensorLike:
    """min(max(x, 0), 6); the gradient is 0 at 0 and 6 (PyTorch's)."""
    return hardtanh(x, 0.0, 6.0)


def _hardswish_forward(xp, x):
    t = x.dtype.type  # scalars of x's dtype: NumPy would widen bfloat16 by a Python number
    return x * xp.minimum(xp.maximum(x + t(3), t(0)), t(6)) / t(6)


def _hardswish_rule(run, ctx, g):
    x = ctx.inputs[0]
    inside = g * (x / _typed(x, 3.0) + _typed(x, 0.5))  # PyTorch's: 0 up to -3, x / 3 + 0.5 inside, 1 from 3
    return (run(WHERE, x <= _typed(x, -3.0), _scalar(run, g, 0.0), run(WHERE, x < _typed(x, 3.0), inside, g)),)


HARDSWISH = defop(
    "hardswish",
    forward=_hardswish_forward,
    infer=unary_float("hardswish"),
    vjp=vjp_rule(_hardswish_rule),
    cost=elementwise_cost(5),
    onnx="HardSwish",
    elementwise=True,
    fresh=True,
    # the forward's four steps in numexpr, each rounded as NumPy rounds it (NaN-exact where() forms)
    fusion=Fusion("(({0} * where(({0} + {three}) < {zero}, {zero}, where(({0} + {three}) > {six}, {six}, "
                  "({0} + {three})))) / {six})", selects=True, constants=(("three", 3.0), ("six", 6.0))),
)


def hardswish(x) -> TensorLike:
    """x * relu6(x + 3) / 6 (MobileNetV3's activation; ``torch.nn.functional.hardswish``)."""
    x = to_float(x)
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        return cast(hardswish(cast(x, float32)), x.dtype)
    return dispatch.apply(HARDSWISH, (x,))


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0) -> TensorLike:
    """x limited to [min_val, max_val]; unlike ``clip``'s, the gradient is 0 at the bounds (PyTorch's)."""
    if min_val > max_val:  # the nested wheres gave max_val to every element above min_val, min_val to the rest
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    x = as_tensor(x)
    if np.dtype(x.dtype).kind in "iu":  # PyTorch keeps an integer tensor's dtype (ReLU6 of int8 stays int8)
        return _integer_hardtanh(x, min_val, max_val)
    x = piecewise(to_float(x))
    return where(x <= min_val, min_val, where(x >= max_val, max_val, x))


def _integer_hardtanh(x: TensorLike, min_val: float, max_val: float) -> TensorLike:
    """``hardtanh`` of an integer tensor in its own dtype, the bounds truncated toward zero (PyTorch's)."""
    low, high = int(min_val), int(max_val)
    info = np.iinfo(np.dtype(x.dtype))
    if not (info.min <= low and high <= info.max):
        raise ValueError(f"hardtanh: bounds [{min_val}, {max_val}] do not fit the input's dtype "
                         f"{x.dtype}{list(x.shape)} (values [{info.min}, {info.max}])")
    return where(x <= low, x.dtype.type(low), where(x >= high, x.dtype.type(high), x))
