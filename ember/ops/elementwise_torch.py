"""PyTorch's elementwise functions beyond the basic ones, as primitives on NumPy's ufuncs: ``exp2``,
``logaddexp``, ``logaddexp2``, ``hypot``, ``copysign``, ``nextafter``, ``heaviside``, ``gcd`` and ``lcm``."""

from __future__ import annotations

import math

from ember.backend.dtypes import COMPLEX
from ember.ops import dispatch
from ember.ops.convert import promote, promote_inexact, to_float, to_inexact
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import EXP, WHERE, _binary, _conj, _log1p_forward, _scalar, _typed, _unary
from ember.ops.infer import refuse_complex, require_float, unary_inexact
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, NOT_FUSIBLE, Spec
from ember.ops.shape import unbroadcast_with

_LN2 = math.log(2.0)


def _exp2_rule(run, ctx, g):
    return (g * _conj(run, ctx.output) * _typed(g, _LN2),)


def _logaddexp_forward(xp, a, b):
    if a.dtype not in COMPLEX:
        return xp.logaddexp(a, b)
    # PyTorch's: the larger real part plus log1p(exp(smaller - larger)); both real parts -inf give the smaller (its
    # exp is 0 whatever its phase), both +inf log(e^a + e^b), a NaN in either part NaN
    a, b = xp.broadcast_arrays(a, b)
    swap = a.real < b.real
    high, low = xp.where(swap, b, a), xp.where(swap, a, b)
    out = high + _log1p_forward(xp, xp.exp(low - high))
    infinite = xp.isinf(low.real) & (low.real == high.real)
    if infinite.any():
        out = xp.where(infinite, xp.where(low.real < 0, low, xp.log(xp.exp(low) + xp.exp(high))), out)
    return xp.where(xp.isnan(a) | xp.isnan(b), a.dtype.type(complex(xp.nan, xp.nan)), out)


def _logaddexp_rule(run, ctx, g):
    a, b = ctx.inputs
    out = ctx.output  # d/da log(e^a + e^b) = e^(a - out)
    return (unbroadcast_with(run, g * _conj(run, run(EXP, a - out)), a.shape) if ctx.needs[0] else None,
            unbroadcast_with(run, g * _conj(run, run(EXP, b - out)), b.shape) if ctx.needs[1] else None)


def _logaddexp2_rule(run, ctx, g):
    a, b = ctx.inputs
    out = ctx.output  # d/da log2(2^a + 2^b) = 2^(a - out)
    return (unbroadcast_with(run, g * run(EXP2, a - out), a.shape) if ctx.needs[0] else None,
            unbroadcast_with(run, g * run(EXP2, b - out), b.shape) if ctx.needs[1] else None)


def _hypot_rule(run, ctx, g):
    a, b = ctx.inputs
    scale = g / ctx.output
    return (unbroadcast_with(run, scale * a, a.shape) if ctx.needs[0] else None,
            unbroadcast_with(run, scale * b, b.shape) if ctx.needs[1] else None)


def _copysign_rule(run, ctx, g):
    a, b = ctx.inputs  # d/da copysign(a, b) = out / a (+-1), 0 at a == 0 (PyTorch's); b's gradient is zero
    zero = a == _typed(a, 0.0)
    ratio = run(WHERE, zero, _scalar(run, a, 0.0), ctx.output / run(WHERE, zero, _scalar(run, a, 1.0), a))
    return (unbroadcast_with(run, g * ratio, a.shape) if ctx.needs[0] else None,
            unbroadcast_with(run, g * ratio * _typed(g, 0.0), b.shape) if ctx.needs[1] else None)


EXP2 = _unary("exp2", lambda xp, x: xp.exp2(x), vjp_rule(_exp2_rule), onnx=NO_ONNX, flops=8, saves_output=True,
              infer=unary_inexact("exp2"), fusion=NOT_FUSIBLE)
LOGADDEXP = _binary("logaddexp", _logaddexp_forward, vjp_rule(_logaddexp_rule), onnx=NO_ONNX,
                    flops=20, saves_output=True, complex_inputs=True, fusion=NOT_FUSIBLE)
LOGADDEXP2 = _binary("logaddexp2", lambda xp, a, b: xp.logaddexp2(a, b), vjp_rule(_logaddexp2_rule),
                     onnx=NO_ONNX, flops=20, saves_output=True, fusion=NOT_FUSIBLE)
HYPOT = _binary("hypot", lambda xp, a, b: xp.hypot(a, b), vjp_rule(_hypot_rule), onnx=NO_ONNX, flops=6,
                saves_output=True, fusion=NOT_FUSIBLE)
COPYSIGN = _binary("copysign", lambda xp, a, b: xp.copysign(a, b), vjp_rule(_copysign_rule), onnx=NO_ONNX,
                   saves_output=True, fusion=NOT_FUSIBLE)
NEXTAFTER = _binary("nextafter", lambda xp, a, b: xp.nextafter(a, b), NON_DIFFERENTIABLE, onnx=NO_ONNX,
                    fusion=NOT_FUSIBLE)
def _heaviside_forward(xp, x, values):
    # PyTorch's step: values where x == 0, else x > 0 (0 for NaN, where NumPy's heaviside gives NaN)
    return xp.where(x == 0, values, (x > 0).astype(x.dtype))


HEAVISIDE = _binary("heaviside", _heaviside_forward, NON_DIFFERENTIABLE, onnx=NO_ONNX, fusion=NOT_FUSIBLE)
GCD = _binary("gcd", lambda xp, a, b: xp.gcd(a, b), NON_DIFFERENTIABLE, onnx=NO_ONNX, fusion=NOT_FUSIBLE,
              bool_inputs=False)
LCM = _binary("lcm", lambda xp, a, b: xp.lcm(a, b), NON_DIFFERENTIABLE, onnx=NO_ONNX, fusion=NOT_FUSIBLE,
              bool_inputs=False)


def _floats(name: str, a, b) -> tuple:
    a, b = promote_inexact(a, b)
    return to_float(a, name), to_float(b, name)


def exp2(x) -> TensorLike:
    """Elementwise 2 ** x.

    >>> ember.exp2(ember.tensor([3.0]))  # 8
    """
    return dispatch.apply(EXP2, (to_inexact(x),))


def logaddexp(a, b) -> TensorLike:
    """Elementwise log(exp(a) + exp(b)) without overflow, with broadcasting (complex tensors too, as PyTorch's).

    >>> ember.logaddexp(ember.tensor([1000.0]), ember.tensor([1000.0]))  # 1000.6931
    """
    a, b = promote_inexact(a, b)
    if a.dtype not in COMPLEX:
        a, b = to_float(a, "logaddexp"), to_float(b, "logaddexp")
    return dispatch.apply(LOGADDEXP, (a, b))


def logaddexp2(a, b) -> TensorLike:
    """Elementwise log2(2 ** a + 2 ** b) without overflow, with broadcasting.

    >>> ember.logaddexp2(ember.tensor([3.0]), ember.tensor([3.0]))  # 4
    """
    return dispatch.apply(LOGADDEXP2, _floats("logaddexp2", a, b))


def hypot(a, b) -> TensorLike:
    """Elementwise sqrt(a^2 + b^2) without overflow, with broadcasting.

    >>> ember.hypot(ember.tensor([3.0]), ember.tensor([4.0]))  # 5
    """
    return dispatch.apply(HYPOT, _floats("hypot", a, b))


def copysign(a, b) -> TensorLike:
    """Elementwise |a| with the sign of b (integers as floats); the gradient for b is zero, as in PyTorch.

    >>> ember.copysign(ember.tensor([2.0]), -0.0)  # -2
    """
    return dispatch.apply(COPYSIGN, _floats("copysign", a, b))


def nextafter(a, b) -> TensorLike:
    """Elementwise next floating-point value after a toward b (float inputs; no gradient).

    >>> ember.nextafter(ember.tensor([1.0]), 2.0) - 1.0  # 2**-23 in float32
    """
    a, b = promote(a, b)
    require_float("nextafter", [Spec(a.shape, a.dtype), Spec(b.shape, b.dtype)])
    return dispatch.apply(NEXTAFTER, (a, b))


def heaviside(x, values) -> TensorLike:
    """Elementwise step: 1 where x > 0, ``values`` where x == 0, else 0 (NaN too); booleans too (True where x or,
    where x is False, values); no gradient, as in PyTorch.

    >>> ember.heaviside(ember.tensor([-1.0, 0.0, 2.0]), ember.tensor(0.5))  # 0, 0.5, 1
    """
    x, values = promote(x, values)
    if x.dtype in COMPLEX:
        refuse_complex("heaviside", [x, values])
    return dispatch.apply(HEAVISIDE, (x, values))


def _integers(name: str, a, b) -> tuple:
    a, b = promote(a, b)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name}: needs integer tensors, got {a.dtype} and {b.dtype}")
    return a, b


def gcd(a, b) -> TensorLike:
    """Elementwise greatest common divisor of integers (non-negative, gcd(0, 0) = 0).

    >>> ember.gcd(ember.tensor([12, 18]), ember.tensor([8, 27]))  # 4, 9
    """
    return dispatch.apply(GCD, _integers("gcd", a, b))


def lcm(a, b) -> TensorLike:
    """Elementwise least common multiple of integers (non-negative, 0 when either is 0).

    >>> ember.lcm(ember.tensor([4, 6]), ember.tensor([6, 10]))  # 12, 30
    """
    return dispatch.apply(LCM, _integers("lcm", a, b))
