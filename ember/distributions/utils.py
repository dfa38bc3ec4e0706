"""Helpers the distributions share: parameters broadcast together, probabilities and logits."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from ember import creation, ops
from ember.backend import bfloat16, dtypes
from ember.tensor import Tensor


def as_parameter(value, dtype=None):
    """``value`` as a floating Tensor: numbers in ``dtype`` (the default float dtype when None, as PyTorch's),
    Tensors as they are."""
    if isinstance(value, Tensor) or getattr(value, "symbolic", False):
        return value if value.dtype.kind == "f" or value.dtype == bfloat16 else value.float()
    if value is None or isinstance(value, (str, bytes)):  # NumPy reads None as NaN
        raise TypeError(f"distributions: a parameter must be a number or a Tensor, got {value!r}")
    return creation.tensor(value, dtype=dtype or dtypes.DEFAULT_FLOAT)


def broadcast_all(*values) -> list:
    """The parameters as Tensors of one shape and dtype, as ``torch.distributions.utils.broadcast_all``:
    numbers take the Tensors' dtype (the default float dtype when all are numbers)."""
    tensors = [v for v in values if isinstance(v, Tensor) or getattr(v, "symbolic", False)]
    dtype = np.result_type(*[as_parameter(t).dtype for t in tensors]) if tensors else None
    params = [as_parameter(v, dtype) for v in values]
    if dtype is not None:
        params = [p if p.dtype == dtype else p.to(dtype) for p in params]
    shape = np.broadcast_shapes(*[p.shape for p in params])
    return [p if p.shape == shape else ops.broadcast_to(p, shape) for p in params]


def finfo(dtype):
    """The floating dtype's limits (``ml_dtypes.finfo``: NumPy's ``finfo`` does not know bfloat16)."""
    return ml_dtypes.finfo(dtype)


def eps(dtype) -> float:
    """The dtype's machine epsilon."""
    return float(finfo(dtype).eps)


def clamp_probs(probs):
    """Probabilities kept in [eps, 1 - eps], so their logs stay finite."""
    e = eps(probs.dtype)
    return ops.clamp(probs, e, 1 - e)


def probs_to_logits(probs, is_binary: bool = False):
    """Log-odds (``is_binary``) or log-probabilities of clamped probabilities, as PyTorch computes them."""
    clamped = clamp_probs(probs)
    if is_binary:
        return ops.log(clamped) - ops.log1p(-clamped)
    return ops.log(clamped)


def logits_to_probs(logits, is_binary: bool = False):
    """Probabilities from log-odds (``is_binary``: sigmoid) or unnormalized log-probabilities (softmax)."""
    return ops.sigmoid(logits) if is_binary else ops.softmax(logits, -1)


def sum_rightmost(value, dims: int):
    """``value`` summed over its last ``dims`` dimensions."""
    for _ in range(dims):
        value = value.sum(-1)
    return value
