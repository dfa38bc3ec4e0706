"""Local response normalization across channels: ``local_response_norm``, ``LocalResponseNorm`` and the older
``CrossMapLRN2d`` (4-D inputs only)."""

from __future__ import annotations

import numbers

from ember import ops as _ops
from ember.nn.module import Module
from ember.tensor import Tensor

__all__ = ["CrossMapLRN2d", "LocalResponseNorm", "local_response_norm"]


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Each element divided by ``(k + alpha * mean of the squares over a window of size channels) ** beta``; the
    window of channel c runs from ``c - size // 2`` to ``c + (size - 1) // 2``, missing channels counting as 0.
    The input is (N, C, ...) with at least 3 dimensions.

    >>> F.local_response_norm(ember.randn(2, 6, 4, 4), size=3).shape
    (2, 6, 4, 4)
    """
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"local_response_norm: size must be an int >= 1, got {size!r}")
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected an (N, C, ...) input of 3 or more dimensions, got shape "
                         f"{list(input.shape)}")
    if 0 in tuple(input.shape):
        return input
    channels = input.shape[1]
    squares = input * input
    pairs = [(0, 0)] * input.ndim
    pairs[1] = (size // 2, (size - 1) // 2)
    padded = _ops.pad(squares, pairs, 0.0)
    total = padded[:, 0:channels]
    for offset in range(1, size):
        total = total + padded[:, offset:offset + channels]
    return input / (total * (alpha / size) + k) ** beta


class LocalResponseNorm(Module):
    """``local_response_norm`` over the channels of an (N, C, ...) input.

    >>> ember.nn.LocalResponseNorm(2)(ember.randn(2, 6, 4, 4)).shape
    (2, 6, 4, 4)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, x: Tensor) -> Tensor:
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(LocalResponseNorm):
    """``local_response_norm`` of an (N, C, H, W) input (the layer of Lua Torch's ``SpatialCrossMapLRN``).

    A deliberate difference: PyTorch's ``CrossMapLRN2d`` runs its channel window with an off-by-one (it never drops
    channel 0's square, so from channel ``size // 2 + 1`` on its divisor holds a wrong channel), and its
    values there differ from this formula's, which ``LocalResponseNorm`` of both libraries gives.

    >>> ember.nn.CrossMapLRN2d(3)(ember.randn(2, 6, 4, 4)).shape
    (2, 6, 4, 4)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__(size, alpha, beta, k)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: expected an (N, C, H, W) input, got shape {list(x.shape)}")
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k)
