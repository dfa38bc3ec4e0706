"""Batch norm, layer norm and dropout as compositions of primitives."""

from __future__ import annotations

import numpy as np

from ember import autograd
from ember import random as _random
from ember.ops.convert import as_tensor, to_float
from ember.ops.elementwise import sqrt
from ember.ops.infer import fits
from ember.ops.reduction import mean, var
from ember.ops.shape import reshape
from ember.tensor import Tensor


def _traced(x) -> bool:
    return getattr(x, "graph", None) is not None


def batch_norm(
    x,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (axis 1) of (N, C, ...) input by batch statistics in training (updating
    the running ones in place, unbiased variance like PyTorch) or by the running statistics otherwise."""
    x = to_float(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, ...), got {x.dtype}{list(x.shape)}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and not fits(tuple(t.shape), (channels,)):
            raise ValueError(f"batch_norm: {name} must have shape [{channels}] for input {list(x.shape)}, "
                             f"got {list(t.shape)}")
        if t is not None and t.device != x.device:
            raise ValueError(f"batch_norm: {name} is on {t.device}, the input {x.dtype}{list(x.shape)} on {x.device}")
    axes = (0,) + tuple(range(2, x.ndim))
    stat_shape = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        count = x.data.size // channels
        if count <= 1:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got input {list(x.shape)}")
        mu = mean(x, axis=axes, keepdims=True)
        sigma2 = var(x, axis=axes, keepdims=True)
        if running_mean is not None and _traced(x):  # ember.jit: the running statistics update on every run
            from ember.graph import tracing

            m = momentum
            with autograd.no_grad():
                new_mean = (1 - m) * tracing.read_state(running_mean, x) + m * reshape(mu, (channels,))
                unbiased = reshape(sigma2, (channels,)) * (count / (count - 1))
                new_var = (1 - m) * tracing.read_state(running_var, x) + m * unbiased
            tracing.write_state(running_mean, new_mean)
            tracing.write_state(running_var, new_var)
        elif running_mean is not None:
            with autograd.no_grad():
                m = momentum
                running_mean.data[...] = (1 - m) * running_mean.data + m * mu.data.reshape(channels)
                unbiased = sigma2.data.reshape(channels) * (count / (count - 1))
                running_var.data[...] = (1 - m) * running_var.data + m * unbiased
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation needs running_mean and running_var")
        if _traced(x):  # read the statistics when the compiled code runs, not when it is traced
            from ember.graph import tracing

            running_mean, running_var = tracing.read_state(running_mean, x), tracing.read_state(running_var, x)
        mu = reshape(running_mean, stat_shape)
        sigma2 = reshape(running_var, stat_shape)
    out = (x - mu) / sqrt(sigma2 + eps)
    if weight is not None:
        out = out * reshape(weight, stat_shape)
    if bias is not None:
        out = out + reshape(bias, stat_shape)
    return out


def layer_norm(
    x, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dimensions, then scale and shift."""
    x = to_float(x)
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(
            f"layer_norm: input {list(x.shape)} does not end with normalized_shape {list(normalized_shape)}"
        )
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = mean(x, axis=axes, keepdims=True)
    centred = x - mu
    sigma2 = mean(centred * centred, axis=axes, keepdims=True)
    out = centred / sqrt(sigma2 + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def dropout(x, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p), when training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    if _traced(x):  # ember.jit: a fresh mask on every run, drawn from the same generator
        from ember.graph import tracing

        keep = tracing.keep_mask(x.shape, p, x)
        return x * (keep.astype(x.dtype) * (1.0 / (1.0 - p)))
    if x.device.type != "cpu":
        return x * Tensor._make(_gpu_keep_mask(x.data, p), None)
    mask = _random.keep_mask(x.shape, p).astype(x.dtype)
    mask *= mask.dtype.type(1.0 / (1.0 - p))
    return x * Tensor._make(mask, None)


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
