"""Layer norm and dropout (batch norm lives in ``ember.ops.batch_norm``)."""

from __future__ import annotations

import numpy as np

from ember import random as _random
from ember.backend.dtypes import LOW_PRECISION, float32
from ember.ops import dispatch
from ember.ops.convert import as_tensor, cast, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.effects import random_draw
from ember.ops.elementwise import sqrt
from ember.ops.reduction import mean


def layer_norm(
    x, normalized_shape, weight: TensorLike | None = None, bias: TensorLike | None = None, eps: float = 1e-5
) -> TensorLike:
    """Normalise over the trailing ``normalized_shape`` dimensions, then scale and shift; float16 and bfloat16
    inputs are normalized in float32 and the result rounded once (as PyTorch)."""
    x = to_float(x)
    if x.dtype in LOW_PRECISION:
        wide = [None if t is None else cast(t, float32) for t in (x, weight, bias)]
        return cast(layer_norm(wide[0], normalized_shape, wide[1], wide[2], eps), x.dtype)
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


def dropout(x, p: float = 0.5, training: bool = True) -> TensorLike:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p), when training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
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
