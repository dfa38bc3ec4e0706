"""PyTorch's deprecated loss names: ``nn.NLLLoss2d``, which is ``nn.NLLLoss`` with a warning."""

from __future__ import annotations

import warnings

from ember.nn.layers.loss import NLLLoss
from ember.tensor import Tensor

__all__ = ["NLLLoss2d"]


class NLLLoss2d(NLLLoss):
    """``NLLLoss`` under its old name (it takes (N, C, H, W) input like any other); warns that it is deprecated.

    >>> ember.nn.NLLLoss2d()(ember.log_softmax(ember.randn(2, 3, 4, 4), 1), ember.zeros(2, 4, 4, dtype="int64"))
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean") -> None:
        warnings.warn("nn.NLLLoss2d is deprecated: nn.NLLLoss takes the same arguments and inputs", FutureWarning,
                      stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)
