"""Lazy convolutions (``LazyConv1d``/``2d``/``3d``, ``LazyConvTranspose1d``/``2d``/``3d``): ``in_channels`` comes from
the first input, as PyTorch's. The weight and bias are ``UninitializedParameter`` objects from construction; the
first call (or a loaded state dict) gives them their shapes in place, so an optimizer made before trains them, and
the layer then becomes the plain convolution."""

from __future__ import annotations

import numbers

from ember.nn.layers.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ember.nn.module import Module
from ember.nn.uninitialized import UninitializedParameter
from ember.tensor import Tensor

__all__ = ["LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d"]


class _LazyConvMixin:
    """What the lazy convolutions share; ``cls_to_become`` is the convolution each turns into."""

    cls_to_become: type

    def _lazy_setup(self, out_channels: int, kernel_size, stride, padding, dilation, groups: int, bias: bool,
                    padding_mode: str, output_padding, device, dtype) -> None:
        Module.__init__(self)
        name = type(self).__name__
        if isinstance(out_channels, bool) or not isinstance(out_channels, numbers.Integral) or out_channels < 1:
            raise ValueError(f"{name}: out_channels must be an int >= 1, got {out_channels!r}")
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 or out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        out_channels, groups = int(out_channels), int(groups)  # NumPy's ints too, as PyTorch
        # the convolution's own checks and attributes, with groups input channels standing in until the first call
        self._setup(groups, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                    output_padding, device, dtype)
        self.in_channels = 0
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def has_uninitialized_params(self) -> bool:
        """True until the first call (or a loaded state dict) shapes the weight and bias."""
        return True

    def initialize_parameters(self, input: Tensor) -> None:
        """Take ``in_channels`` from ``input`` ((N, C, ...), or an unbatched (C, ...)), shape and initialize the
        parameters, and become the plain convolution."""
        dims = self._dims
        if input.ndim not in (dims + 1, dims + 2):
            raise ValueError(f"{type(self).__name__}: expected {dims + 1}-D (unbatched) or {dims + 2}-D (batched) "
                             f"input, got shape {list(input.shape)}")
        self._materialize(input.shape[0] if input.ndim == dims + 1 else input.shape[1])
        self.reset_parameters()

    def _materialize(self, in_channels: int) -> None:
        if in_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: in_channels ({in_channels}) from the input must be divisible "
                             f"by groups ({self.groups})")
        self.in_channels = in_channels
        if self._transposed:
            shape = (in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, in_channels // self.groups) + self.kernel_size
        self.weight.materialize(shape)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.__class__ = self.cls_to_become

    def materialize_from_state(self, state_dict, prefix: str) -> None:
        """Shape the parameters as ``state_dict`` holds them for this layer (``load_state_dict`` calls it first)."""
        weight = state_dict.get(prefix + "weight")
        shape = tuple(getattr(weight, "shape", ()))
        if len(shape) == self._dims + 2:
            self._materialize(int(shape[0]) if self._transposed else int(shape[1]) * self.groups)

    def forward(self, x: Tensor, *args, **kwargs) -> Tensor:  # (a transposed convolution's output_size)
        self.initialize_parameters(x)
        return type(self).forward(self, x, *args, **kwargs)


class _LazyConvNd(_LazyConvMixin):
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        self._lazy_setup(out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, 0, device,
                         dtype)


class _LazyConvTransposeNd(_LazyConvMixin):
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1,
                 bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        self._lazy_setup(out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         output_padding, device, dtype)


class LazyConv1d(_LazyConvNd, Conv1d):
    """A ``Conv1d`` whose ``in_channels`` comes from its first input.

    >>> ember.nn.LazyConv1d(6, 5)(ember.randn(4, 2, 50)).shape
    (4, 6, 46)
    """

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvNd, Conv2d):
    """A ``Conv2d`` whose ``in_channels`` comes from its first input.

    >>> ember.nn.LazyConv2d(16, 3, padding=1)(ember.randn(8, 3, 32, 32)).shape
    (8, 16, 32, 32)
    """

    cls_to_become = Conv2d


class LazyConv3d(_LazyConvNd, Conv3d):
    """A ``Conv3d`` whose ``in_channels`` comes from its first input.

    >>> ember.nn.LazyConv3d(8, 3, padding=1)(ember.randn(2, 3, 8, 8, 8)).shape
    (2, 8, 8, 8, 8)
    """

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTransposeNd, ConvTranspose1d):
    """A ``ConvTranspose1d`` whose ``in_channels`` comes from its first input.

    >>> ember.nn.LazyConvTranspose1d(3, 3, stride=2)(ember.randn(2, 4, 10)).shape
    (2, 3, 21)
    """

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTransposeNd, ConvTranspose2d):
    """A ``ConvTranspose2d`` whose ``in_channels`` comes from its first input.

    >>> ember.nn.LazyConvTranspose2d(4, 4, stride=2, padding=1)(ember.randn(2, 8, 7, 7)).shape
    (2, 4, 14, 14)
    """

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTransposeNd, ConvTranspose3d):
    """A ``ConvTranspose3d`` whose ``in_channels`` comes from its first input.

    >>> ember.nn.LazyConvTranspose3d(2, 2, stride=2)(ember.randn(2, 4, 3, 3, 3)).shape
    (2, 2, 6, 6, 6)
    """

    cls_to_become = ConvTranspose3d
