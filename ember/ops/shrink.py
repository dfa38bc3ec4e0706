"""PyTorch's shrinkage and threshold activations composed from the primitives (no op records of their own):
``hardshrink``, ``softshrink``, ``tanhshrink`` and ``threshold``. Each is a ``where`` over a strict comparison, so
the gradient is 1 on the kept elements and 0 at the thresholds themselves, as PyTorch's."""

from __future__ import annotations

from ember.ops.convert import to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import abs, gt, lt, tanh, where


def hardshrink(x, lambd: float = 0.5) -> TensorLike:
    """x where ``|x| > lambd``, else 0."""
    x = to_float(x)
    return where(gt(abs(x), lambd), x, 0.0)


def softshrink(x, lambd: float = 0.5) -> TensorLike:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0 (``lambd`` must be >= 0)."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    x = to_float(x)
    return where(gt(x, lambd), x - lambd, where(lt(x, -lambd), x + lambd, 0.0))


def tanhshrink(x) -> TensorLike:
    """``x - tanh(x)``."""
    x = to_float(x)
    return x - tanh(x)


def threshold(x, threshold: float, value: float) -> TensorLike:
    """x where ``x > threshold``, else ``value`` (PyTorch's ``threshold``; the dtype stays x's)."""
    return where(gt(x, threshold), x, value)
