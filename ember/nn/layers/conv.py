"""Convolution layers: Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d."""

from __future__ import annotations

import math
import numbers

from ember.creation import empty
from ember.nn import init
from ember.nn.layers.dtype_check import check_input_dtype
from ember.nn.layers.padding import pad as pad_modes
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.ops import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d
from ember.ops.conv_padding import same_padding
from ember.tensor import Tensor

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(value, n: int, name: str, arg: str) -> tuple:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):  # NumPy's ints too, as PyTorch
        return (int(value),) * n
    try:
        value = tuple(value)
    except TypeError:  # a float or None: not a size
        raise TypeError(f"{name}: {arg} must be an int or {n} ints, got {value!r}") from None
    if len(value) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        raise TypeError(f"{name}: {arg} must be an int or {n} ints, got {value!r}")
    return tuple(int(v) for v in value)


class _ConvBase(Module):
    """What convolutions and transposed convolutions of every rank share: the window attributes as ``_dims``-tuples,
    the parameters and their initialization, the repr."""

    _dims = 2
    _transposed = False

    def _setup(self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation, groups: int,
               bias: bool, padding_mode: str, output_padding, device, dtype) -> None:
        name, n = type(self).__name__, self._dims
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                             f"divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {', '.join(map(repr, _PADDING_MODES))}, got "
                             f"{padding_mode!r}")
        if padding_mode != "zeros" and self._transposed:
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _tuple(kernel_size, n, name, "kernel_size")
        self.stride = _tuple(stride, n, name, "stride")
        self.dilation = _tuple(dilation, n, name, "dilation")
        self.output_padding = _tuple(output_padding, n, name, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = self._transposed  # PyTorch's public flag
        if isinstance(padding, str):
            if self._transposed:
                raise ValueError(f"{name}: padding must be ints, got {padding!r}")
            self.padding = padding
            # uneven 'same' totals: the extra element padded on the far side of the input
            symmetric, extra = same_padding(name, padding, self.kernel_size, self.stride, self.dilation)
        else:
            self.padding = symmetric = _tuple(padding, n, name, "padding")
            extra = None
        pads = tuple((p + a, p + b) for p, (a, b) in zip(symmetric, extra or ((0, 0),) * n))
        # the input's pads in a padding_mode other than zeros, as PyTorch's attribute: the last axis' first
        self._reversed_padding_repeated_twice = tuple(p for pair in reversed(pads) for p in pair)
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's defaults: weight U(-1/sqrt(fan_in), 1/sqrt(fan_in)) via kaiming_uniform_(a=sqrt(5)), bias alike.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "_reversed_padding_repeated_twice" not in state:  # pickled by an Ember that kept its pads in _pad_input
            pads = state.get("_pad_input") if state.get("padding_mode") != "zeros" else None
            self._reversed_padding_repeated_twice = tuple(p for pair in reversed(pads or ()) for p in pair) \
                or (0,) * (2 * self._dims)

    def _padded(self, x: Tensor) -> tuple:
        """``x`` padded in a padding_mode other than zeros, and the padding left to the convolution. Both are read
        on each call, as PyTorch's (code that dilates a trained network sets its layers' padding)."""
        if self.padding_mode == "zeros":
            return x, self.padding
        return pad_modes(x, self._reversed_padding_repeated_twice, self.padding_mode), 0

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if isinstance(self.padding, str):
            text += f", padding={self.padding}"
        elif self.padding != (0,) * self._dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _ConvNd(_ConvBase):
    """A convolution's constructor: PyTorch's Conv1d/2d/3d signature."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__()
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, 0,
                    device, dtype)


class _ConvTransposeNd(_ConvNd):
    """A transposed convolution's constructor: PyTorch's ConvTranspose1d/2d/3d signature (output_padding third).
    A ``_ConvNd``, as in PyTorch, so ``isinstance(m, _ConvNd)`` finds every convolution."""

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        _ConvBase.__init__(self)  # not _ConvNd's: the transposed signature sets up its own
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                    output_padding, device, dtype)

    def _output_padding(self, x: Tensor, output_size) -> tuple:
        """The output padding that gives ``output_size`` (the spatial sizes, or with the input's leading ones in front),
        which must lie between the smallest size this stride gives and stride - 1 more, as PyTorch's."""
        if output_size is None:
            return self.output_padding
        n, name = self._dims, type(self).__name__
        sizes = [int(s) for s in output_size]
        if len(sizes) == x.ndim:  # with the input's batch and channel sizes in front
            sizes = sizes[-n:]
        if len(sizes) != n:
            raise ValueError(f"{name}: output_size must have {n} or {x.ndim} elements for input {list(x.shape)}, "
                             f"got {output_size!r}")
        padding = []
        for axis, size in enumerate(sizes):
            smallest = ((x.shape[x.ndim - n + axis] - 1) * self.stride[axis] - 2 * self.padding[axis]
                        + self.dilation[axis] * (self.kernel_size[axis] - 1) + 1)
            if not smallest <= size < smallest + self.stride[axis]:
                raise ValueError(f"{name}: output_size {sizes} is out of reach for input {list(x.shape)}: axis "
                                 f"{axis} can be from {smallest} to {smallest + self.stride[axis] - 1}")
            padding.append(size - smallest)
        return tuple(padding)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L); weight is (C_out, C_in / groups, k).

    >>> ember.nn.Conv1d(2, 6, 5, stride=2)(ember.randn(4, 2, 50)).shape
    (4, 6, 23)
    """

    _dims = 1

    def forward(self, x: Tensor) -> Tensor:
        # the weight read once: a parametrized weight (nn.utils.parametrize) is computed per read
        return self._conv_forward(x, self.weight, self.bias)

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """This layer's convolution with ``weight`` and ``bias`` in place of its own, as PyTorch's (subclasses that
        standardize the weight call it)."""
        if x.dtype != weight.dtype:
            check_input_dtype(self, x, weight.dtype)
        x, padding = self._padded(x)
        return conv1d(x, weight, bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W); weight is (C_out, C_in / groups, kH, kW).

    >>> ember.nn.Conv2d(3, 16, 3, padding=1)(ember.randn(8, 3, 32, 32)).shape
    (8, 16, 32, 32)
    """

    def forward(self, x: Tensor) -> Tensor:
        # the weight read once: a parametrized weight (nn.utils.parametrize) is computed per read
        return self._conv_forward(x, self.weight, self.bias)

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """This layer's convolution with ``weight`` and ``bias`` in place of its own, as PyTorch's (subclasses that
        standardize the weight call it)."""
        if x.dtype != weight.dtype:
            check_input_dtype(self, x, weight.dtype)
        x, padding = self._padded(x)
        return conv2d(x, weight, bias, self.stride, padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W); weight is (C_out, C_in / groups, kD, kH, kW).

    >>> ember.nn.Conv3d(3, 8, 3, padding=1)(ember.randn(2, 3, 8, 8, 8)).shape
    (2, 8, 8, 8, 8)
    """

    _dims = 3

    def forward(self, x: Tensor) -> Tensor:
        # the weight read once: a parametrized weight (nn.utils.parametrize) is computed per read
        return self._conv_forward(x, self.weight, self.bias)

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """This layer's convolution with ``weight`` and ``bias`` in place of its own, as PyTorch's (subclasses that
        standardize the weight call it)."""
        if x.dtype != weight.dtype:
            check_input_dtype(self, x, weight.dtype)
        x, padding = self._padded(x)
        return conv3d(x, weight, bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution over (N, C_in, L); weight is (C_in, C_out / groups, k).

    >>> ember.nn.ConvTranspose1d(4, 3, 3, stride=2)(ember.randn(2, 4, 10)).shape
    (2, 3, 21)
    """

    _dims = 1

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        weight = self.weight  # read once: a parametrized weight (nn.utils.parametrize) is computed per read
        if x.dtype != weight.dtype:
            check_input_dtype(self, x, weight.dtype)
        return conv_transpose1d(x, weight, self.bias, self.stride, self.padding,
                                self._output_padding(x, output_size), self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution over (N, C_in, H, W); weight is (C_in, C_out / groups, kH, kW).

    >>> ember.nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)(ember.randn(2, 8, 7, 7)).shape
    (2, 4, 14, 14)
    """

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        weight = self.weight  # read once: a parametrized weight (nn.utils.parametrize) is computed per read
        if x.dtype != weight.dtype:
            check_input_dtype(self, x, weight.dtype)
        return conv_transpose2d(x, weight, self.bias, self.stride, self.padding,
                                self._output_padding(x, output_size), self.groups, self.dilation)


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution over (N, C_in, D, H, W); weight is (C_in, C_out / groups, kD, kH, kW).

    >>> ember.nn.ConvTranspose3d(4, 2, 2, stride=2)(ember.randn(2, 4, 3, 3, 3)).shape
    (2, 2, 6, 6, 6)
    """

    _dims = 3

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        weight = self.weight  # read once: a parametrized weight (nn.utils.parametrize) is computed per read
        if x.dtype != weight.dtype:
            check_input_dtype(self, x, weight.dtype)
        return conv_transpose3d(x, weight, self.bias, self.stride, self.padding,
                                self._output_padding(x, output_size), self.groups, self.dilation)
