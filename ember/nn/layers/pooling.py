"""Pooling layers: max, average, adaptive average and adaptive max in 1-D, 2-D and 3-D; ``adaptive_max_pool1d``,
``adaptive_max_pool2d`` and ``adaptive_max_pool3d`` (listed in ``nn.functional``)."""

from __future__ import annotations

from collections.abc import Iterable

from ember import ops as _ops
from ember.nn.module import Module
from ember.ops import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    dispatch,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)
from ember.ops.autocast import widened_on_cpu
from ember.ops.conv_padding import unbatched
from ember.ops.infer import refuse_complex
from ember.ops.piecewise import piecewise
from ember.ops.pool_indices import ADAPTIVE_MAX_POOL_INDICES
from ember.tensor import Tensor


class _MaxPoolNd(Module):
    # PyTorch's order: return_indices before ceil_mode, so positional arguments mean what they mean there
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
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
        return max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """Maximum over sliding windows of (N, C, H, W) input; ``stride`` defaults to ``kernel_size``.

    >>> ember.nn.MaxPool2d(2)(ember.randn(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)


class MaxPool3d(_MaxPoolNd):
    """Maximum over sliding windows of (N, C, D, H, W) input; ``stride`` defaults to ``kernel_size``.

    >>> ember.nn.MaxPool3d(2)(ember.randn(1, 3, 8, 8, 8)).shape
    (1, 3, 4, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return max_pool3d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)


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


class _AvgPoolOverridable(_AvgPoolNd):
    """AvgPool2d's and AvgPool3d's constructor: ``divisor_override`` (each window's sum over that number)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.divisor_override = divisor_override


def as_tuple(value, n: int) -> tuple:
    """``value`` as an ``n``-tuple, as PyTorch's modules store their window sizes (``_single``, ``_pair``...)."""
    return tuple(value) if isinstance(value, Iterable) else (value,) * n


class AvgPool1d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, L) input; ``stride`` defaults to ``kernel_size``.

    >>> ember.nn.AvgPool1d(2)(ember.randn(2, 4, 10)).shape
    (2, 4, 5)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__(as_tuple(kernel_size, 1), as_tuple(kernel_size if stride is None else stride, 1),
                         as_tuple(padding, 1), ceil_mode, count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AvgPool2d(_AvgPoolOverridable):
    """Mean over sliding windows of (N, C, H, W) input; ``stride`` defaults to ``kernel_size``.

    >>> ember.nn.AvgPool2d(2)(ember.randn(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                          self.divisor_override)


class AvgPool3d(_AvgPoolOverridable):
    """Mean over sliding windows of (N, C, D, H, W) input; ``stride`` defaults to ``kernel_size``.

    >>> ember.nn.AvgPool3d(2)(ember.randn(1, 3, 8, 8, 8)).shape
    (1, 3, 4, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool3d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                          self.divisor_override)


class _AdaptiveAvgPoolNd(Module):
    """The adaptive average poolings' base: AdaptiveAvgPool2d and 3d are not AdaptiveAvgPool1d's subclasses, as
    in PyTorch."""

    def __init__(self, output_size: int | tuple[int | None, ...] | None) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Mean of (N, C, L) input into ``output_size`` bins, whatever L is.

    >>> ember.nn.AdaptiveAvgPool1d(3)(ember.randn(2, 4, 10)).shape
    (2, 4, 3)
    """

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool1d(x, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Mean of (N, C, H, W) input into an ``output_size`` grid (int or pair; None keeps that size).

    >>> ember.nn.AdaptiveAvgPool2d((1, 1))(ember.randn(2, 8, 7, 7)).shape
    (2, 8, 1, 1)
    """

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Mean of (N, C, D, H, W) input into an ``output_size`` grid (int or triple; None keeps that size).

    >>> ember.nn.AdaptiveAvgPool3d(1)(ember.randn(2, 8, 4, 7, 7)).shape
    (2, 8, 1, 1, 1)
    """

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool3d(x, self.output_size)


def _adaptive_max_axis(x: Tensor, axis: int, size_out: int) -> Tensor:
    """The maximum of each of PyTorch's ``size_out`` adaptive bins along ``axis``: [floor(i n / out),
    ceil((i + 1) n / out))."""
    n = x.shape[axis]
    if size_out == n:
        return x
    lead = (slice(None),) * axis
    bins = [x[lead + (slice(i * n // size_out, -(-(i + 1) * n // size_out)),)] for i in range(size_out)]
    return _ops.concat([_ops.amax(b, axis, keepdims=True) for b in bins], axis)


def _adaptive_max_pool(name: str, input: Tensor, output_size, dims: int, return_indices: bool) -> Tensor:
    """Where a gradient may be taken, the values are gathered at the indices ``adaptive_max_pool_indices`` finds,
    so the whole gradient of a bin goes to its first maximum (in row-major order), as PyTorch's, not shared among
    ties as ``amax``'s; without one, one ``amax`` per axis and bin (which ONNX exports)."""
    if input.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{name}: expected {dims + 1}-D or {dims + 2}-D input, got shape {list(input.shape)}")
    refuse_complex(name, [input])  # (the indices' argmax would order complex numbers by real part, then imaginary)
    sizes = (output_size,) * dims if isinstance(output_size, int) or output_size is None else tuple(output_size)
    if len(sizes) != dims:
        raise ValueError(f"{name}: output_size must be an int or {dims} values, got {output_size!r}")
    first = input.ndim - dims
    sizes = tuple(input.shape[axis] if size is None else size for axis, size in enumerate(sizes, first))
    for axis, size in enumerate(sizes, first):
        if size <= 0 or input.shape[axis] <= 0:
            raise ValueError(f"{name}: output_size {output_size} and input {list(input.shape)} must be positive")
    if not return_indices and sizes == tuple(input.shape[first:]):
        return _ops.clone(piecewise(input))  # every bin one element (a new tensor, as PyTorch's)
    if not return_indices and not (dispatch.grad_enabled() and (input.requires_grad or input.symbolic)):
        x = input
        for axis, size in enumerate(sizes, first):
            x = _adaptive_max_axis(x, axis, size)
        return x
    if input.ndim == dims + 1:
        values, indices = unbatched(_adaptive_max_values, input, sizes)
    else:
        values, indices = _adaptive_max_values(input, sizes)
    return (values, indices) if return_indices else values


def _adaptive_max_values(input: Tensor, sizes: tuple) -> tuple:
    indices = _adaptive_max_indices(input, sizes)
    n, c = input.shape[:2]
    values = _ops.gather(_ops.reshape(piecewise(input), (n, c, -1)), 2, _ops.reshape(indices, (n, c, -1)))
    return _ops.reshape(values, tuple(indices.shape)), indices


def _adaptive_max_indices(input: Tensor, sizes: tuple) -> Tensor:
    attrs = {"output_size": tuple(int(s) for s in sizes)}
    return dispatch.apply(ADAPTIVE_MAX_POOL_INDICES, (input,), attrs)


def adaptive_max_pool1d(input: Tensor, output_size: int, return_indices: bool = False) -> Tensor:
    """The maximum of (N, C, L) or (C, L) input over ``output_size`` adaptive bins.

    >>> ember.nn.functional.adaptive_max_pool1d(ember.randn(2, 4, 10), 3).shape
    (2, 4, 3)
    """
    return _adaptive_max_pool("adaptive_max_pool1d", input, output_size, 1, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False) -> Tensor:
    """The maximum of (N, C, H, W) or (C, H, W) input over an ``output_size`` grid of adaptive bins (int or pair;
    None keeps that size).

    >>> ember.nn.functional.adaptive_max_pool2d(ember.randn(2, 4, 7, 9), (3, 4)).shape
    (2, 4, 3, 4)
    """
    return _adaptive_max_pool("adaptive_max_pool2d", input, output_size, 2, return_indices)


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False) -> Tensor:
    """The maximum of (N, C, D, H, W) or (C, D, H, W) input over an ``output_size`` grid of adaptive bins (int or
    triple; None keeps that size); ``return_indices`` also returns each maximum's flat index in its volume.

    >>> ember.nn.functional.adaptive_max_pool3d(ember.randn(2, 4, 5, 7, 9), (2, 3, 4)).shape
    (2, 4, 2, 3, 4)
    """
    (input,) = widened_on_cpu(input)  # (float32 in a CPU autocast region, as PyTorch's)
    return _adaptive_max_pool("adaptive_max_pool3d", input, output_size, 3, return_indices)


class _AdaptiveMaxPoolNd(Module):
    """The adaptive max poolings' base: AdaptiveMaxPool2d and 3d are not AdaptiveMaxPool1d's subclasses, as in
    PyTorch."""

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """The maximum of (N, C, L) input over ``output_size`` bins, whatever L is.

    >>> ember.nn.AdaptiveMaxPool1d(3)(ember.randn(2, 4, 10)).shape
    (2, 4, 3)
    """

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_max_pool1d(x, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """The maximum of (N, C, H, W) input over an ``output_size`` grid (int or pair; None keeps that size).

    >>> ember.nn.AdaptiveMaxPool2d((2, 3))(ember.randn(2, 8, 7, 7)).shape
    (2, 8, 2, 3)
    """

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_max_pool2d(x, self.output_size, self.return_indices)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """The maximum of (N, C, D, H, W) input over an ``output_size`` grid (int or triple; None keeps that size).

    >>> ember.nn.AdaptiveMaxPool3d((2, 3, 3))(ember.randn(2, 8, 5, 7, 7)).shape
    (2, 8, 2, 3, 3)
    """

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_max_pool3d(x, self.output_size, self.return_indices)
