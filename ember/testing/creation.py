"""``make_tensor`` (``torch.testing.make_tensor``): a tensor of random values in a dtype's usual test range, drawn
from Ember's global generator."""

from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np

from ember import random
from ember.backend.devices import Device, move
from ember.backend.dtypes import as_dtype, bfloat16
from ember.tensor import Tensor

# [low, high) when none is given, PyTorch's table
_DEFAULT_RANGE = {"b": (0, 2), "u": (0, 10), "i": (-9, 10), "f": (-9, 9), "c": (-9, 9)}


def _shape(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = tuple(shape[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise TypeError(f"make_tensor: shape must be non-negative ints or one sequence of them, got {shape!r}")
    return tuple(int(n) for n in shape)


def _finite_range(dtype: np.dtype) -> tuple:
    """(lowest, highest) representable values: highest exclusive for integers (inclusive for int64), as PyTorch."""
    if dtype.kind == "b":
        return 0, 2
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return int(info.min), int(info.max) + (0 if dtype == np.int64 else 1)
    info = _finfo(dtype)
    return float(info.min), float(info.max)


def _bounds(dtype: np.dtype, low, high) -> tuple:
    """``low`` and ``high`` with defaults filled in and clamped to the dtype, checked."""
    default_low, default_high = _DEFAULT_RANGE["f" if dtype.kind == "V" else dtype.kind]
    low = default_low if low is None else low
    high = default_high if high is None else high
    for name, value in (("low", low), ("high", high)):
        if not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"make_tensor: `{name}` must be a real number, got {type(value).__name__}")
    if math.isnan(low) or math.isnan(high):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    lowest, highest = _finite_range(dtype)
    low, high = min(max(low, lowest), highest), min(max(high, lowest), highest)
    if dtype.kind in "biu":
        low, high = math.ceil(low), math.ceil(high)
    return low, high


def _uniform(shape: tuple, low: float, high: float) -> np.ndarray:
    """float64 draws in [low, high), halving the range first where its width overflows."""
    u = random.generator().random(shape)
    if math.isfinite(high - low):
        return low + (high - low) * u
    return 2 * (low / 2 + (high / 2 - low / 2) * u)


def _draw(shape: tuple, dtype: np.dtype, low, high) -> np.ndarray:
    if dtype.kind in "biu":
        values = random.generator().integers(low, high, shape, dtype=np.int64)
        return values.astype(dtype)
    if low == high:
        warnings.warn("Passing `low==high` to `make_tensor` for floating or complex types gives a tensor full of "
                      "`low`; use `ember.full(...)` instead.", FutureWarning, stacklevel=3)
        values = np.full(shape, low, np.float64)
    else:
        values = _uniform(shape, low, high)
    if dtype.kind == "c":
        values = values + 1j * (_uniform(shape, low, high) if low != high else low)
    return values.astype(dtype)


def _exclude_zero(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind in "biu":
        replacement = 1
    else:
        tiny = float(_finfo(dtype).tiny)
        replacement = complex(tiny, tiny) if dtype.kind == "c" else tiny
    values[values == 0] = replacement
    return values


def _finfo(dtype: np.dtype):
    """The floating-point limits of ``dtype`` (of its real part for a complex dtype)."""
    return ml_dtypes.finfo(dtype) if dtype == bfloat16 else np.finfo(dtype)


def make_tensor(*shape, dtype, device, low: float | None = None, high: float | None = None,
                requires_grad: bool = False, noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format=None) -> Tensor:
    """A tensor of ``shape`` filled with values drawn uniformly from [``low``, ``high``)
    (``torch.testing.make_tensor``).

    Without bounds the range depends on the dtype: bool [0, 2), uint8 [0, 10), other integers [-9, 10),
    floating [-9, 9). Bounds are clamped to the dtype's finite range (integers' rounded up). ``exclude_zero``
    replaces zeros with 1 (integers, bool) or the dtype's smallest normal number; ``noncontiguous`` gives a
    strided view when the tensor has more than one element.

    >>> x = ember.testing.make_tensor(2, 3, dtype=ember.float32, device="cpu", low=0, high=1)
    >>> bool(((x >= 0) & (x < 1)).all())
    True
    """
    shape = _shape(shape)
    dtype = as_dtype(dtype)
    device = Device(device)
    if memory_format is not None:
        raise ValueError(f"make_tensor: Ember tensors have one memory format (row-major); memory_format must be "
                         f"None, got {memory_format!r}")
    if requires_grad and dtype.kind in "biu":
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral dtypes, but got "
                         f"dtype={dtype}")
    low, high = _bounds(dtype, low, high)
    if low > high or (low == high and dtype.kind in "biu"):
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    n = math.prod(shape)
    drawn = shape[:-1] + (2 * shape[-1],) if noncontiguous and n > 1 else shape
    values = _draw(drawn, dtype, low, high)
    if exclude_zero:
        values = _exclude_zero(values, dtype)
    if drawn != shape:
        values = values[..., ::2]  # a strided view: every other element of each last-axis row
    tensor = Tensor._make(move(values, device), None)
    return tensor.requires_grad_(True) if requires_grad else tensor
