"""PyTorch's shrinkage and threshold activations composed from the primitives (no op records of their own):
``hardshrink``, ``softshrink``, ``tanhshrink`` and ``threshold``. Each is a ``where`` over the comparison PyTorch's
kernel makes, so the gradient is 1 on the kept elements and 0 at the thresholds themselves, and a NaN, which fails
every comparison, stays NaN, as PyTorch's."""

from __future__ import annotations

import numpy as np

from ember.ops.convert import as_tensor, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import abs, ge, gt, le, tanh, where
from ember.ops.piecewise import piecewise


def hardshrink(x, lambd: float = 0.5) -> TensorLike:
    """x where ``|x| > lambd``, else 0."""
    x = piecewise(to_float(x))
    return where(le(abs(x), lambd), 0.0, x)


def softshrink(x, lambd: float = 0.5) -> TensorLike:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0 (``lambd`` must be >= 0)."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    x = piecewise(to_float(x))
    # a NaN fails both tests and takes x + lambd; x * 0 in the band keeps PyTorch's sign of zero
    return where(gt(x, lambd), x - lambd, where(ge(x, -lambd), x * 0.0, x + lambd))


def tanhshrink(x) -> TensorLike:
    """``x - tanh(x)``."""
    x = to_float(x)
    return x - tanh(x)


def threshold(x, threshold: float, value: float) -> TensorLike:
    """x where ``x > threshold``, else ``value`` (PyTorch's ``threshold``; the dtype stays x's: for an integer x
    both numbers are truncated toward zero, as PyTorch casts them)."""
    x = as_tensor(x)
    if np.dtype(x.dtype).kind in "iu":  # a float value promoted the result to float32
        threshold, value = int(threshold), int(value)
        info = np.iinfo(np.dtype(x.dtype))
        if not (info.min <= threshold <= info.max and info.min <= value <= info.max):
            raise ValueError(f"threshold: threshold {threshold} and value {value} must fit the input's dtype "
                             f"{x.dtype}{list(x.shape)} (values [{info.min}, {info.max}])")
        value = x.dtype.type(value)
    else:
        x = piecewise(x)
    return where(le(x, threshold), value, x)
