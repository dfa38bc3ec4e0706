"""The regularized incomplete gamma functions, PyTorch's ``igamma`` (P, the lower) and ``igammac`` (Q = 1 - P, the
upper), as primitives computed in float64 on ``xp``.

Below x = a + 1 P sums its power series; from there Q is Legendre's continued fraction (evaluated by Lentz's
method); the other function is one minus it, which loses nothing there (P < 0.7 in the series' region, Q < 0.6 in the
fraction's), except for Q below a = 1/2, where P nears 1: there Q sums its own series. Both converge in about
9 sqrt(a) steps where x is near a, so past a = 1e6 Temme's uniform asymptotic form takes over (its first two terms,
relative error O(a^-3/2)). Elements still converging are iterated alone.
The gradient for x is x^(a - 1) e^-x / Gamma(a) (negated for Q); PyTorch has none for a, and neither does Ember.
"""

from __future__ import annotations

import math

import numpy as np

from ember.backend.dtypes import FLOATING
from ember.ops import dispatch
from ember.ops.convert import promote
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import EXP, LOG, NEG
from ember.ops.infer import binary, elementwise_cost, require_float
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NOT_FUSIBLE, Spec, defop, describe
from ember.ops.shape import unbroadcast_with
from ember.ops.special import LGAMMA, _in_float64
from ember.ops.special_kernels import _BERNOULLI, _lgamma_taylor, erfc, lgamma

_EPS = 1e-16
_TINY = 1e-300
_ASYMPTOTIC_FROM = 1e4  # a past which Temme's form is used for x within 30% of a
_MAX_STEPS = 2000  # 9 sqrt(1e4) steps and a margin; from 30% off a the series and the fraction need under 200


def _series(xp, a, x):
    """sum_n x^n / (a (a + 1) ... (a + n)), to convergence, each element iterated until its own."""
    total = 1.0 / a
    term = total.copy()
    active = xp.arange(a.size)
    for n in range(1, _MAX_STEPS):
        ai, xi = a[active], x[active]
        term[active] *= xi / (ai + n)
        total[active] += term[active]
        active = active[xp.abs(term[active]) > xp.abs(total[active]) * _EPS]
        if active.size == 0:
            break
    return total


def _fraction(xp, a, x):
    """Legendre's continued fraction of Q(a, x) e^x x^-a Gamma(a), by Lentz's method."""
    b = x + 1.0 - a
    c = xp.full(a.shape, 1.0 / _TINY)
    d = 1.0 / b
    h = d.copy()
    active = xp.arange(a.size)
    for i in range(1, _MAX_STEPS):
        ai = a[active]
        coefficient = -i * (i - ai)
        b[active] += 2.0
        di = coefficient * d[active] + b[active]
        di = xp.where(xp.abs(di) < _TINY, _TINY, di)
        ci = b[active] + coefficient / c[active]
        ci = xp.where(xp.abs(ci) < _TINY, _TINY, ci)
        di = 1.0 / di
        delta = di * ci
        d[active], c[active] = di, ci
        h[active] *= delta
        active = active[xp.abs(delta - 1.0) > _EPS]
        if active.size == 0:
            break
    return h


_SMALL_A = 0.5  # below it, and below x = a + 1, Q is its own sum: 1 - P lost Q's digits (Q(1e-10, 1) was 5e-5 off)
_SMALL_A_TERMS = 30  # x^n / n! < 1e-26 at n = 30 for x < 1.5


def _upper_for_small_a(xp, a, x):
    """Q(a, x) for a < 1/2 and x < a + 1, where P is nearly 1: Q = -expm1(a log x - lgamma(1 + a)) -
    a x^a / Gamma(1 + a) sum_n>=1 (-x)^n / (n! (a + n)) (gamma(a, x)'s series less its first term, 1/a), with
    lgamma(1 + a) = lgamma(2 + a) - log1p(a) by its Taylor series, which keeps a's digits."""
    exponent = a * xp.log(x) - (_lgamma_taylor(xp, a) - xp.log1p(a))
    total = xp.zeros(a.shape)
    power = xp.ones(a.shape)
    for n in range(1, _SMALL_A_TERMS + 1):
        power *= -x / n
        total += power / (a + n)
    return -xp.expm1(exponent) - a * xp.exp(exponent) * total


def _log1p_minus(xp, mu):
    """log(1 + mu) - mu without cancellation: its series below |mu| = 0.1."""
    small = xp.abs(mu) < 0.1
    m = xp.where(small, mu, 0.0)
    series = xp.zeros(mu.shape)
    for k in range(18, 1, -1):  # Horner: sum_k>=2 (-1)^(k+1) mu^k / k
        series = (series + (-1.0) ** (k + 1) / k) * m
    series *= m
    return xp.where(small, series, xp.log1p(xp.where(small, 0.0, mu)) - mu)


def _stirling_tail(xp, a):
    """lgamma(a) - ((a - 1/2) log a - a + log(2 pi) / 2) for a >= 10: sum_k B_2k / (2k (2k - 1) a^(2k - 1))."""
    inverse = 1.0 / a
    square = inverse * inverse
    series = xp.zeros(a.shape)
    for k in range(9, -1, -1):
        series = series * square + _BERNOULLI[k] / ((2 * k + 2) * (2 * k + 1))
    return series * inverse


def _log_prefactor(xp, a, x):
    """log(x^a e^-x / Gamma(a)); from a = 10 as a (log(1 + mu) - mu) + log(a / 2 pi) / 2 - the Stirling tail,
    mu = (x - a) / a, free of the cancellation between a log x, x and lgamma(a)."""
    big = a >= 10.0
    ab = xp.where(big, a, 10.0)
    mu = (x - ab) / ab
    # far below a, log(x / a) - mu: 1 + mu rounds away the digits of a tiny x / a (P(20, 1e-10) was 4e-4 off)
    log_term = xp.where(mu < -0.5, xp.log(x / ab) - mu, _log1p_minus(xp, mu))
    stirling = ab * log_term + 0.5 * xp.log(ab / (2.0 * math.pi)) - _stirling_tail(xp, ab)
    return xp.where(big, stirling, a * xp.log(x) - x - lgamma(xp, xp.where(big, 1.0, a)))


def _temme(xp, a, x, *, upper: bool):
    """P or Q for large a near x (Temme's uniform expansion, two terms): Q = erfc(eta sqrt(a / 2)) / 2 + R and
    P = erfc(-eta sqrt(a / 2)) / 2 - R, R = e^(-a eta^2 / 2) / sqrt(2 pi a) (c0 + c1 / a), eta^2 / 2 = mu -
    log(1 + mu), eta of the sign of mu = x / a - 1; c0 = 1 / mu - 1 / eta, c1 = 1 / eta^3 - 1 / mu^3 - 1 / mu^2 -
    1 / (12 mu), by their Taylor series near mu = 0."""
    mu = (x - a) / a
    half_eta_squared = -_log1p_minus(xp, mu)
    eta = xp.sign(mu) * xp.sqrt(2.0 * xp.maximum(half_eta_squared, 0.0))
    near = xp.abs(mu) < 1e-3
    m, e = xp.where(near, 1.0, mu), xp.where(near, 1.0, eta)
    c0 = xp.where(near, -1.0 / 3.0 + mu / 12.0 - 23.0 * mu * mu / 540.0, 1.0 / m - 1.0 / e)
    c1 = xp.where(near, -1.0 / 540.0 - mu / 288.0, 1.0 / e ** 3 - 1.0 / m ** 3 - 1.0 / m ** 2 - 1.0 / (12.0 * m))
    rest = xp.exp(-a * half_eta_squared) / xp.sqrt(2.0 * math.pi * a) * (c0 + c1 / a)
    z = eta * xp.sqrt(a / 2.0)
    return 0.5 * erfc(xp, z) + rest if upper else 0.5 * erfc(xp, -z) - rest


def regularized_gamma(xp, a, x, *, upper: bool):
    """P(a, x) (``upper=False``) or Q(a, x) elementwise, float64; NaN for a < 0, x < 0, a = x = 0, a = x = inf."""
    a, x = xp.broadcast_arrays(xp.asarray(a, dtype=np.float64), xp.asarray(x, dtype=np.float64))
    a, x = a.reshape(-1), x.reshape(-1)
    lower = xp.full(a.shape, np.nan)
    with np.errstate(all="ignore"):
        valid = (a >= 0) & (x >= 0) & ~((a == 0) & (x == 0)) & ~(xp.isinf(a) & xp.isinf(x))
        lower[valid & ((a == 0) | xp.isinf(x))] = 1.0
        lower[valid & ((x == 0) | xp.isinf(a))] = 0.0
        rest = valid & (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
        large = rest & (a > _ASYMPTOTIC_FROM) & (xp.abs(x - a) < 0.3 * a)
        by_series = rest & ~large & (x < a + 1.0)
        by_fraction = rest & ~large & ~(x < a + 1.0)
        if bool(by_series.any()):
            ai, xi = a[by_series], x[by_series]
            lower[by_series] = xp.exp(_log_prefactor(xp, ai, xi)) * _series(xp, ai, xi)
        result = 1.0 - lower if upper else lower
        small_a = by_series & (a < _SMALL_A)
        if upper and bool(small_a.any()):
            result[small_a] = _upper_for_small_a(xp, a[small_a], x[small_a])
        if bool(by_fraction.any()):  # Q, the small one here
            ai, xi = a[by_fraction], x[by_fraction]
            q = xp.exp(_log_prefactor(xp, ai, xi)) * _fraction(xp, ai, xi)
            result[by_fraction] = q if upper else 1.0 - q
        if bool(large.any()):
            result[large] = _temme(xp, a[large], x[large], upper=upper)
        return result


def _density(run, a, x):
    """d/dx P(a, x) = exp((a - 1) log x - x - lgamma(a)), PyTorch's formula."""
    one = a.dtype.type(1.0)
    return run(EXP, (a - one) * run(LOG, x) - x - run(LGAMMA, a))


def _rule(name: str, sign: float):
    def rule(run, ctx, g):
        a, x = ctx.inputs
        if ctx.needs[0]:
            raise NotImplementedError(f"{name}: the gradient for a (the first input) is not implemented, as "
                                      "in PyTorch; detach a or differentiate for x only")
        gx = g * _density(run, a, x)
        return None, unbroadcast_with(run, run(NEG, gx) if sign < 0 else gx, x.shape)

    return rule


def _forward(upper: bool):
    def kernel(xp, a, x):
        shape = np.broadcast_shapes(a.shape, x.shape)
        return regularized_gamma(xp, a, x, upper=upper).reshape(shape)

    kernel.__name__ = "igammac" if upper else "igamma"
    return _in_float64(kernel)


def _infer(name):
    broadcast = binary(name)

    def infer(a: Spec, x: Spec, **attrs) -> Spec:
        require_float(name, [a, x])
        return broadcast(a, x)

    return infer


IGAMMA = defop("igamma", forward=_forward(False), infer=_infer("igamma"), vjp=vjp_rule(_rule("igamma", 1.0)),
               cost=elementwise_cost(200), onnx=NO_ONNX, elementwise=True, fusion=NOT_FUSIBLE)
IGAMMAC = defop("igammac", forward=_forward(True), infer=_infer("igammac"), vjp=vjp_rule(_rule("igammac", -1.0)),
                cost=elementwise_cost(200), onnx=NO_ONNX, elementwise=True, fusion=NOT_FUSIBLE)


def _floats(name: str, a, x) -> tuple:
    a, x = promote(a, x)
    if a.dtype not in FLOATING:
        raise TypeError(f"{name}: needs floating-point inputs, got {describe([Spec(a.shape, a.dtype)])} and "
                        f"{describe([Spec(x.shape, x.dtype)])}")
    return a, x


def igamma(a, x) -> TensorLike:
    """The regularized lower incomplete gamma function P(a, x) = gamma(a, x) / Gamma(a), elementwise with
    broadcasting (float inputs; a gradient for x only, as in PyTorch).

    >>> ember.igamma(ember.tensor([1.0]), ember.tensor([1.0]))  # 1 - 1/e
    """
    return dispatch.apply(IGAMMA, _floats("igamma", a, x))


def igammac(a, x) -> TensorLike:
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x), accurate where it is tiny.

    >>> ember.igammac(ember.tensor([1.0]), ember.tensor([1.0]))  # 1/e
    """
    return dispatch.apply(IGAMMAC, _floats("igammac", a, x))
