"""PyTorch's deprecated loss names: ``nn.NLLLoss2d``, which is ``nn.NLLLoss`` with a warning."""

from __future__ import annotations

import warnings

from ember.nn.layers.loss import NLLLoss
from ember.tensor import Tensor

__all__ = ["NLLLoss2d"]


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's old ``size_average``/``reduce`` flags as a reduction name (None leaves ``reduction``)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


class NLLLoss2d(NLLLoss):
    """``NLLLoss`` under its old name (it takes (N, C, H, W) input like any other); warns that it is deprecated.

    >>> ember.nn.NLLLoss2d()(ember.log_softmax(ember.randn(2, 3, 4, 4), 1), ember.zeros(2, 4, 4, dtype="int64"))
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean") -> None:
        warnings.warn("nn.NLLLoss2d is deprecated: nn.NLLLoss takes the same arguments and inputs", FutureWarning,
                      stacklevel=2)
        super().__init__(weight, ignore_index, _legacy_reduction(size_average, reduce, reduction))
