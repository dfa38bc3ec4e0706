"""Similarity and distance between two batches of vectors: ``cosine_similarity`` and ``pairwise_distance`` (listed
in ``nn.functional``) and their modules."""

from __future__ import annotations

import numpy as np

from ember import ops as _ops
from ember.nn.module import Module
from ember.ops.infer import check_axis, refuse_complex
from ember.ops.registry import Spec
from ember.tensor import Tensor


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between x1 and x2 (broadcast) along ``dim``; each norm held at least ``eps``,
    as PyTorch computes it (a norm below ``eps`` keeps its gradient).

    >>> ember.nn.functional.cosine_similarity(ember.randn(4, 8), ember.randn(4, 8)).shape
    (4,)
    """
    x1, x2 = _ops.promote(x1, x2)
    refuse_complex("cosine_similarity", [x1, x2])  # (as PyTorch: sum(x1 * x2) is no inner product of complex ones)
    if x1.shape != x2.shape:  # PyTorch's norms are the broadcast vectors': a size-1 dim repeated grows its norm
        try:
            shape = tuple(np.broadcast_shapes(x1.shape, x2.shape))
        except ValueError:
            raise ValueError(f"cosine_similarity: x1 of shape {list(x1.shape)} and x2 of shape {list(x2.shape)} do "
                             "not broadcast to one shape") from None
        x1, x2 = _ops.broadcast_to(x1, shape), _ops.broadcast_to(x2, shape)
    dim = check_axis("cosine_similarity", dim, x1.ndim, [Spec(tuple(x1.shape), x1.dtype)])
    return _ops.sum((x1 / _held_norm(x1, dim, eps)) * (x2 / _held_norm(x2, dim, eps)), dim)


def _held_norm(x: Tensor, dim: int, eps: float) -> Tensor:
    # PyTorch clamps the norm to eps in place, outside autograd: the value is eps, the gradient still the norm's
    norm = _ops.norm(x, 2, dim, keepdims=True)
    return _ops.where(_ops.lt(norm, eps), eps + (norm - _ops.stop_gradient(norm)), norm)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The p-norm of ``x1 - x2 + eps`` along the last dimension.

    >>> ember.nn.functional.pairwise_distance(ember.randn(4, 8), ember.randn(4, 8)).shape
    (4,)
    """
    return _ops.norm(x1 - x2 + eps, p, -1, keepdims=keepdim)


class CosineSimilarity(Module):
    """The cosine similarity of two inputs along ``dim`` (see ``cosine_similarity``).

    >>> ember.nn.CosineSimilarity(dim=1)(ember.randn(4, 8), ember.randn(4, 8)).shape
    (4,)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The p-norm distance of two inputs along the last dimension (see ``pairwise_distance``).

    >>> ember.nn.PairwiseDistance()(ember.randn(4, 8), ember.randn(4, 8)).shape
    (4,)
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
