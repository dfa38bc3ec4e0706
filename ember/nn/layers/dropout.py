"""Dropout of elements, and of whole channels (Dropout1d, Dropout2d)."""

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


def _channel_dropout(x: Tensor, p: float, training: bool, spatial: int) -> Tensor:
    """x times a mask drawn once per channel (the ``spatial`` trailing axes share it)."""
    if not training or p == 0.0:
        return x
    ones = x[(Ellipsis,) + (slice(0, 1),) * spatial] * 0 + 1  # (built from x, so a traced x gives a traced mask)
    return x * dropout(ones, p, True)


class Dropout1d(Module):
    """In training, zero whole channels of (N, C, L) (or (C, L)) inputs with probability ``p`` and scale the rest
    by 1 / (1 - p); in evaluation, the identity.

    >>> drop = ember.nn.Dropout1d(0.2)
    >>> drop(ember.ones(8, 16, 4)).shape
    (8, 16, 4)
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout1d: p must be in [0, 1], got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (2, 3):
            raise ValueError(f"Dropout1d: expected (N, C, L) or (C, L) inputs, got shape {list(x.shape)}")
        return _channel_dropout(x, self.p, self.training, 1)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Module):
    """In training, zero whole channels of (N, C, H, W) (or (C, H, W)) inputs with probability ``p`` and scale
    the rest by 1 / (1 - p); in evaluation, the identity.

    >>> drop = ember.nn.Dropout2d(0.2)
    >>> drop(ember.ones(8, 16, 4, 4)).shape
    (8, 16, 4, 4)
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: p must be in [0, 1], got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (3, 4):
            raise ValueError(f"Dropout2d: expected (N, C, H, W) or (C, H, W) inputs, got shape {list(x.shape)}")
        if not self.training or self.p == 0.0:
            return x
        ones = x[..., :1, :1] * 0 + 1  # (built from x, so a traced x gives a traced mask)
        return x * dropout(ones, self.p, True)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
