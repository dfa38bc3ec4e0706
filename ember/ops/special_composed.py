"""PyTorch's special and elementwise functions composed from primitives (no op records of their own):
``logit``, ``xlogy``, ``xlog1py``, ``sinc``, ``ndtr``, ``multigammaln`` (``mvlgamma``), ``frac``,
``deg2rad``, ``rad2deg`` and ``float_power``."""

from __future__ import annotations

import math

import numpy as np

from ember.backend.dtypes import COMPLEX, FLOATING, LOW_PRECISION, complex128, float32, float64
from ember.ops.composed import logical_and, logical_or, trunc
from ember.ops.convert import as_tensor, cast, promote_inexact, to_float, to_inexact
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import abs, eq, gt, le, log, log1p, lt, mul, power, sin, square, true_divide, where
from ember.ops.infer import as_int
from ember.ops.special import erfc, lgamma


def logit(x, eps: float | None = None) -> TensorLike:
    """Elementwise log(x / (1 - x)); with ``eps``, x is first clamped to [eps, 1 - eps] (no gradient where it was
    clamped), as PyTorch's.

    >>> ember.logit(ember.tensor([0.5, 0.75]))  # 0, log(3)
    """
    x = to_float(x)
    if eps is not None:  # below eps first, as PyTorch's (clip would give 1 - eps everywhere for eps > 1/2)
        low, high = float(eps), 1.0 - float(eps)
        x = where(lt(x, low), low, where(gt(x, high), high, x))
    else:  # outside [0, 1] the value is NaN and so is PyTorch's gradient, where 1/x + 1/(1 - x) is finite
        x = x + cast(where(logical_or(lt(x, 0.0), gt(x, 1.0)), np.nan, 0.0), x.dtype)
    return log(x) - log1p(-x)  # its gradient 1/x + 1/(1 - x) is +inf at 0 and 1, as PyTorch's


def _x_times(logarithm, x, y, lowest: float) -> TensorLike:
    """x * logarithm(y), 0 where x is 0 unless y is NaN, with PyTorch's gradients: x's is logarithm(y) (at x = 0
    too), except where x is 0 and the logarithm is infinite or undefined (y <= lowest, or inf), where it is 0."""
    x, y = promote_inexact(x, y)
    x, y = to_float(x), to_float(y)
    outside = logical_and(eq(x, 0.0), logical_or(le(y, lowest), eq(y, np.inf)))
    # the logarithm's zero there (log(1), log1p(0)) makes the product 0 with finite gradients; no where() around
    # the product, which would cut x's gradient at x = 0; adding 0 turns the -0 of 0 * log(y < 1) into PyTorch's +0
    return mul(x, logarithm(where(outside, lowest + 1.0, y))) + 0.0


def xlogy(x, y) -> TensorLike:
    """Elementwise x * log(y), 0 where x == 0 (unless y is NaN), with broadcasting.

    >>> ember.xlogy(ember.tensor([0.0, 2.0]), ember.tensor([0.0, 3.0]))  # 0, 2 log(3)
    """
    return _x_times(log, x, y, 0.0)


def xlog1py(x, y) -> TensorLike:
    """Elementwise x * log1p(y), 0 where x == 0 (unless y is NaN), with broadcasting.

    >>> ember.special.xlog1py(ember.tensor([0.0, 2.0]), ember.tensor([-1.0, 1.0]))  # 0, 2 log(2)
    """
    return _x_times(log1p, x, y, -1.0)


def sinc(x) -> TensorLike:
    """Elementwise normalized sinc: sin(pi x) / (pi x), 1 at 0 (complex x too, as PyTorch's).

    >>> ember.sinc(ember.tensor([0.0, 0.5]))  # 1, 2 / pi
    """
    x = to_inexact(x)
    dtype = x.dtype  # float16 and bfloat16 in float32, rounded once, as PyTorch: pi x rounded to 8 or 11 bits
    x = cast(x, float32) if dtype in LOW_PRECISION else x  # moved sin(pi x) near an integer (sinc(2.96) was 50% off)
    scaled = x * math.pi
    # below |pi x| = 1/2 the Taylor series to s^12 (within 1e-16): the gradient of sin(s) / s is two terms of size
    # 1/s that cancel (1e-10 gave -1.5e-6, not -3.3e-10; 1e-300 gave -inf)
    small = lt(abs(scaled), 0.5)
    t = square(where(small, scaled, 0.0))
    series = 1.0
    for k in (13, 11, 9, 7, 5, 3):
        series = 1.0 - t * series / (k * (k - 1))
    safe = where(small, 1.0, scaled)
    return cast(where(small, series, true_divide(sin(safe), safe)), dtype)


def ndtr(x) -> TensorLike:
    """Elementwise standard normal CDF, 0.5 erfc(-x / sqrt(2)).

    >>> ember.special.ndtr(ember.tensor([0.0, 1.96]))  # 0.5, 0.975
    """
    return erfc(to_float(x) * -math.sqrt(0.5)) * 0.5


def multigammaln(x, p: int) -> TensorLike:
    """The multivariate log-gamma function of dimension ``p``: log(pi) p (p - 1) / 4 + sum_j lgamma(x - j / 2),
    j = 0..p-1 (PyTorch's ``mvlgamma``); every element must exceed (p - 1) / 2.

    >>> ember.mvlgamma(ember.tensor([2.5]), 2)  # log(pi) / 2 + lgamma(2.5) + lgamma(2)
    """
    p = as_int("multigammaln", p, "p")
    if p < 1:
        raise ValueError(f"multigammaln: p must be at least 1, got {p}")
    x = to_float(x)
    if not x.symbolic and x.array.size and not bool((x.array > (p - 1) / 2).all()):
        raise ValueError(f"multigammaln: all elements must be greater than (p - 1) / 2 = {(p - 1) / 2} "
                         f"(x: {x.dtype}{tuple(x.shape)}, p={p})")
    total = lgamma(x)
    for j in range(1, p):
        total = total + lgamma(x - j / 2)
    return total + math.log(math.pi) * p * (p - 1) / 4


def frac(x) -> TensorLike:
    """Elementwise fractional part x - trunc(x), with x's sign; the gradient is 1, as in PyTorch.

    >>> ember.frac(ember.tensor([2.75, -1.5]))  # 0.75, -0.5
    """
    x = as_tensor(x)
    if x.dtype not in FLOATING:
        raise TypeError(f"frac: needs a floating-point tensor, got {x.dtype}{tuple(x.shape)}")
    return x - trunc(x)


def deg2rad(x) -> TensorLike:
    """Elementwise degrees to radians (integers as floats).

    >>> ember.deg2rad(ember.tensor([180.0]))  # pi
    """
    return to_float(x) * (math.pi / 180.0)


def rad2deg(x) -> TensorLike:
    """Elementwise radians to degrees (integers as floats).

    >>> ember.rad2deg(ember.tensor([math.pi]))  # 180
    """
    return to_float(x) * (180.0 / math.pi)


def float_power(a, b) -> TensorLike:
    """Elementwise a ** b computed in float64 whatever the inputs' dtypes (complex128 when one is complex), as
    PyTorch's.

    >>> ember.float_power(ember.tensor([2]), 0.5).dtype  # float64
    """
    wide = complex128 if any(_is_complex(v) for v in (a, b)) else float64
    return power(_widened(a, wide), _widened(b, wide))


def _is_complex(value) -> bool:
    return value.dtype in COMPLEX if isinstance(value, TensorLike) else isinstance(value, complex)


def _widened(value, dtype) -> TensorLike:
    if not isinstance(value, TensorLike):  # a Python number keeps its full precision
        value = as_tensor(np.asarray(value, dtype=dtype))
    return cast(value, dtype)
