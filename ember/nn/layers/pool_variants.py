"""PyTorch's other pooling layers and functions: power-average pooling (``lp_pool1d/2d/3d``, ``LPPool1d/2d/3d``),
fractional max pooling (``fractional_max_pool2d/3d``, ``FractionalMaxPool2d/3d``), max unpooling (``MaxUnpool1d/2d/3d``)
and the ``*_with_indices`` spellings of max pooling."""

from __future__ import annotations

import math

from ember import ops as _ops
from ember.creation import rand
from ember.nn.layers.pooling import adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d, as_tuple
from ember.nn.module import Module
from ember.ops import dispatch, max_pool1d, max_pool2d, max_pool3d, max_unpool1d, max_unpool2d, max_unpool3d
from ember.ops.autocast import widened_on_cpu
from ember.ops.conv import ints
from ember.ops.infer import refuse_complex
from ember.ops.piecewise import piecewise
from ember.ops.pool_indices import FRACTIONAL_MAX_POOL_INDICES
from ember.ops.registry import Spec
from ember.tensor import Tensor

# --- power-average pooling -----------------------------------------------------------------------------------


def _lp_pool(name: str, rank: int, input: Tensor, norm_type: float, kernel_size, stride, ceil_mode: bool) -> Tensor:
    """PyTorch's composition: the window mean of x ** p times the window size, to the power 1 / p (a negative
    mean, from odd powers of negative x, clipped to 0); p = inf is the window's largest |x|, -inf its smallest."""
    if norm_type in (math.inf, -math.inf):  # x ** inf is 0 or inf, and ** (1 / inf) makes every window 1
        max_pool = {1: max_pool1d, 2: max_pool2d, 3: max_pool3d}[rank]
        sign = 1 if norm_type > 0 else -1
        return sign * max_pool(sign * _ops.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    pool = {1: _ops.avg_pool1d, 2: _ops.avg_pool2d, 3: _ops.avg_pool3d}[rank]
    kernel = ints(name, "kernel_size", kernel_size, 1, rank)
    out = pool(input ** norm_type, kernel_size, stride, 0, ceil_mode)
    return (_ops.sign(out) * _ops.relu(_ops.abs(out)) * math.prod(kernel)) ** (1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """The p-norm (p = ``norm_type``) of each window of (N, C, L) or (C, L) input, as PyTorch's ``lp_pool1d``.

    >>> ember.nn.functional.lp_pool1d(ember.rand(2, 3, 8), 2, 3, stride=2).shape
    (2, 3, 3)
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """The p-norm (p = ``norm_type``) of each window of (N, C, H, W) or (C, H, W) input.

    >>> ember.nn.functional.lp_pool2d(ember.rand(2, 3, 8, 8), 2, 2).shape
    (2, 3, 4, 4)
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """The p-norm (p = ``norm_type``) of each window of (N, C, D, H, W) or (C, D, H, W) input.

    >>> ember.nn.functional.lp_pool3d(ember.rand(1, 2, 4, 4, 4), 2, 2).shape
    (1, 2, 2, 2, 2)
    """
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


class _LPPoolNd(Module):
    _function = None

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        return type(self)._function(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """The p-norm of sliding windows of (N, C, L) input.

    >>> ember.nn.LPPool1d(2, 3, stride=2)(ember.rand(2, 3, 8)).shape
    (2, 3, 3)
    """

    _function = staticmethod(lp_pool1d)


class LPPool2d(_LPPoolNd):
    """The p-norm of sliding windows of (N, C, H, W) input.

    >>> ember.nn.LPPool2d(2, 2)(ember.rand(2, 3, 8, 8)).shape
    (2, 3, 4, 4)
    """

    _function = staticmethod(lp_pool2d)


class LPPool3d(_LPPoolNd):
    """The p-norm of sliding windows of (N, C, D, H, W) input.

    >>> ember.nn.LPPool3d(2, 2)(ember.rand(1, 2, 4, 4, 4)).shape
    (1, 2, 2, 2, 2)
    """

    _function = staticmethod(lp_pool3d)


# --- fractional max pooling --------------------------------------------------------------------------------------


def _ratio(name: str, rank: int, output_ratio) -> tuple:
    ratio = (output_ratio,) * rank if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
    if len(ratio) != rank or not all(0 < r < 1 for r in ratio):
        raise ValueError(f"{name}: output_ratio must be a number or {rank} numbers in (0, 1), got {output_ratio!r}")
    return ratio


def _fractional_sizes(name: str, rank: int, input: Tensor, output_size, output_ratio) -> tuple:
    if output_size is not None:
        return ints(name, "output_size", output_size, 1, rank)
    if output_ratio is None:
        raise ValueError(f"{name}: needs an output_size or an output_ratio")
    return tuple(int(s * r) for s, r in zip(input.shape[-rank:], _ratio(name, rank, output_ratio)))


def _fractional(name: str, rank: int, input: Tensor, kernel_size, output_size, output_ratio, return_indices: bool,
                _random_samples) -> Tensor:
    """Values gathered at the indices that ``fractional_max_pool_indices`` finds, so the gradient goes to each
    window's maximum (added up where windows share it), as PyTorch's."""
    if input.ndim not in (rank + 1, rank + 2):
        raise ValueError(f"{name}: expected {rank + 1}-D or {rank + 2}-D input, got shape {list(input.shape)}")
    refuse_complex(name, [input])
    kernel_size = ints(name, "kernel_size", kernel_size, 1, rank)
    sizes = _fractional_sizes(name, rank, input, output_size, output_ratio)
    unbatched = input.ndim == rank + 1
    x = _ops.reshape(input, (1,) + tuple(input.shape)) if unbatched else input
    n, c = x.shape[:2]
    samples = rand(n, c, rank, dtype=x.dtype) if _random_samples is None else _ops.as_tensor(_random_samples)
    attrs = {"kernel_size": kernel_size, "output_size": sizes}
    FRACTIONAL_MAX_POOL_INDICES.infer(Spec(tuple(x.shape), x.dtype), Spec(tuple(samples.shape), samples.dtype),
                                      **attrs)
    indices = dispatch.apply(FRACTIONAL_MAX_POOL_INDICES, (x, samples), attrs)
    values = _ops.gather(_ops.reshape(piecewise(x), (n, c, -1)), 2, _ops.reshape(indices, (n, c, -1)))
    shape = (tuple(input.shape[:1]) if not unbatched else ()) + (c,) + sizes
    values, indices = _ops.reshape(values, shape), _ops.reshape(indices, shape)
    return (values, indices) if return_indices else values


def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None) -> Tensor:
    """Max pooling of (N, C, H, W) or (C, H, W) input over ``kernel_size`` windows at pseudo-random steps
    (Graham's fractional max pooling, as PyTorch's): ``output_size``, or ``output_ratio`` of the input size;
    ``_random_samples`` (N, C, 2) in [0, 1) fixes the windows (drawn from ``ember.rand`` otherwise).

    >>> ember.nn.functional.fractional_max_pool2d(ember.randn(2, 3, 10, 10), 3, output_size=5).shape
    (2, 3, 5, 5)
    """
    (input,) = widened_on_cpu(input)  # (float32 in a CPU autocast region, as PyTorch's)
    return _fractional("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None) -> Tensor:
    """Fractional max pooling of (N, C, D, H, W) or (C, D, H, W) input, as fractional_max_pool2d.

    >>> ember.nn.functional.fractional_max_pool3d(ember.randn(1, 2, 8, 8, 8), 2, output_ratio=0.5).shape
    (1, 2, 4, 4, 4)
    """
    (input,) = widened_on_cpu(input)  # (float32 in a CPU autocast region, as PyTorch's)
    return _fractional("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                                       return_indices: bool = False, _random_samples=None) -> tuple:
    """fractional_max_pool2d's values and indices."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                                       return_indices: bool = False, _random_samples=None) -> tuple:
    """fractional_max_pool3d's values and indices."""
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True, _random_samples)


class _FractionalMaxPoolNd(Module):
    _rank = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices: bool = False,
                 _random_samples=None) -> None:
        name = type(self).__name__
        if (output_size is None) == (output_ratio is None):
            raise ValueError(f"{name}: needs exactly one of output_size and output_ratio")
        super().__init__()
        self.kernel_size = kernel_size
        self.output_size = output_size
        self.output_ratio = output_ratio
        self.return_indices = return_indices
        # a buffer, as PyTorch's: it is in the state dict and follows the module's dtype and device
        self.register_buffer("_random_samples",
                             None if _random_samples is None else _ops.as_tensor(_random_samples))
        if output_ratio is not None:
            _ratio(name, self._rank, output_ratio)

    def forward(self, x: Tensor) -> Tensor:
        return _fractional(f"fractional_max_pool{self._rank}d", self._rank, x, self.kernel_size, self.output_size,
                           self.output_ratio, self.return_indices, self._random_samples)

    def extra_repr(self) -> str:
        size = f"output_size={self.output_size}" if self.output_size is not None else \
            f"output_ratio={self.output_ratio}"
        return f"kernel_size={self.kernel_size}, {size}"


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Fractional max pooling of (N, C, H, W) input; new pseudo-random windows on every call.

    >>> ember.nn.FractionalMaxPool2d(3, output_ratio=0.5)(ember.randn(2, 3, 10, 10)).shape
    (2, 3, 5, 5)
    """


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling of (N, C, D, H, W) input; new pseudo-random windows on every call.

    >>> ember.nn.FractionalMaxPool3d(2, output_size=3)(ember.randn(1, 2, 6, 6, 6)).shape
    (1, 2, 3, 3, 3)
    """

    _rank = 3


# --- max unpooling and the *_with_indices spellings ----------------------------------------------------------------


class _MaxUnpoolNd(Module):
    _function = None
    _dims = 1

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size = as_tuple(kernel_size, self._dims)
        self.stride = as_tuple(stride if stride is not None else kernel_size, self._dims)
        self.padding = as_tuple(padding, self._dims)

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return type(self)._function(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of MaxPool1d: values at their pooling indices, zeros elsewhere.

    >>> y, i = ember.nn.MaxPool1d(2, return_indices=True)(ember.randn(2, 3, 8))
    >>> ember.nn.MaxUnpool1d(2)(y, i).shape
    (2, 3, 8)
    """

    _function = staticmethod(max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of MaxPool2d: values at their pooling indices, zeros elsewhere.

    >>> y, i = ember.nn.MaxPool2d(2, return_indices=True)(ember.randn(1, 3, 6, 6))
    >>> ember.nn.MaxUnpool2d(2)(y, i).shape
    (1, 3, 6, 6)
    """

    _function = staticmethod(max_unpool2d)
    _dims = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """The partial inverse of MaxPool3d: values at their pooling indices, zeros elsewhere.

    >>> y, i = ember.nn.MaxPool3d(2, return_indices=True)(ember.randn(1, 2, 4, 4, 4))
    >>> ember.nn.MaxUnpool3d(2)(y, i).shape
    (1, 2, 4, 4, 4)
    """

    _function = staticmethod(max_unpool3d)
    _dims = 3


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple:
    """max_pool1d's values and indices."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple:
    """max_pool2d's values and indices."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple:
    """max_pool3d's values and indices."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size, return_indices: bool = False) -> tuple:
    """adaptive_max_pool1d's values and indices."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size, return_indices: bool = False) -> tuple:
    """adaptive_max_pool2d's values and indices."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size, return_indices: bool = False) -> tuple:
    """adaptive_max_pool3d's values and indices."""
    return adaptive_max_pool3d(input, output_size, True)
