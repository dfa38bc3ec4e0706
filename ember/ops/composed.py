"""PyTorch's elementwise tests, roundings and fills composed from the primitives (no op records of their own):
``isnan``, ``isinf``, ``isfinite``, ``nan_to_num``, ``rsqrt``, ``reciprocal``, ``floor``, ``ceil``, ``trunc``,
``round``, ``fmod``, ``clamp_min``, ``clamp_max``, ``masked_fill``, ``lerp``, the ``logical_*`` functions,
``count_nonzero``, ``isclose``, ``allclose``, ``equal`` and the vector ``norm``."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from ember.backend.dtypes import COMPLEX, FLOATING, LOW_PRECISION, bool_, float32
from ember.ops.complex_parts import complex as _complex
from ember.ops.complex_parts import imag, real
from ember.ops.convert import as_tensor, cast, cast_written, check_fill_value, promote, to_float, to_inexact
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import (
    abs,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    clip,
    div,
    eq,
    gt,
    invert,
    le,
    lt,
    ne,
    power,
    remainder,
    sqrt,
    true_divide,
    where,
)
from ember.ops.infer import normalize_axis, refuse_complex
from ember.ops.reduction import all, amax, amin, any, sum
from ember.ops.shape import stop_gradient


def _floating(x: TensorLike) -> bool:
    return x.dtype in FLOATING


def _to_round(name: str, x) -> TensorLike:
    """x for a rounding function ``name``: complex numbers, which PyTorch does not round, are refused."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex(name, [x])
    return x


def isnan(x) -> TensorLike:
    """Elementwise test for NaN (bool); integers are never NaN."""
    x = as_tensor(x)
    return ne(x, x)


def isinf(x) -> TensorLike:
    """Elementwise test for positive or negative infinity (bool); a complex number is infinite when a part is."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        return bitwise_or(isinf(real(x)), isinf(imag(x)))
    return eq(abs(x), np.inf) if _floating(x) else ne(x, x)


def isfinite(x) -> TensorLike:
    """Elementwise test for a value that is neither NaN nor infinite (bool); both parts of a complex number."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        return bitwise_and(isfinite(real(x)), isfinite(imag(x)))
    return lt(abs(x), np.inf) if _floating(x) else eq(x, x)


def nan_to_num(x, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> TensorLike:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0 and the dtype's largest
    and smallest finite values), as PyTorch's; the gradient passes where x is finite."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:  # each part on its own, as PyTorch
        return _complex(nan_to_num(real(x), nan, posinf, neginf), nan_to_num(imag(x), nan, posinf, neginf))
    if not _floating(x):
        return x
    info = ml_dtypes.finfo(x.dtype)  # (NumPy's finfo does not know bfloat16)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    x = where(isnan(x), nan, x)
    return where(eq(x, np.inf), posinf, where(eq(x, -np.inf), neginf, x))


def reciprocal(x) -> TensorLike:
    """Elementwise 1 / x (integers as floats)."""
    return true_divide(1.0, to_inexact(x))


def rsqrt(x) -> TensorLike:
    """Elementwise 1 / sqrt(x)."""
    return reciprocal(sqrt(x))


def trunc(x) -> TensorLike:
    """Elementwise rounding toward zero (integers unchanged); no gradient, as the steps have none."""
    x = _to_round("trunc", x)
    return div(x, 1.0, rounding_mode="trunc") if _floating(x) else x


def floor(x) -> TensorLike:
    """Elementwise floor (integers unchanged)."""
    x = _to_round("floor", x)
    if not _floating(x):
        return x
    toward_zero = trunc(x)
    return where(gt(toward_zero, x), toward_zero - 1.0, toward_zero)


def ceil(x) -> TensorLike:
    """Elementwise ceiling (integers unchanged)."""
    x = _to_round("ceil", x)
    if not _floating(x):
        return x
    toward_zero = trunc(x)
    return where(lt(toward_zero, x), toward_zero + 1.0, toward_zero)


def round(x, *, decimals: int = 0) -> TensorLike:  # noqa: A001  (PyTorch's name)
    """Elementwise rounding to the nearest integer, halves to even (as PyTorch and NumPy); with ``decimals``,
    to that many decimal places."""
    x = _to_round("round", x)
    if not _floating(x):
        if decimals:  # (returning x gave round(1234, decimals=-2) = 1234)
            raise TypeError(f"round: decimals is for floating tensors, as in PyTorch, got decimals={decimals} for "
                            f"{x.dtype}{list(x.shape)}")
        return x
    if decimals:
        # PyTorch's steps: float16 and bfloat16 scaled in float32 (60000 * 10 is inf in float16), and a negative
        # decimals divides by 10 ** -decimals (10.0 ** -3 is inexact: round(60000, decimals=-3) gave 59999.996)
        wide = cast(x, float32) if x.dtype in LOW_PRECISION else x
        digits = -decimals if decimals < 0 else decimals  # (this module's abs is the op)
        scale = 10.0 ** digits if digits <= 308 else np.inf  # (C's pow, not Python's OverflowError)
        if decimals < 0:
            return cast(round(wide / scale) * scale, x.dtype)
        return cast(true_divide(round(wide * scale), scale), x.dtype)
    finite = isfinite(x)
    x_finite = where(finite, x, 0.0)  # (infinities and NaN round to themselves)
    low = floor(x_finite)
    fraction = x_finite - low  # exact: low and x are within one unit
    halfway = low + remainder(low, 2.0)  # the even one of low and low + 1
    rounded = where(lt(fraction, 0.5), low, where(eq(fraction, 0.5), halfway, low + 1.0))
    # x's sign, as rint's: -0.4 and -0.5 round to -0.0 (low + 1.0 and the even halfway gave +0.0); by abs, not
    # copysign, which ONNX lacks; infinities and NaN pass through with no gradient, as the steps have none
    return where(finite, where(lt(x, 0.0), -abs(rounded), rounded), stop_gradient(x))


def fmod(a, b) -> TensorLike:
    """Elementwise remainder of a / b with the sign of ``a`` (C's fmod; ``remainder`` takes b's sign; not defined
    for two bools, as in PyTorch)."""
    a, b = promote(a, b)
    # remainder of magnitudes with a's sign: exact, as C's fmod (a - trunc(a / b) * b rounds the quotient:
    # fmod(1e8, 3) gave 0). Negated by where, not abs, so a's gradient is 1 everywhere, as PyTorch's.
    if a.dtype == bool_:
        return remainder(a, b)  # which refuses two bools, as PyTorch's fmod does
    negative = lt(a, 0)
    r = remainder(where(negative, -a, a), where(lt(b, 0), -b, b))
    out = where(negative, -r, r)
    if a.dtype in FLOATING:  # an infinite divisor leaves a finite dividend as it is (the formula gives 0 * inf)
        out = where(bitwise_and(isinf(b), isfinite(a)), a, out)
    return out


def clamp_min(x, min) -> TensorLike:  # noqa: A002  (PyTorch's argument name)
    """``x`` raised to at least ``min`` (a number or a tensor), as ``clamp(x, min=min)``."""
    return clip(x, min=min)


def clamp_max(x, max) -> TensorLike:  # noqa: A002
    """``x`` lowered to at most ``max`` (a number or a tensor), as ``clamp(x, max=max)``."""
    return clip(x, max=max)


def masked_fill(x, mask, value) -> TensorLike:
    """``x`` with ``value`` where ``mask`` (bool, broadcast to x) is true, in x's dtype; a 0-d tensor ``value``
    gets the gradient of the filled elements."""
    x = as_tensor(x)
    mask = as_tensor(mask, x)
    if mask.dtype != bool_:
        raise TypeError(f"masked_fill: the mask must be a bool tensor, got {mask.dtype}")
    if isinstance(value, TensorLike) and value.ndim != 0:
        raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {list(value.shape)}")
    check_fill_value("masked_fill", value, x.dtype)
    out = where(mask, value, x)
    return cast_written("masked_fill", out, x.dtype)


def lerp(start, end, weight) -> TensorLike:
    """``start + weight * (end - start)``, with PyTorch's formula (exact at weight 1); float16 and bfloat16 in
    float32, rounded once, as PyTorch (step by step, a result near 0 could be off by more than itself)."""
    start, end = promote(start, end)
    if start.dtype in LOW_PRECISION:
        wide = lerp(cast(start, float32), cast(end, float32),
                    cast(weight, float32) if isinstance(weight, TensorLike) and weight.dtype in LOW_PRECISION
                    else weight)
        return cast(wide, start.dtype)
    if isinstance(weight, TensorLike):
        small = lt(abs(weight), 0.5)
        return where(small, start + weight * (end - start), end - (end - start) * (1.0 - weight))
    if -0.5 < weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


def _as_bool(x) -> TensorLike:
    x = as_tensor(x)
    return x if x.dtype == bool_ else ne(x, 0)


def logical_and(a, b) -> TensorLike:
    """Elementwise ``a and b`` of the values' truth (bool)."""
    return bitwise_and(_as_bool(a), _as_bool(b))


def logical_or(a, b) -> TensorLike:
    """Elementwise ``a or b`` of the values' truth (bool)."""
    return bitwise_or(_as_bool(a), _as_bool(b))


def logical_xor(a, b) -> TensorLike:
    """Elementwise exclusive or of the values' truth (bool)."""
    return bitwise_xor(_as_bool(a), _as_bool(b))


def logical_not(x) -> TensorLike:
    """Elementwise ``not x`` (bool)."""
    return invert(_as_bool(x))


def count_nonzero(x, axis=None) -> TensorLike:
    """The number of non-zero elements over ``axis`` (all of them by default), as int64."""
    return sum(_as_bool(x), axis)


def isclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> TensorLike:
    """Elementwise ``|a - b| <= atol + rtol * |b|`` (bool), equal infinities included, as PyTorch's: an infinite
    difference is never within tolerance (an infinity is close only to itself). Integers and booleans are
    compared in the default float dtype, as PyTorch's: their own subtraction wraps (uint8 0 - 2 is 254)."""
    for name, tolerance in (("rtol", rtol), ("atol", atol)):
        if tolerance < 0:
            raise ValueError(f"isclose: {name} must be greater than or equal to zero, as in PyTorch, got {tolerance}")
    a, b = promote(a, b)
    equal = eq(a, b)
    if a.dtype not in FLOATING and a.dtype not in COMPLEX:
        if rtol == 0 and atol == 0:
            return equal
        a, b = to_float(a), to_float(b)
    error = abs(a - b)
    within = le(error, atol + rtol * abs(b))
    if a.dtype in FLOATING or a.dtype in COMPLEX:  # rtol * |inf| would admit any difference from an infinity
        within = bitwise_and(within, isfinite(error))
    close = bitwise_or(equal, within)
    return bitwise_or(close, bitwise_and(isnan(a), isnan(b))) if equal_nan else close


def allclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """Whether every element of a is close to b's (see ``isclose``)."""
    return bool(all(isclose(a, b, rtol, atol, equal_nan)).array)


def equal(a, b) -> bool:
    """Whether a and b have the same shape and elements."""
    a, b = as_tensor(a), as_tensor(b)
    return tuple(a.shape) == tuple(b.shape) and bool(all(eq(a, b)).array)


def _safe_sqrt(squares: TensorLike) -> TensorLike:
    # sqrt of 1 where the sum is 0: the norm of a zero vector gets gradient 0 (as PyTorch's), not 0 * inf; the
    # test is == 0, not > 0, so that a NaN sum stays NaN
    zero = eq(squares, 0.0)
    return where(zero, 0.0, sqrt(where(zero, 1.0, squares)))


def norm(x, p: float | str = 2, axis=None, keepdims: bool = False) -> TensorLike:
    """The vector p-norm over ``axis`` (all elements by default, or for an empty tuple, as PyTorch's), as
    ``torch.norm``/``linalg.vector_norm``: ``p`` 2 (or "fro"), 1, inf, -inf, 0 (the count of non-zeros) or any
    other number; of a complex ``x``, the norm of the moduli, as PyTorch's."""
    x = as_tensor(x)
    if p == 0 and x.dtype in COMPLEX:  # (not through abs, whose gradient at a NaN or an infinity is NaN, even of 0)
        return sum(where(ne(x, 0), 1.0, real(x) * 0.0), None if axis in ((), []) else axis, keepdims)
    x = abs(x) if x.dtype in COMPLEX else to_float(x)
    if axis is not None and not isinstance(axis, int) and len(tuple(axis)) == 0:
        axis = None
    if x.dtype in LOW_PRECISION:  # in float32, rounded once, as PyTorch's: float16 squares overflow (a 300 is 90000)
        return cast(norm(cast(x, float32), p, axis, keepdims), x.dtype)
    if p == "fro":
        p = 2
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number or 'fro', got {p!r} (matrix norms are not supported)")
    if p == 2:
        return _safe_sqrt(sum(x * x, axis, keepdims))
    if p == 1:
        return sum(abs(x), axis, keepdims)
    if p in (np.inf, -np.inf):
        return _extreme_norm(abs(x), p > 0, axis, keepdims)
    if p == 0:  # (x * 0 where x is 0: the count then holds PyTorch's zero gradient, a backward through it works)
        return sum(where(ne(x, 0), 1.0, x * 0.0), axis, keepdims)
    if p < 0 and 0 in (tuple(x.shape) if axis is None else [x.shape[a] for a in normalize_axis("norm", axis, x.ndim)]):
        raise ValueError(f"norm: the {p} norm of no elements has no value, as PyTorch's (input shape "
                         f"{list(x.shape)}, dim {axis})")
    return _safe_root(sum(_safe_powers(abs(x), float(p)), axis, keepdims), float(p))


def _extreme_norm(magnitudes: TensorLike, largest: bool, axis, keepdims: bool) -> TensorLike:
    # the largest (smallest) magnitude, NaN where one is NaN; PyTorch's gradient there is sign(x) shared among the
    # NaNs: 0 for real x, where amax's own rule (no element equals the NaN) divides by a count of 0
    nan = isnan(magnitudes)
    value = (amax if largest else amin)(where(nan, 0.0 if largest else np.inf, magnitudes), axis, keepdims)
    return where(any(nan, axis, keepdims), np.nan, value)


def _safe_powers(magnitudes: TensorLike, p: float) -> TensorLike:
    # |x|^p with 0 for a zero element (inf for p < 0) and no gradient there, as PyTorch's norm: the power's own
    # derivative there, p * 0^(p - 1), is inf for p < 1
    zero = eq(magnitudes, 0.0)  # (not NaN: a NaN element keeps its NaN power)
    return where(zero, 0.0 if p > 0 else np.inf, power(where(zero, 1.0, magnitudes), p))


def _safe_root(total: TensorLike, p: float) -> TensorLike:
    # total^(1/p) with gradient 0 where the total is 0 (a zero vector), not 0 * inf
    zero = eq(total, 0.0)  # (not NaN: a NaN total stays NaN)
    return where(zero, 0.0, power(where(zero, 1.0, total), 1.0 / p))
