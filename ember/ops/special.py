"""Special functions as primitives (PyTorch's ``torch.special``): log-gamma, digamma, polygamma, the Hurwitz
zeta function, the regularized incomplete gamma functions, the complementary and scaled complementary error
functions, the inverse error function, the normal distribution's quantile and log-CDF, and the modified Bessel
functions I0 and I1 (plain and scaled).

The numbers come from ``ember.ops.special_kernels`` (NumPy or CuPy, no SciPy), computed in float64 whatever the
input's float dtype and rounded back to it. Each gradient is written with these same ops, so gradients of any
order exist (lgamma's is digamma, digamma's polygamma(1), polygamma(n)'s polygamma(n + 1)).
"""

from __future__ import annotations

import math

import numpy as np

from ember.ops import dispatch, special_kernels
from ember.ops.autocast import FLOAT32
from ember.ops.convert import promote, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import EXP, LOG, NEG, SIGN, WHERE, _scalar, _typed
from ember.ops.infer import as_int, binary, elementwise_cost, require_float, unary_float
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NOT_FUSIBLE, defop, describe
from ember.ops.shape import unbroadcast_with


def _in_float64(kernel):
    """``kernel`` (float64 in and out) as a forward for any float dtype: computed in float64, rounded back."""

    def forward(xp, *arrays, **attrs):
        dtype = arrays[0].dtype
        scalar = all(a.ndim == 0 for a in arrays)  # NumPy's ufuncs give scalars for 0-d arrays: the kernels write
        work = [a.astype(np.float64, copy=False) for a in arrays]  # into their results (out=), which needs arrays
        result = kernel(xp, *(w.reshape(1) if scalar else w for w in work), **attrs)
        return (result.reshape(()) if scalar else result).astype(dtype, copy=False)

    forward.__name__ = kernel.__name__
    return forward


def _special(name, kernel, rule, *, flops=40, saves_output=False, infer=None):
    return defop(
        name,
        forward=_in_float64(kernel),
        infer=infer or unary_float(name),
        vjp=vjp_rule(rule),
        cost=elementwise_cost(flops),
        onnx=NO_ONNX,
        elementwise=True,
        saves_output=saves_output,
        fusion=NOT_FUSIBLE,  # series and loops numexpr cannot write
    )


# --- gamma family -----------------------------------------------------------------------------------------------


def _lgamma_rule(run, ctx, g):
    return (g * run(DIGAMMA, ctx.inputs[0]),)


def _digamma_rule(run, ctx, g):
    return (g * run(POLYGAMMA, ctx.inputs[0], n=1),)


def _polygamma_rule(run, ctx, g):
    return (g * run(POLYGAMMA, ctx.inputs[0], n=ctx.attrs["n"] + 1),)


def _polygamma_infer(x, *, n):
    if n.__class__ is not int or n < 1:  # bools, floats and None too: the order is an attribute of the graph
        raise TypeError(f"polygamma: n must be an int >= 1 (0 is digamma), got {n!r} (x: {describe([x])})")
    return unary_float("polygamma")(x)


LGAMMA = _special("lgamma", special_kernels.lgamma, _lgamma_rule)
DIGAMMA = _special("digamma", special_kernels.digamma, _digamma_rule)
POLYGAMMA = _special("polygamma", lambda xp, x, *, n: special_kernels.polygamma(xp, n, x), _polygamma_rule,
                     flops=200, infer=_polygamma_infer)


def _entr_forward(xp, x):
    positive = x > 0
    value = xp.where(positive, -x, 0) * xp.log(xp.where(positive, x, 1))  # (no inf * 0 where it is not taken)
    # 0 at 0, -inf below it, NaN kept (PyTorch's and SciPy's values)
    return xp.where(positive, value, xp.where(x == 0, 0, xp.where(xp.isnan(x), x, -np.inf))).astype(x.dtype,
                                                                                                   copy=False)


def _entr_rule(run, ctx, g):
    # PyTorch's gradient, -(1 + log x) everywhere: +inf at 0, NaN below it (not the 0 a masked where would give)
    x = ctx.inputs[0]
    return (g * run(NEG, run(LOG, x) + _typed(x)),)


def _entr_infer(x, **attrs):
    if attrs:
        raise TypeError(f"entr: takes no attributes, got {sorted(attrs)} (x: {describe([x])})")
    return unary_float("entr")(x)


# computed in the input's dtype, as PyTorch's (no float64 round trip)
ENTR = defop("entr", forward=_entr_forward, infer=_entr_infer, vjp=vjp_rule(_entr_rule),
             cost=elementwise_cost(10), onnx=NO_ONNX, elementwise=True, fusion=NOT_FUSIBLE, autocast=FLOAT32)


def _zeta_rule(run, ctx, g):
    s, q = ctx.inputs
    if ctx.needs[0]:
        raise NotImplementedError(f"zeta: the gradient for x (the exponent) is not implemented, as in PyTorch "
                                  f"(x: {s.dtype}{tuple(s.shape)}); only q has one")
    return None, unbroadcast_with(run, run(NEG, g * s * run(ZETA, s + _typed(s), q)), q.shape)


def _zeta_forward(xp, s, q):
    return special_kernels.zeta(xp, s, q)


def _zeta_infer(s, q, **attrs):
    require_float("zeta", [s, q])
    return binary("zeta")(s, q)


ZETA = defop("zeta", forward=_in_float64(_zeta_forward), infer=_zeta_infer, vjp=vjp_rule(_zeta_rule),
             cost=elementwise_cost(200), onnx=NO_ONNX, elementwise=True, fusion=NOT_FUSIBLE)


# --- error functions and the normal distribution ------------------------------------------------------------------

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erfc_rule(run, ctx, g):
    x = ctx.inputs[0]
    return (run(NEG, g * _typed(g, _TWO_OVER_SQRT_PI) * run(EXP, run(NEG, x * x))),)


def _erfcx_rule(run, ctx, g):
    x, out = ctx.inputs[0], ctx.output
    return (g * (_typed(x, 2.0) * x * out - _typed(x, _TWO_OVER_SQRT_PI)),)


def _erfinv_rule(run, ctx, g):
    out = ctx.output
    return (g * _typed(g, math.sqrt(math.pi) / 2.0) * run(EXP, out * out),)


def _ndtri_rule(run, ctx, g):
    out = ctx.output
    return (g * _typed(g, math.sqrt(2.0 * math.pi)) * run(EXP, out * out * _typed(out, 0.5)),)


def _log_ndtr_rule(run, ctx, g):
    # phi(x) / Phi(x): sqrt(2 / pi) / erfcx(-x / sqrt(2)) up to 0, finite far in the left tail; above it
    # sqrt(2 / pi) e^(-x^2 / 2) / erfc(-x / sqrt(2)), as erfcx overflows past x = 37.7, where the second derivative
    # was inf / inf (NaN). Each side takes 0 for the other's elements, so neither gradient meets an overflow
    x = ctx.inputs[0]
    right = x > _typed(x, 0.0)
    zero = _scalar(run, x, 0.0)
    left_x, right_x = run(WHERE, right, zero, x), run(WHERE, right, x, zero)
    scale, half = _typed(x, -math.sqrt(0.5)), _typed(x, -0.5)
    left = _typed(x, math.sqrt(2.0 / math.pi)) / run(ERFCX, left_x * scale)
    right_side = (_typed(x, math.sqrt(2.0 / math.pi)) * run(EXP, right_x * right_x * half)
                  / run(ERFC, right_x * scale))
    return (g * run(WHERE, right, right_side, left),)


ERFC = _special("erfc", special_kernels.erfc, _erfc_rule)
ERFCX = _special("erfcx", special_kernels.erfcx, _erfcx_rule, saves_output=True)
ERFINV = _special("erfinv", special_kernels.erfinv, _erfinv_rule, flops=150, saves_output=True)
NDTRI = _special("ndtri", special_kernels.ndtri, _ndtri_rule, flops=150, saves_output=True)
LOG_NDTR = _special("log_ndtr", special_kernels.log_ndtr, _log_ndtr_rule)


# --- modified Bessel functions of the first kind ------------------------------------------------------------------


def _safe_inverse(run, x):
    """1 / x where x != 0, else 0 (the caller replaces those elements)."""
    zero = x == _typed(x, 0.0)
    return run(WHERE, zero, _scalar(run, x, 0.0), _typed(x) / run(WHERE, zero, _scalar(run, x, 1.0), x)), zero


def _i0_rule(run, ctx, g):
    return (g * run(I1, ctx.inputs[0]),)


def _i0e_rule(run, ctx, g):
    x = ctx.inputs[0]
    return (g * (run(I1E, x) - run(SIGN, x) * ctx.output),)


def _i1_rule(run, ctx, g):
    x = ctx.inputs[0]
    inverse, zero = _safe_inverse(run, x)  # I1'(x) = I0(x) - I1(x) / x, 1/2 at 0
    slope = run(WHERE, zero, _scalar(run, x, 0.5), run(I0, x) - ctx.output * inverse)
    return (g * slope,)


def _i1e_rule(run, ctx, g):
    x = ctx.inputs[0]
    inverse, zero = _safe_inverse(run, x)  # (e^-|x| I1)' = I0e - I1e (sign(x) + 1 / x), 1/2 at 0
    slope = run(WHERE, zero, _scalar(run, x, 0.5), run(I0E, x) - ctx.output * (run(SIGN, x) + inverse))
    return (g * slope,)


I0 = _special("i0", special_kernels.i0, _i0_rule)
I0E = _special("i0e", special_kernels.i0e, _i0e_rule, saves_output=True)
I1 = _special("i1", special_kernels.i1, _i1_rule, saves_output=True)
I1E = _special("i1e", special_kernels.i1e, _i1e_rule, saves_output=True)


# --- the functions ------------------------------------------------------------------------------------------------


def lgamma(x) -> TensorLike:
    """Elementwise log|Gamma(x)| (+inf at 0 and the negative integers).

    >>> ember.lgamma(ember.tensor([0.5, 3.0]))  # log(sqrt(pi)), log(2)
    """
    return dispatch.apply(LGAMMA, (to_float(x),))


def digamma(x) -> TensorLike:
    """Elementwise digamma, the derivative of ``lgamma`` (-inf at 0, NaN at the negative integers, as
    PyTorch's).

    >>> ember.digamma(ember.tensor([1.0]))  # -0.5772 (minus Euler's constant)
    """
    return dispatch.apply(DIGAMMA, (to_float(x),))


def polygamma(n: int, x) -> TensorLike:
    """Elementwise n-th derivative of digamma (``n`` >= 0; 0 is ``digamma``), PyTorch's argument order.

    >>> ember.polygamma(1, ember.tensor([1.0]))  # pi^2 / 6
    """
    n = as_int("polygamma", n, "n")
    if n < 0:
        raise ValueError(f"polygamma: n must be a non-negative integer, got {n}")
    x = to_float(x)
    if n == 0:
        return dispatch.apply(DIGAMMA, (x,))
    return dispatch.apply(POLYGAMMA, (x,), {"n": n})


def entr(x) -> TensorLike:
    """Elementwise entropy term -x log(x): 0 at 0, -inf for x < 0; its gradient is -(1 + log x) everywhere (inf at
    0, NaN below 0), as PyTorch's.

    >>> ember.special.entr(ember.tensor([0.0, 0.5]))  # 0, 0.3466
    """
    return dispatch.apply(ENTR, (to_float(x),))


def zeta(x, q) -> TensorLike:
    """The Hurwitz zeta function sum_k (q + k)^-x, elementwise with broadcasting (the Riemann zeta at q = 1);
    the gradient is for ``q`` only, as in PyTorch.

    >>> ember.special.zeta(ember.tensor([2.0]), 1.0)  # pi^2 / 6
    """
    x, q = promote(x, q)
    return dispatch.apply(ZETA, (to_float(x), to_float(q)))


def erfc(x) -> TensorLike:
    """Elementwise complementary error function 1 - erf(x), accurate where it is tiny.

    >>> ember.erfc(ember.tensor([0.0, 10.0]))  # 1, 2.09e-45
    """
    return dispatch.apply(ERFC, (to_float(x),))


def erfcx(x) -> TensorLike:
    """Elementwise scaled complementary error function exp(x^2) erfc(x).

    >>> ember.special.erfcx(ember.tensor([100.0]))  # 0.0056416, where erfc underflows
    """
    return dispatch.apply(ERFCX, (to_float(x),))


def erfinv(x) -> TensorLike:
    """Elementwise inverse error function on (-1, 1) (+-inf at +-1, NaN outside).

    >>> ember.erfinv(ember.tensor([0.5]))  # 0.4769
    """
    return dispatch.apply(ERFINV, (to_float(x),))


def ndtri(p) -> TensorLike:
    """Elementwise standard normal quantile: the x with ndtr(x) = p (-+inf at 0 and 1).

    >>> ember.special.ndtri(ember.tensor([0.975]))  # 1.95996
    """
    return dispatch.apply(NDTRI, (to_float(p),))


def log_ndtr(x) -> TensorLike:
    """Elementwise log of the standard normal CDF, finite far in the left tail.

    >>> ember.special.log_ndtr(ember.tensor([-40.0]))  # -804.608
    """
    return dispatch.apply(LOG_NDTR, (to_float(x),))


def i0(x) -> TensorLike:
    """Elementwise modified Bessel function of the first kind, order 0.

    >>> ember.i0(ember.tensor([1.0]))  # 1.26607
    """
    return dispatch.apply(I0, (to_float(x),))


def i0e(x) -> TensorLike:
    """Elementwise exponentially scaled I0: exp(-|x|) I0(x).

    >>> ember.special.i0e(ember.tensor([1000.0]))  # 0.012617
    """
    return dispatch.apply(I0E, (to_float(x),))


def i1(x) -> TensorLike:
    """Elementwise modified Bessel function of the first kind, order 1.

    >>> ember.special.i1(ember.tensor([1.0]))  # 0.565159
    """
    return dispatch.apply(I1, (to_float(x),))


def i1e(x) -> TensorLike:
    """Elementwise exponentially scaled I1: exp(-|x|) I1(x).

    >>> ember.special.i1e(ember.tensor([1000.0]))  # 0.012611
    """
    return dispatch.apply(I1E, (to_float(x),))
