"""Activations and normalised exponentials: softmax and log_softmax are primitives (their fused vjps
are short and stable); gelu, silu, elu, leaky_relu and friends are compositions."""

from __future__ import annotations

import math

import numpy as np

from ember.autograd import apply
from ember.ops.convert import to_float
from ember.ops.elementwise import erf, exp, minimum, relu, sigmoid, softplus, tanh, where
from ember.ops.infer import check_axis, elementwise_cost, normalize_axis, require_float
from ember.ops.kernels import max_last, sum_last
from ember.ops.reduction import sum
from ember.ops.registry import Spec, defop
from ember.tensor import Tensor


def _softmax_infer(name):
    def infer(x, *, axis):
        require_float(name, [x])
        check_axis(name, axis, x.ndim, [x])
        return Spec(tuple(x.shape), x.dtype)

    return infer


def _log_softmax_forward(xp, x, *, axis):
    if x.dtype.itemsize == 2:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        return _log_softmax_forward(xp, x.astype(np.float32), axis=axis).astype(x.dtype)
    shifted = x - max_last(xp, x, axis, True)
    log_total = xp.log(sum_last(xp, xp.exp(shifted), axis, True))
    shifted -= log_total  # in place: the same numbers as a new array, one allocation fewer
    return shifted


def _softmax_forward(xp, x, *, axis):
    if x.dtype.itemsize == 2:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        return _softmax_forward(xp, x.astype(np.float32), axis=axis).astype(x.dtype)
    e = x - max_last(xp, x, axis, True)
    xp.exp(e, out=e)
    e /= sum_last(xp, e, axis, True)
    return e


def _log_softmax_vjp(ctx, g):
    axis = ctx.attrs["axis"]
    return (g - exp(ctx.output) * sum(g, axis=axis, keepdims=True),)


def _softmax_vjp(ctx, g):
    out = ctx.output
    return (out * (g - sum(g * out, axis=ctx.attrs["axis"], keepdims=True)),)


LOG_SOFTMAX = defop("log_softmax", forward=_log_softmax_forward, infer=_softmax_infer("log_softmax"),
                    vjp=_log_softmax_vjp, cost=elementwise_cost(12), onnx="LogSoftmax", saves_output=True)
LOG_SOFTMAX.vjp_array = lambda xp, ctx, g: (
    g - xp.exp(ctx.out) * sum_last(xp, g, ctx.attrs["axis"], True),)
SOFTMAX = defop("softmax", forward=_softmax_forward, infer=_softmax_infer("softmax"), vjp=_softmax_vjp,
                cost=elementwise_cost(12), onnx="Softmax", saves_output=True)


def _check_axis(name, x: Tensor, axis: int) -> int:
    return normalize_axis(name, axis, x.ndim, [Spec(x.shape, x.dtype)])[0]


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, computed stably."""
    x = to_float(x)
    return apply(SOFTMAX, (x,), {"axis": _check_axis("softmax", x, axis)})


def log_softmax(x, axis: int = -1) -> Tensor:
    """log(softmax(x)) along ``axis``, computed stably."""
    x = to_float(x)
    return apply(LOG_SOFTMAX, (x,), {"axis": _check_axis("log_softmax", x, axis)})


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else ``negative_slope * x``."""
    x = to_float(x)
    return where(x > 0, x, x * negative_slope)


def elu(x, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    x = to_float(x)
    # exp of min(x, 0) keeps the unused branch finite, so its gradient is never inf * 0.
    return where(x > 0, x, (exp(minimum(x, 0.0)) - 1.0) * alpha)


def gelu(x, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: x * Phi(x); ``approximate="tanh"`` uses the tanh formula."""
    x = to_float(x)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (tanh(inner) + 1.0)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * 0.5 * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0)


def silu(x) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    x = to_float(x)
    return x * sigmoid(x)


def mish(x) -> Tensor:
    """x * tanh(softplus(x))."""
    x = to_float(x)
    return x * tanh(softplus(x))


def relu6(x) -> Tensor:
    """min(max(x, 0), 6)."""
    return minimum(relu(x), 6.0)


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x limited to [min_val, max_val]."""
    from ember.ops.elementwise import clip

    return clip(to_float(x), min_val, max_val)
