"""Layer norm and dropout (batch norm lives in ``ember.ops.batch_norm``)."""

from __future__ import annotations

import math

import numpy as np

from ember import random as _random
from ember.backend.dtypes import LOW_PRECISION, float32, result_type
from ember.ops import dispatch
from ember.ops.convert import as_tensor, cast, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.effects import random_draw
from ember.ops.elementwise import SQRT, sqrt
from ember.ops.infer import as_int, fits, require_float, same_dtype
from ember.ops.modes import OnArrays, on_tensors
from ember.ops.reduction import SUM, mean
from ember.ops.registry import Cost, Spec, defop, shape_error
from ember.ops.shape import RESHAPE, reshape_with

# --- layer norm: one primitive ---------------------------------------------------------------------------------
# Composed of mean, var and elementwise ops it was 10 ops forward and about 25 back over the whole input; as one
# op it is 5 passes forward and 11 back, each row's statistics computed once. The steps are written once
# (``_normalized``, ``_layer_norm_grads``) over ``run`` and operators, so they run on arrays (the forward, an
# eager backward) and on Tensors (a recorded backward, a graph's) with the same operations in the same order:
# the same numbers. An eager backward reuses the forward's normalized rows and reciprocal deviations
# (``residuals``); a recorded one recomputes them from x, so that higher-order gradients see them depend on x.


def _normalized(run, rows, n: int, eps: float) -> tuple:
    """(rows - mean) / sqrt(var + eps) of (R, n) ``rows``, and the (R, 1) reciprocal deviations."""
    scale = 1.0 / n
    centred = rows - run(SUM, rows, axis=-1, keepdims=True) * scale
    rstd = 1.0 / run(SQRT, run(SUM, centred * centred, axis=-1, keepdims=True) * scale + eps)
    return centred * rstd, rstd


def _layer_norm_parts(xp, x, weight, bias, *, dims, eps):
    n = math.prod(x.shape[x.ndim - dims:])
    xhat, rstd = _normalized(OnArrays(xp), x.reshape(-1, n), n, eps)
    out = xhat * weight.reshape(n)
    out += bias.reshape(n)
    return out.reshape(x.shape), (xhat, rstd)


def _layer_norm_forward(xp, x, weight, bias, *, dims, eps):
    return _layer_norm_parts(xp, x, weight, bias, dims=dims, eps=eps)[0]


def _layer_norm_infer(x, weight, bias, *, dims, eps):
    specs = [x, weight, bias]
    require_float("layer_norm", specs)
    same_dtype("layer_norm", specs)
    dims = as_int("layer_norm", dims, "dims", specs)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise shape_error("layer_norm", specs, f"eps must be a number of at least 0, got {eps!r}")
    if not 1 <= dims <= x.ndim:
        raise shape_error("layer_norm", specs, f"cannot normalize the last {dims} axes of a {x.ndim}-d input")
    trailing = tuple(x.shape[x.ndim - dims:])
    if None in trailing:
        raise shape_error("layer_norm", specs, "the normalized axes must have known sizes")
    if not (fits(tuple(weight.shape), trailing) and fits(tuple(bias.shape), trailing)):
        raise shape_error("layer_norm", specs, f"weight and bias must have the normalized shape {list(trailing)}")
    return Spec(tuple(x.shape), x.dtype)


def _layer_norm_grads(run, g, xhat, rstd, weight, n: int, needs) -> tuple:
    """The gradients for the (R, n) rows, the weight and the bias (these two as (n,)) from the upstream gradient
    ``g`` (R, n): gx = rstd * (g * w - mean(g * w) - xhat * mean(g * w * xhat)) along each row."""
    g_x = g_weight = g_bias = None
    if needs[0]:
        scale = 1.0 / n
        g_xhat = g * weight
        mean_g = run(SUM, g_xhat, axis=-1, keepdims=True) * scale
        mean_gx = run(SUM, g_xhat * xhat, axis=-1, keepdims=True) * scale
        g_x = (g_xhat - mean_g - xhat * mean_gx) * rstd
    if needs[1]:
        g_weight = run(SUM, g * xhat, axis=0, keepdims=False)
    if needs[2]:
        g_bias = run(SUM, g, axis=0, keepdims=False)
    return g_x, g_weight, g_bias


def _layer_norm_rule(run, ctx, g):
    x, weight, _ = ctx.inputs
    dims, eps = ctx.attrs["dims"], ctx.attrs["eps"]
    trailing = tuple(x.shape[x.ndim - dims:])
    n = math.prod(trailing)
    if ctx.residuals is not None and run is not on_tensors:  # eager arrays: the forward's own parts
        xhat, rstd = ctx.residuals
    else:  # recomputed with the forward's operations: the same numbers, and a function of x
        xhat, rstd = _normalized(run, run(RESHAPE, x, shape=(-1, n)), n, eps)
    g_x, g_weight, g_bias = _layer_norm_grads(run, run(RESHAPE, g, shape=(-1, n)), xhat, rstd,
                                              run(RESHAPE, weight, shape=(n,)), n, ctx.needs)
    return (None if g_x is None else reshape_with(run, g_x, x.shape),
            None if g_weight is None else run(RESHAPE, g_weight, shape=trailing),
            None if g_bias is None else run(RESHAPE, g_bias, shape=trailing))


def _layer_norm_vjp(ctx, g):
    return _layer_norm_rule(on_tensors, ctx, g)


_layer_norm_vjp.rule = _layer_norm_rule

LAYER_NORM = defop(
    "layer_norm",
    forward=_layer_norm_forward,
    infer=_layer_norm_infer,
    vjp=_layer_norm_vjp,
    cost=lambda out, x, weight, bias, **attrs: Cost(8 * (x.size or 0), 2 * (x.nbytes or 0) + 2 * (weight.nbytes or 0)),
    onnx="LayerNormalization",
    residuals=_layer_norm_parts,
    fresh=True,
)


def layer_norm(
    input, normalized_shape, weight: TensorLike | None = None, bias: TensorLike | None = None, eps: float = 1e-5
) -> TensorLike:
    """Normalise over the trailing ``normalized_shape`` dimensions, then scale and shift; float16 and bfloat16
    inputs are normalized in float32 and the result rounded once (as PyTorch)."""
    x = to_float(input)
    if x.dtype in LOW_PRECISION:
        wide = [None if t is None else cast(t, float32) for t in (x, weight, bias)]
        return cast(layer_norm(wide[0], normalized_shape, wide[1], wide[2], eps), x.dtype)
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0:  # each element its own group: zeros (or the bias), which PyTorch refuses
        raise ValueError(f"layer_norm: normalized_shape must have at least one dimension, got [] "
                         f"(input {x.dtype}{list(x.shape)})")
    if tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(
            f"layer_norm: input {list(x.shape)} does not end with normalized_shape {list(normalized_shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} must have the normalized shape {list(normalized_shape)}, got "
                             f"{list(t.shape)} (input {x.dtype}{list(x.shape)})")
    if None in normalized_shape or 0 in normalized_shape:  # (empty rows: the primitive's (-1, 0) view is ambiguous)
        return _composed_layer_norm(x, normalized_shape, weight, bias, eps)
    dtype = x.dtype
    for t in (weight, bias):
        if t is not None:  # float64 parameters make a float64 result, as the arithmetic would
            dtype = result_type(dtype, to_float(t).dtype)
    x, weight, bias = (t if t is None or t.dtype == dtype else cast(t, dtype) for t in (x, weight, bias))
    if weight is None or bias is None:
        xp = np if x.symbolic else x.xp
        weight = weight if weight is not None else dispatch.wrap(xp.ones(normalized_shape, x.dtype))
        bias = bias if bias is not None else dispatch.wrap(xp.zeros(normalized_shape, x.dtype))
    return dispatch.apply(LAYER_NORM, (x, weight, bias), {"dims": k, "eps": float(eps)})


def _composed_layer_norm(x, normalized_shape: tuple, weight, bias, eps: float) -> TensorLike:
    """Layer norm of Ember ops, for normalized axes whose sizes a graph does not know, or of no elements."""
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mu = mean(x, axis=axes, keepdims=True)
    centred = x - mu
    sigma2 = mean(centred * centred, axis=axes, keepdims=True)
    out = centred / sqrt(sigma2 + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def dropout(x, p: float = 0.5, training: bool = True) -> TensorLike:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p), when training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    x = to_float(x)  # an integer mask 1 / (1 - p) truncated to 1: the kept values went unscaled
    if p == 1.0:
        return x * 0.0
    if x.device.type != "cpu":  # drawn on the GPU by a counter-based kernel
        return x * dispatch.wrap(_gpu_keep_mask(x.array, p))
    # the scaled keep mask: a random op, so a graph draws a fresh one on every run
    return x * random_draw("dropout", x.shape, x.dtype, p, 1.0 / (1.0 - p))


def _gpu_keep_mask(x, p: float):
    """Dropout's scaled mask for a CuPy array, drawn on its GPU (``cuda_kernels.dropout_mask``)."""
    from ember.backend import cuda_kernels
    from ember.backend.devices import cupy_module

    with x.device:
        exact = x.dtype in (np.float32, np.float64)
        mask = cupy_module().empty(x.shape, x.dtype if exact else np.float32)  # else computed in float32, cast
        scale = mask.dtype.type(1.0 / (1.0 - p))
        cuda_kernels.dropout_mask()(_random.draw_seed(), _random.keep_threshold(p), scale, mask)
        return mask if exact else mask.astype(x.dtype)
