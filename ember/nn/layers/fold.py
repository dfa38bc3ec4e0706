"""Sliding blocks: ``unfold`` (im2col) and ``fold`` (col2im, summing where blocks overlap), listed in
``nn.functional``, and their modules. Both are a grouped convolution with a fixed one-hot weight that picks each
kernel position into its own channel, so gradients, ``ember.jit`` and export follow from ``conv2d`` and
``conv_transpose2d``."""

from __future__ import annotations

import numpy as np

from ember import ops as _ops
from ember.nn.module import Module
from ember.ops.conv import pair
from ember.ops.conv_padding import unbatched
from ember.tensor import Tensor


def _args(name: str, kernel_size, dilation, padding, stride) -> tuple:
    return (pair(name, "kernel_size", kernel_size, 1), pair(name, "dilation", dilation, 1),
            pair(name, "padding", padding, 0), pair(name, "stride", stride, 1))


def _picker(channels: int, kernel: tuple, like: Tensor) -> Tensor:
    """(C kh kw, 1, kh, kw) one-hot weight: output channel c kh kw + i kw + j reads input channel c at (i, j)."""
    k = kernel[0] * kernel[1]
    weight = np.tile(np.eye(k, dtype=like.dtype).reshape(k, 1, *kernel), (channels, 1, 1, 1))
    return _ops.as_tensor(weight, like)


def _blocks(name: str, size: tuple, kernel: tuple, dilation: tuple, padding: tuple, stride: tuple) -> tuple:
    """The number of block positions along each spatial axis of an input of spatial ``size``."""
    blocks = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                   for n, k, d, p, s in zip(size, kernel, dilation, padding, stride))
    if min(blocks) < 1:
        raise ValueError(f"{name}: kernel_size {kernel} with dilation {dilation} does not fit the padded spatial "
                         f"size {tuple(n + 2 * p for n, p in zip(size, padding))}")
    return blocks


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks of (N, C, H, W) input as columns: (N, C kh kw, L), L the number of block positions, channel
    ``c kh kw + i kw + j`` holding channel c at kernel offset (i, j), as PyTorch's; unbatched (C, H, W) input gives
    (C kh kw, L).

    >>> ember.nn.functional.unfold(ember.randn(2, 3, 5, 5), kernel_size=2).shape
    (2, 12, 16)
    """
    kernel, dilation, padding, stride = _args("unfold", kernel_size, dilation, padding, stride)
    if input.ndim == 3:
        return unbatched(unfold, input, kernel, dilation, padding, stride)
    if input.ndim != 4:
        raise ValueError(f"unfold: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape {list(input.shape)}")
    n, c, h, w = input.shape
    _blocks("unfold", (h, w), kernel, dilation, padding, stride)
    y = _ops.conv2d(input, _picker(c, kernel, input), stride=stride, padding=padding, dilation=dilation, groups=c)
    return _ops.reshape(y, (n, y.shape[1], y.shape[2] * y.shape[3]))


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """The adjoint of ``unfold``: columns (N, C kh kw, L) summed back into (N, C, H, W), ``output_size`` (H, W);
    values of overlapping blocks add up. Unbatched (C kh kw, L) input gives (C, H, W).

    >>> ember.nn.functional.fold(ember.randn(2, 12, 16), output_size=5, kernel_size=2).shape
    (2, 3, 5, 5)
    """
    size = pair("fold", "output_size", output_size, 1)
    kernel, dilation, padding, stride = _args("fold", kernel_size, dilation, padding, stride)
    if input.ndim == 2:
        return unbatched(fold, input, size, kernel, dilation, padding, stride)
    if input.ndim != 3:
        raise ValueError(f"fold: input must be 3-D (N, C * kh * kw, L) or 2-D (C * kh * kw, L), got shape "
                         f"{list(input.shape)}")
    n, ck, length = input.shape
    k = kernel[0] * kernel[1]
    if ck % k:
        raise ValueError(f"fold: input's dimension 1 ({ck}) must be divisible by kh * kw = {k} for kernel_size "
                         f"{kernel}, got shape {list(input.shape)}")
    blocks = _blocks("fold", size, kernel, dilation, padding, stride)
    if length != blocks[0] * blocks[1]:
        raise ValueError(f"fold: input's dimension 2 (L = {length}) must be the number of blocks, "
                         f"{blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, for output_size {size}, kernel_size "
                         f"{kernel}, dilation {dilation}, padding {padding} and stride {stride}; got shape "
                         f"{list(input.shape)}")
    reached = tuple((b - 1) * s - 2 * p + d * (kk - 1) + 1
                    for b, s, p, d, kk in zip(blocks, stride, padding, dilation, kernel))
    grid = _ops.reshape(input, (n, ck, *blocks))
    return _ops.conv_transpose2d(grid, _picker(ck // k, kernel, input), stride=stride, padding=padding,
                                 output_padding=tuple(o - r for o, r in zip(size, reached)), groups=ck // k,
                                 dilation=dilation)


class Unfold(Module):
    """Extract sliding blocks (see ``unfold``).

    >>> ember.nn.Unfold(kernel_size=(2, 3))(ember.randn(2, 3, 5, 5)).shape
    (2, 18, 12)
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, stride={self.stride}"


class Fold(Module):
    """Sum sliding blocks back into an image (see ``fold``).

    >>> ember.nn.Fold(output_size=5, kernel_size=2)(ember.randn(2, 12, 16)).shape
    (2, 3, 5, 5)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
