"""The gamma family of special functions: ``lgamma``, ``digamma`` and ``polygamma``, each differentiated by the
next (``polygamma(n + 1, x)`` is the derivative of ``polygamma(n, x)``), so gradients of every order stay inside
the set; and ``standard_gamma_grad``, a Gamma sample's derivative in its concentration (what Gamma sampling needs
for implicit reparameterization). They compute in float64 (exact to float64's rounding) and return the input's
dtype."""

from __future__ import annotations

import math
import operator

import numpy as _np

from ember.ops import dispatch
from ember.ops.convert import promote, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.infer import binary, elementwise_cost, require_float, unary_float
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, NOT_FUSIBLE, defop


def _lgamma_one(v: float) -> float:
    try:
        return math.lgamma(v)
    except ValueError:  # a pole: 0 or a negative integer
        return math.inf


_lgamma_vectorized = _np.vectorize(_lgamma_one, otypes=[_np.float64])


def _lgamma_forward(xp, x):
    if xp is not _np:
        from cupyx.scipy.special import gammaln

        return gammaln(x)
    return _np.asarray(_lgamma_vectorized(x)).astype(x.dtype)


# Bernoulli numbers B_2, B_4, ..., B_14 (the Euler-Maclaurin corrections of the Hurwitz zeta function)
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)
_SHIFT_TO = 20.0  # the asymptotic series is used from here on: its first dropped term is below 1e-20
_FARTHEST = -1e4  # polygamma(n >= 1) sums 1/(x + k)^(n+1) up to x + k >= 20: NaN below this many terms


def _digamma(xp, x):
    """psi(x) in float64: psi(x) = psi(x + m) - sum 1/(x + k), then the asymptotic series; reflection below 0."""
    negative = x < 0
    reflected = xp.where(negative, 1.0 - x, x)
    acc = xp.zeros_like(x)
    y = reflected.copy()
    while True:
        low = y < _SHIFT_TO
        if not bool(low.any()):
            break
        acc = acc - xp.where(low, 1.0 / xp.where(low, y, 1.0), 0.0)
        y = xp.where(low, y + 1.0, y)
    inv2 = 1.0 / (y * y)
    series = xp.zeros_like(x)
    for j in reversed(range(len(_BERNOULLI))):
        series = (series + _BERNOULLI[j] / (2 * (j + 1))) * inv2
    result = acc + xp.log(y) - 0.5 / y - series
    result = xp.where(negative, result - math.pi / xp.tan(math.pi * x), result)
    pole = (x <= 0) & (x == xp.floor(x))
    zero = x == 0
    result = xp.where(pole, xp.nan, result)
    result = xp.where(zero, xp.where(xp.signbit(x), xp.inf, -xp.inf), result)
    return xp.where(x == xp.inf, xp.inf, result)


def _polygamma_positive(xp, n: int, x):
    """psi^(n)(x) for n >= 1 in float64: (-1)^(n+1) n! zeta(n + 1, x), the Hurwitz zeta function summed up to
    x + m >= 20 and continued by its Euler-Maclaurin series. Poles (0 and the negative integers) give inf,
    x below -10^4 NaN."""
    s = n + 1
    acc = xp.zeros_like(x)
    far = ~(x >= _FARTHEST)  # NaN, -inf and what lies too far below 0 to sum up to 20
    y = xp.where(far, _SHIFT_TO, x)
    while True:
        low = y < _SHIFT_TO
        if not bool(low.any()):
            break
        acc = acc + xp.where(low, xp.where(low, y, 1.0) ** -s, 0.0)
        y = xp.where(low, y + 1.0, y)
    tail = y ** (1 - s) / (s - 1) + 0.5 * y ** -s
    rising = float(s)  # s (s + 1) ... (s + 2j - 2)
    factorial = 2.0  # (2j)!
    for j, b in enumerate(_BERNOULLI, start=1):
        tail = tail + b / factorial * rising * y ** (-s - 2 * j + 1)
        rising *= (s + 2 * j - 1) * (s + 2 * j)
        factorial *= (2 * j + 1) * (2 * j + 2)
    scale = math.factorial(n) if n <= 170 else math.inf  # n! overflows float64 beyond 170
    result = (-1.0) ** (n + 1) * scale * (acc + tail)
    pole = (x <= 0) & (x == xp.floor(x))
    result = xp.where(pole, xp.inf if n % 2 else -xp.inf, result)
    result = xp.where(far, xp.nan, result)
    return xp.where(x == xp.inf, 0.0, result)


def _polygamma_forward(xp, x, *, n: int):
    if xp is not _np:
        from cupyx.scipy.special import digamma as cuda_digamma
        from cupyx.scipy.special import polygamma as cuda_polygamma

        return cuda_digamma(x) if n == 0 else cuda_polygamma(n, x)
    work = x.astype(_np.float64)
    with _np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        result = _digamma(_np, work) if n == 0 else _polygamma_positive(_np, n, work)
    return _np.asarray(result).astype(x.dtype)


def _lgamma_rule(run, ctx, g):
    return (g * run(POLYGAMMA, ctx.inputs[0], n=0),)


def _polygamma_rule(run, ctx, g):
    return (g * run(POLYGAMMA, ctx.inputs[0], n=ctx.attrs["n"] + 1),)


def _polygamma_infer(x, *, n: int):
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"polygamma: n must be a non-negative integer, got {n!r} (input {x.dtype}{list(x.shape)})")
    return unary_float("polygamma")(x)


def _polygamma_cost(out, x, *, n: int):
    return elementwise_cost(60 + 10 * n)(out, x)


LGAMMA = defop("lgamma", forward=_lgamma_forward, infer=unary_float("lgamma"), vjp=vjp_rule(_lgamma_rule),
               cost=elementwise_cost(60), onnx=NO_ONNX, elementwise=True, fusion=NOT_FUSIBLE)
POLYGAMMA = defop("polygamma", forward=_polygamma_forward, infer=_polygamma_infer,
                  vjp=vjp_rule(_polygamma_rule), cost=_polygamma_cost, onnx=NO_ONNX, elementwise=True,
                  fusion=NOT_FUSIBLE)


def lgamma(x) -> TensorLike:
    """Elementwise log |Gamma(x)| (inf at the poles), as ``torch.lgamma``.

    >>> ember.lgamma(ember.tensor([0.5, 5.0]))   # [log(sqrt(pi)), log(24)]
    """
    return dispatch.apply(LGAMMA, (to_float(x),))


def digamma(x) -> TensorLike:
    """Elementwise psi(x), the derivative of ``lgamma``, as ``torch.digamma`` (-inf at 0, NaN at the negative
    integers).

    >>> ember.digamma(ember.tensor([1.0]))   # [-0.5772157], minus the Euler-Mascheroni constant
    """
    return dispatch.apply(POLYGAMMA, (to_float(x),), {"n": 0})


def polygamma(n: int, x) -> TensorLike:
    """Elementwise n-th derivative of ``digamma`` (``n = 0`` is ``digamma`` itself), as ``torch.polygamma``.

    >>> ember.polygamma(1, ember.tensor([1.0]))   # [pi^2 / 6]
    """
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"polygamma: n must be a non-negative integer, got {n}")
    return dispatch.apply(POLYGAMMA, (to_float(x),), {"n": n})


# --- the implicit reparameterization gradient of a Gamma sample -------------------------------------------


def _standard_gamma_grad_forward(xp, alpha, x):
    """dx/dalpha of x ~ Gamma(alpha, 1) held at its CDF: -(dP(alpha, x)/dalpha) / p(x; alpha), with the
    regularized incomplete gamma P(alpha, x) = sum_k x^(alpha + k) e^-x / Gamma(alpha + k + 1) differentiated term by
    term (d/dalpha of a term is the term times log x - psi(alpha + k + 1)), in float64."""
    a = xp.broadcast_to(alpha, xp.broadcast_shapes(alpha.shape, x.shape)).astype(_np.float64)
    v = xp.broadcast_to(x, a.shape).astype(_np.float64)
    with _np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        log_v = xp.log(v)
        lgamma_a = _lgamma_forward(xp, a)
        term = xp.exp(a * log_v - v - lgamma_a - xp.log(a))  # k = 0: x^a e^-x / Gamma(a + 1)
        slope = log_v - (_digamma(xp, a) + 1.0 / a)  # log x - psi(a + 1)
        total = term.copy()
        dtotal = term * slope
        k = 1
        while k < 100_000:
            term = term * v / (a + k)
            slope = slope - 1.0 / (a + k)
            total = total + term
            dtotal = dtotal + term * slope
            if not bool((term > 1e-17 * total).any()):
                break
            k += 1
        density = xp.exp((a - 1.0) * log_v - v - lgamma_a)
        grad = -dtotal / density
    return xp.where(v > 0, grad, 0.0).astype(x.dtype)


def _standard_gamma_grad_infer(alpha, x, **attrs):
    require_float("standard_gamma_grad", [alpha, x])
    return binary("standard_gamma_grad")(alpha, x)


STANDARD_GAMMA_GRAD = defop("standard_gamma_grad", forward=_standard_gamma_grad_forward,
                            infer=_standard_gamma_grad_infer, vjp=NON_DIFFERENTIABLE, cost=elementwise_cost(400),
                            onnx=NO_ONNX)


def standard_gamma_grad(alpha, x) -> TensorLike:
    """The derivative of a Gamma(alpha, 1) sample ``x`` with respect to ``alpha`` at a fixed CDF value (implicit
    reparameterization), as ``torch._standard_gamma_grad``; no gradient of its own."""
    alpha, x = promote(to_float(alpha), to_float(x))
    return dispatch.apply(STANDARD_GAMMA_GRAD, (alpha, x))
