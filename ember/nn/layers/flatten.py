"""Flatten and Unflatten."""

from __future__ import annotations

from ember.nn.module import Module
from ember.ops import flatten, unflatten
from ember.tensor import Tensor


class Flatten(Module):
    """Merge the axes ``start_dim`` to ``end_dim`` into one (by default all but the batch axis).

    >>> ember.nn.Flatten()(ember.zeros(2, 3, 4, 5)).shape
    (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``.

    >>> ember.nn.Unflatten(1, (3, 4))(ember.zeros(2, 12)).shape
    (2, 3, 4)
    """

    def __init__(self, dim: int, unflattened_size: tuple | list) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple or list of ints, got "
                            f"{type(unflattened_size).__name__} {unflattened_size!r}")
        self.dim = dim
        self.unflattened_size = unflattened_size  # kept as given (list, tuple or Size): PyTorch's repr shows it so

    def forward(self, x: Tensor) -> Tensor:
        return unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
