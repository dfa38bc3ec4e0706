"""Resampling: ``interpolate`` (nearest, nearest-exact, linear, bilinear, trilinear, bicubic and area),
``pixel_shuffle`` and ``pixel_unshuffle`` (listed in ``nn.functional``) and their modules. Each resampled axis is
gathered with ``take`` at positions computed as PyTorch's kernels compute them, so values and gradients match
PyTorch's; area is adaptive average pooling, as in PyTorch. Nearest positions are computed in float32, the
interpolating modes' in float64 for float64 input and float32 otherwise (PyTorch's ``opmath`` type)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ember import ops as _ops
from ember.backend.dtypes import FLOATING, LOW_PRECISION
from ember.nn.layers.antialias import resample_antialiased
from ember.nn.module import Module
from ember.ops.piecewise import piecewise
from ember.ops.sampling import cubic_weights
from ember.tensor import Tensor

_MODES = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "linear": (3,), "bilinear": (4,), "trilinear": (5,),
          "bicubic": (4,), "area": (3, 4, 5)}
_INTERPOLATING = ("linear", "bilinear", "trilinear", "bicubic")  # the modes that take align_corners


def _output_sizes(input: Tensor, size, scale_factor) -> tuple[list, list]:
    """Each spatial axis' output size and the scale factor given for it (None when ``size`` is given)."""
    dims = input.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size and scale_factor must be given")
    if size is not None:
        sizes = list(size) if isinstance(size, Iterable) else [size] * dims
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes):
            raise TypeError(f"interpolate: size must be an int or ints, got {size!r}")
        sizes = [int(s) for s in sizes]
        if len(sizes) != dims:
            raise ValueError(f"interpolate: size {size} must have {dims} values for input {list(input.shape)}")
        return sizes, [None] * dims
    scales = [float(scale_factor)] * dims if isinstance(scale_factor, (int, float, np.number)) else \
        [float(s) for s in scale_factor]
    if len(scales) != dims:
        raise ValueError(f"interpolate: scale_factor {scale_factor} must have {dims} values for input "
                         f"{list(input.shape)}")
    return [math.floor(n * s) for n, s in zip(input.shape[2:], scales)], scales


def _scale(size_in: int, size_out: int, factor: float | None, align_corners: bool, real=np.float32):
    """PyTorch's ``area_pixel_compute_scale``: output-to-input coordinate ratio, of type ``real``."""
    if align_corners:
        return real((size_in - 1) / (size_out - 1)) if size_out > 1 else real(0)
    if factor is not None and factor > 0:
        return real(1.0 / factor)
    return real(size_in) / real(size_out)


def _nearest(x: Tensor, axis: int, size_out: int, scale: np.float32, exact: bool) -> Tensor:
    dst = np.arange(size_out, dtype=np.float32)
    source = np.floor((dst + np.float32(0.5)) * scale if exact else dst * scale).astype(np.int64)
    return _ops.take(x, np.minimum(source, x.shape[axis] - 1), axis)


def _nearest_2d(input: Tensor, mode: str) -> bool:
    """Whether PyTorch's 2-D nearest kernel resamples: it (forward and backward alike) copies an axis whose size
    is kept and halves the index on one whose size doubles, before it looks at the scale factor; its 1-D and 3-D
    forwards use the scale factor (their backwards do not: not the forwards' adjoints), as Ember does."""
    return mode == "nearest" and input.ndim == 4


def _source(size_out: int, scale, align_corners: bool, cubic: bool) -> np.ndarray:
    """PyTorch's ``area_pixel_compute_source_index`` of every output position (clamped at 0 except for cubic), in
    the type of ``scale``."""
    real = type(scale)
    dst = np.arange(size_out, dtype=real)
    if align_corners:
        return scale * dst
    source = scale * (dst + real(0.5)) - real(0.5)
    return source if cubic else np.maximum(source, 0)


def _weighted(x: Tensor, axis: int, taps: list) -> Tensor:
    """sum_k take(x, index_k, axis) * weight_k, the weights (one per output position) broadcast along ``axis``."""
    shape = (-1,) + (1,) * (x.ndim - 1 - axis)
    out = None
    for index, weight in taps:
        term = _ops.take(x, index, axis) * _ops.as_tensor(weight.astype(x.dtype).reshape(shape), x)
        out = term if out is None else out + term
    return out


def _linear(x: Tensor, axis: int, size_out: int, scale, align_corners: bool) -> Tensor:
    size_in = x.shape[axis]
    real = _source(size_out, scale, align_corners, cubic=False)
    first = real.astype(np.int64)
    second = first + (first < size_in - 1)
    weight = np.clip(real - first.astype(real.dtype), 0, 1)
    return _weighted(x, axis, [(first, 1 - weight), (second, weight)])


def _cubic(x: Tensor, axis: int, size_out: int, scale, align_corners: bool) -> Tensor:
    size_in = x.shape[axis]
    real = _source(size_out, scale, align_corners, cubic=True)
    first = np.minimum(np.floor(real).astype(np.int64), size_in - 1)  # PyTorch's guard_index_and_lambda
    weights = cubic_weights(np.clip(real - first.astype(real.dtype), 0, 1))
    return _weighted(x, axis, [(np.clip(first + k - 1, 0, size_in - 1), w) for k, w in enumerate(weights)])


def _area(input: Tensor, sizes: list) -> Tensor:
    """Adaptive average pooling to ``sizes``: PyTorch's area mode. 5-D input pools (H, W), then D."""
    if input.ndim == 3:
        return _ops.adaptive_avg_pool1d(input, sizes[0])
    if input.ndim == 4:
        return _ops.adaptive_avg_pool2d(input, sizes)
    n, c, d, h, w = input.shape
    if any(s != 1 for s in sizes):  # PyTorch's adaptive_avg_pool3d backward reads the input (its mean's does not)
        input = piecewise(input)
    planes = _ops.adaptive_avg_pool2d(_ops.reshape(input, (-1, c * d, h, w)), sizes[1:])
    depth = _ops.adaptive_avg_pool2d(_ops.reshape(planes, (-1, c, d, sizes[1] * sizes[2])), (sizes[0], None))
    return _ops.reshape(depth, (-1, c, *sizes))


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resample the spatial axes of (N, C, L), (N, C, H, W) or (N, C, D, H, W) input to ``size`` or by
    ``scale_factor``: mode "nearest" or "nearest-exact" (3-D to 5-D), "linear" (3-D), "bilinear" (4-D), "trilinear"
    (5-D), "bicubic" (4-D) or "area" (3-D to 5-D: adaptive average pooling); ``align_corners`` for linear, bilinear,
    trilinear and bicubic.

    >>> ember.nn.functional.interpolate(ember.randn(1, 3, 4, 4), scale_factor=2, mode="bilinear").shape
    (1, 3, 8, 8)
    """
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {sorted(_MODES)}, got {mode!r}")
    if input.ndim not in _MODES[mode]:
        raise ValueError(f"interpolate: mode {mode!r} takes {' or '.join(f'{d}-D' for d in _MODES[mode])} input, "
                         f"got shape {list(input.shape)}")
    if align_corners is not None and mode not in _INTERPOLATING:
        raise ValueError(f"interpolate: align_corners is only for the modes {', '.join(_INTERPOLATING)}, "
                         f"not {mode!r}")
    if recompute_scale_factor and size is not None:
        raise ValueError("interpolate: recompute_scale_factor=True is for a scale_factor, not an explicit size")
    if antialias and (mode not in ("bilinear", "bicubic") or input.ndim != 4):
        raise ValueError(f"interpolate: antialias=True is for the modes bilinear and bicubic of 4-D input, got mode "
                         f"{mode!r} and input {list(input.shape)}")
    if mode in _INTERPOLATING and input.dtype not in FLOATING:  # (weights cast to integers would be 0 or 1)
        raise TypeError(f"interpolate: mode {mode!r} takes floating-point input, got {input.dtype}; convert it first "
                        "(x.float())")
    sizes, factors = _output_sizes(input, size, scale_factor)
    if any(n <= 0 for n in sizes):
        raise ValueError(f"interpolate: the output size {sizes} must be positive for input {list(input.shape)}")
    if mode == "area":
        return _area(input, sizes)
    if recompute_scale_factor:
        factors = [None] * len(factors)
    # float16 / bfloat16: blended in float32 and rounded once, as PyTorch; the nearest modes' copies are exact, but
    # their gradient sums each input's copies, in float32 too (only when one may be taken)
    copies_summed = mode in ("nearest", "nearest-exact") and getattr(input, "requires_grad", True)
    low = input.dtype if (mode in _INTERPOLATING or copies_summed) and input.dtype in LOW_PRECISION else None
    if low is not None:
        return _ops.cast(_resample(_ops.cast(input, np.float32), sizes, factors, mode, bool(align_corners),
                                   antialias), low)
    out = _resample(input, sizes, factors, mode, bool(align_corners), antialias)
    return _ops.clone(input) if out is input else out  # every size kept: a new tensor, as PyTorch's


def _resample(input: Tensor, sizes: list, factors: list, mode: str, corners: bool, antialias: bool) -> Tensor:
    """``interpolate``'s resampling of each spatial axis in turn, the arguments checked."""
    if antialias:
        real = np.float64 if input.dtype == np.float64 else np.float32
        for axis in reversed(range(2, input.ndim)):
            n_in, n_out = input.shape[axis], sizes[axis - 2]
            if n_out == n_in:  # PyTorch's separable kernel copies a kept axis, whatever the scale factor (its
                continue  # backward resamples it all the same: Ember's gradient is this forward's adjoint)
            scale = _scale(n_in, n_out, factors[axis - 2], corners, real)
            input = resample_antialiased(input, axis, n_out, scale, cubic=mode == "bicubic")
        return input
    for axis in reversed(range(2, input.ndim)):  # the last axis first, in PyTorch's order of the blend
        n_in, n_out, factor = input.shape[axis], sizes[axis - 2], factors[axis - 2]
        if n_out == n_in and (mode in ("linear", "bilinear", "trilinear") or _nearest_2d(input, mode)):
            continue  # PyTorch copies an axis whose size these modes keep, whatever the scale factor given
        if n_out == 2 * n_in and _nearest_2d(input, mode):
            input = _ops.take(input, np.arange(n_out) // 2, axis)  # and halves the index where it doubles
        elif mode in ("nearest", "nearest-exact"):
            input = _nearest(input, axis, n_out, _scale(n_in, n_out, factor, False), exact=mode == "nearest-exact")
        else:
            scale = _scale(n_in, n_out, factor, corners, np.float64 if input.dtype == np.float64 else np.float32)
            input = (_cubic if mode == "bicubic" else _linear)(input, axis, n_out, scale, corners)
    return input


def _shuffle_check(name: str, input: Tensor, factor, arg: str) -> None:
    """``factor`` a positive int (0 divided by zero, -1 reached reshape); pixel_shuffle's channels divisible by its
    square."""
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"{name}: {arg} must be a positive int, got {factor!r}")
    channels_divisor = factor * factor if name == "pixel_shuffle" else 1
    if input.ndim < 3 or input.shape[-3] % channels_divisor:
        raise ValueError(f"{name}: input must be (*, C, H, W) with C divisible by {channels_divisor}, got shape "
                         f"{list(input.shape)}")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) to (*, C, H r, W r): each group of r^2 channels becomes an r-by-r block.

    >>> ember.nn.functional.pixel_shuffle(ember.randn(1, 8, 3, 3), 2).shape
    (1, 2, 6, 6)
    """
    r = upscale_factor
    _shuffle_check("pixel_shuffle", input, r, "upscale_factor")
    *lead, c, h, w = input.shape
    k = len(lead)
    y = _ops.reshape(input, (*lead, c // (r * r), r, r, h, w))
    y = _ops.clone(_ops.transpose(y, (*range(k), k, k + 3, k + 1, k + 4, k + 2)))  # (a reshape may keep a view)
    return _ops.reshape(y, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """The inverse of ``pixel_shuffle``: (*, C, H r, W r) to (*, C r^2, H, W).

    >>> ember.nn.functional.pixel_unshuffle(ember.randn(1, 2, 6, 6), 2).shape
    (1, 8, 3, 3)
    """
    r = downscale_factor
    _shuffle_check("pixel_unshuffle", input, r, "downscale_factor")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise ValueError(f"pixel_unshuffle: height and width of input {list(input.shape)} must be divisible by {r}")
    k = len(lead)
    y = _ops.reshape(input, (*lead, c, h // r, r, w // r, r))
    y = _ops.clone(_ops.transpose(y, (*range(k), k, k + 2, k + 4, k + 1, k + 3)))  # (a reshape may keep a view)
    return _ops.reshape(y, (*lead, c * r * r, h // r, w // r))


class Upsample(Module):
    """Resample to ``size`` or by ``scale_factor`` (see ``interpolate``).

    >>> ember.nn.Upsample(scale_factor=2, mode="nearest")(ember.randn(1, 3, 4, 4)).shape
    (1, 3, 8, 8)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = f"scale_factor={self.scale_factor}" if self.scale_factor is not None else f"size={self.size}"
        return f"{what}, mode='{self.mode}'"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W) input.

    >>> ember.nn.UpsamplingNearest2d(scale_factor=2)(ember.randn(1, 3, 4, 4)).shape
    (1, 3, 8, 8)
    """

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) input with ``align_corners=True``.

    >>> ember.nn.UpsamplingBilinear2d(scale_factor=2)(ember.randn(1, 3, 4, 4)).shape
    (1, 3, 8, 8)
    """

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C r^2, H, W) to (*, C, H r, W r) (see ``pixel_shuffle``).

    >>> ember.nn.PixelShuffle(2)(ember.randn(1, 8, 3, 3)).shape
    (1, 2, 6, 6)
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) to (*, C r^2, H, W) (see ``pixel_unshuffle``).

    >>> ember.nn.PixelUnshuffle(2)(ember.randn(1, 2, 6, 6)).shape
    (1, 8, 3, 3)
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
