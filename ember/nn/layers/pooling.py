"""Pooling layers: max, average and adaptive average, in 1-D and 2-D."""

from __future__ import annotations

from ember.nn.module import Module
from ember.ops import adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from ember.tensor import Tensor


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Maximum over sliding windows of (N, C, L) input; ``stride`` defaults to ``kernel_size``.

    >>> ember.nn.MaxPool1d(3, stride=2)(ember.randn(2, 4, 10)).shape
    (2, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class MaxPool2d(_MaxPoolNd):
    """Maximum over sliding windows of (N, C, H, W) input; ``stride`` defaults to ``kernel_size``.

    >>> ember.nn.MaxPool2d(2)(ember.randn(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class _AvgPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, L) input; ``stride`` defaults to ``kernel_size``.

    >>> ember.nn.AvgPool1d(2)(ember.randn(2, 4, 10)).shape
    (2, 4, 5)
    """

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, H, W) input; ``stride`` defaults to ``kernel_size``.

    >>> ember.nn.AvgPool2d(2)(ember.randn(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AdaptiveAvgPool1d(Module):
    """Mean of (N, C, L) input into ``output_size`` bins, whatever L is.

    >>> ember.nn.AdaptiveAvgPool1d(3)(ember.randn(2, 4, 10)).shape
    (2, 4, 3)
    """

    def __init__(self, output_size: int) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """Mean of (N, C, H, W) input into an ``output_size`` grid (int or pair; None keeps that size).

    >>> ember.nn.AdaptiveAvgPool2d((1, 1))(ember.randn(2, 8, 7, 7)).shape
    (2, 8, 1, 1)
    """

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size)
