"""``gumbel_softmax``: differentiable samples of a categorical distribution (``nn.functional`` lists it)."""

from __future__ import annotations

import numpy as np

from ember import ops as _ops
from ember.creation import arange, rand
from ember.ops.infer import check_axis
from ember.ops.registry import Spec
from ember.tensor import Tensor


def _gumbel_noise(like: Tensor) -> Tensor:
    """Standard Gumbel samples of ``like``'s shape and dtype, -log(E) with E ~ Exp(1) = -log(1 - U), drawn from
    Ember's global generator (uniforms in float64; a new draw per call under ``ember.jit``)."""
    uniform = rand(like.shape, dtype=np.float64, device=like.device)
    exponential = -_ops.log1p(-uniform)
    tiny = float(np.finfo(np.float64).tiny)  # U = 0 gives E = 0: a large but finite sample, never inf
    return _ops.cast(-_ops.log(_ops.clip(exponential, tiny, None)), like.dtype)


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """``softmax((logits + g) / tau, dim)`` with g standard Gumbel noise from Ember's global generator (so
    ``ember.manual_seed`` makes it reproducible), as PyTorch's ``gumbel_softmax``. ``logits`` are unnormalized
    log-probabilities (``log_softmax`` outputs give the same samples). ``hard=True`` returns the one-hot of the
    sample's argmax with the soft sample's gradient (the straight-through estimator). ``eps`` is unused, as in
    PyTorch.

    >>> ember.nn.functional.gumbel_softmax(ember.randn(2, 5), tau=0.5, hard=True).sum(axis=1)
    """
    logits = _ops.to_float(logits)
    if not tau > 0:
        raise ValueError(f"gumbel_softmax: tau must be positive, got {tau}")
    if logits.ndim == 0:
        raise ValueError("gumbel_softmax: logits must have at least one dimension, got a 0-d tensor")
    dim = check_axis("gumbel_softmax", dim, logits.ndim, [Spec(tuple(logits.shape), logits.dtype)])
    soft = _ops.softmax((logits + _gumbel_noise(logits)) / tau, dim)
    if not hard:
        return soft
    index = _ops.argmax(soft, dim, keepdims=True)
    shape = [1] * logits.ndim
    shape[dim] = logits.shape[dim]
    positions = _ops.reshape(arange(logits.shape[dim], device=logits.device), tuple(shape))
    one_hot = _ops.cast(positions == index, soft.dtype)
    return one_hot - _ops.stop_gradient(soft) + soft  # the straight-through estimator
