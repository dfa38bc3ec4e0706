"""The triplet margin loss with a distance function of the caller's: ``triplet_margin_with_distance_loss`` and
``TripletMarginWithDistanceLoss``."""

from __future__ import annotations

from collections.abc import Callable

from ember import ops as _ops
from ember.nn.layers.loss import _check_triplet_margin, _Loss, _reduce
from ember.nn.layers.similarity import PairwiseDistance, pairwise_distance
from ember.tensor import Tensor

__all__ = ["TripletMarginWithDistanceLoss", "triplet_margin_with_distance_loss"]

Distance = Callable[[Tensor, Tensor], Tensor]


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Distance | None = None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """``max(0, d(anchor, positive) - d(anchor, negative) + margin)`` for a distance ``d`` (``pairwise_distance``
    when None) that maps two tensors to their distances; ``swap`` takes the smaller of d(anchor, negative) and
    d(positive, negative).

    >>> F.triplet_margin_with_distance_loss(ember.randn(4, 8), ember.randn(4, 8), ember.randn(4, 8),
    ...                                     distance_function=lambda a, b: (a - b).abs().sum(-1))
    """
    name = "triplet_margin_with_distance_loss"
    _check_triplet_margin(name, margin)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError(f"{name}: anchor, positive and negative must have the same number of dimensions, got "
                         f"shapes {list(anchor.shape)}, {list(positive.shape)} and {list(negative.shape)}")
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = _ops.minimum(d_neg, distance(positive, negative))
    return _reduce(name, _ops.clip(d_pos - d_neg + margin, 0.0, None), reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """The triplet margin loss with a distance function (see ``triplet_margin_with_distance_loss``).

    >>> loss = ember.nn.TripletMarginWithDistanceLoss(distance_function=ember.nn.PairwiseDistance(p=1))
    >>> loss(ember.randn(4, 8), ember.randn(4, 8), ember.randn(4, 8))
    """

    def __init__(self, *, distance_function: Distance | None = None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        _check_triplet_margin(type(self).__name__, margin)
        # (as PyTorch's, the default distance is a PairwiseDistance child module)
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin = margin
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                 margin=self.margin, swap=self.swap, reduction=self.reduction)
