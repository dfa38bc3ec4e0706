"""Dropout."""

from __future__ import annotations

from ember.nn.module import Module
from ember.ops import dropout
from ember.tensor import Tensor


class Dropout(Module):
    """In training, zero each element with probability ``p`` and scale the rest by 1 / (1 - p);
    in evaluation, the identity. ``inplace`` is accepted for compatibility; the result is a new tensor.

    >>> drop = ember.nn.Dropout(0.1)
    >>> drop.eval()(ember.ones(4)).sum()
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
