"""The regularized incomplete beta function I_x(a, b) (``betainc``: SciPy's ``scipy.special.betainc``, TF-1's
``tf.math.betainc``), a primitive computed in float64 on ``xp``.

Below x = (a + 1) / (a + b + 2) it is x^a (1 - x)^b / (a B(a, b)) times the classic continued fraction, evaluated
by Lentz's method; above, the symmetry I_x(a, b) = 1 - I_(1-x)(b, a) puts x there. The fraction converges in
about sqrt(max(a, b)) steps; elements still converging are iterated alone. The gradient for x is the Beta density
x^(a - 1) (1 - x)^(b - 1) / B(a, b); there is none for a and b (TF-1 has none either).
"""

from __future__ import annotations

import math

import numpy as np

from ember.backend.dtypes import FLOATING
from ember.ops import dispatch
from ember.ops.convert import promote
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import EXP, LOG, LOG1P, NEG
from ember.ops.infer import binary, elementwise_cost, require_float
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NOT_FUSIBLE, Spec, defop, describe
from ember.ops.shape import unbroadcast_with
from ember.ops.special import LGAMMA, _in_float64
from ember.ops.special_kernels import lgamma

_TINY = 1e-300
_LOG_2PI = math.log(2.0 * math.pi)
_MAX_STEPS = 100_000


def _fraction(xp, a, b, x):
    """The continued fraction 1 / (1 + d1 / (1 + d2 / ...)) of I_x(a, b) (Lentz), elementwise on 1-D arrays."""
    f = xp.ones_like(x)
    c = xp.ones_like(x)
    d = xp.zeros_like(x)
    active = xp.arange(x.shape[0])
    m = 0
    while active.size and m < _MAX_STEPS:
        aa, bb, xx = a[active], b[active], x[active]
        fa, ca, da = f[active], c[active], d[active]
        steps = []
        if m == 0:
            steps.append(-(aa + bb) * xx / (aa + 1.0))  # d1
        else:
            steps.append(m * (bb - m) * xx / ((aa + 2 * m - 1.0) * (aa + 2 * m)))  # d_2m
            steps.append(-(aa + m) * (aa + bb + m) * xx / ((aa + 2 * m) * (aa + 2 * m + 1.0)))  # d_2m+1
        delta = xp.ones_like(xx)
        for step in steps:
            da = 1.0 + step * da
            da = xp.where(xp.abs(da) < _TINY, _TINY, da)
            ca = 1.0 + step / ca
            ca = xp.where(xp.abs(ca) < _TINY, _TINY, ca)
            da = 1.0 / da
            delta = ca * da
            fa = fa * delta
        f[active], c[active], d[active] = fa, ca, da
        active = active[xp.abs(delta - 1.0) > 1e-16]
        m += 1
    return 1.0 / f


def _stirling_correction(xp, z):
    """lgamma(z) - ((z - 1/2) log z - z + log(2 pi) / 2): its asymptotic series from z = 10, else by lgamma."""
    big = xp.maximum(z, 10.0)
    w = 1.0 / (big * big)
    series = (1.0 / 12.0 - w * (1.0 / 360.0 - w * (1.0 / 1260.0 - w / 1680.0))) / big
    small = xp.minimum(z, 10.0)
    direct = lgamma(xp, small) - ((small - 0.5) * xp.log(small) - small + 0.5 * _LOG_2PI)
    return xp.where(z >= 10.0, series, direct)


def _log_front(xp, p, q, y):
    """log(y^p (1 - y)^q / (p B(p, q))), with log B by Stirling's form and its corrections, so that large p and q
    lose nothing to lgamma's cancellation (lgamma(1e8) holds 2e9 to 16 digits): p log(y (p + q) / p) and
    q log((1 - y) (p + q) / q) are log1p's of t / p and -t / q, t = y q - (1 - y) p."""
    t = y * q - (1.0 - y) * p
    return (p * xp.log1p(t / p) + q * xp.log1p(-t / q) + 0.5 * xp.log(p * q / (p + q)) - 0.5 * _LOG_2PI
            - _stirling_correction(xp, p) - _stirling_correction(xp, q) + _stirling_correction(xp, p + q) - xp.log(p))


def regularized_beta(xp, a, b, x):
    """I_x(a, b) elementwise, float64, with SciPy's values at the edges: NaN for a or b negative or NaN, a = b = 0,
    both infinite, or x outside [0, 1]; 0 at x = 0 and 1 at x = 1; 1 for a = 0 (x > 0) and 0 for b = 0 (x < 1)."""
    a, b, x = (v.reshape(-1) for v in xp.broadcast_arrays(*(xp.asarray(v, dtype=np.float64) for v in (a, b, x))))
    out = xp.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        valid = (a >= 0) & (b >= 0) & (x >= 0) & (x <= 1) & ~((a == 0) & (b == 0)) & ~(xp.isinf(a) & xp.isinf(b))
        out[valid & ((a == 0) | xp.isinf(b))] = 1.0
        out[valid & ((b == 0) | xp.isinf(a))] = 0.0
        out[valid & (x == 0)] = 0.0
        out[valid & (x == 1)] = 1.0
        rest = valid & (a > 0) & (b > 0) & xp.isfinite(a) & xp.isfinite(b) & (x > 0) & (x < 1)
        if bool(rest.any()):
            ar, br, xr = a[rest], b[rest], x[rest]
            flip = xr > (ar + 1.0) / (ar + br + 2.0)
            p, q, y = xp.where(flip, br, ar), xp.where(flip, ar, br), xp.where(flip, 1.0 - xr, xr)
            part = xp.exp(_log_front(xp, p, q, y)) * _fraction(xp, p, q, y)
            out[rest] = xp.where(flip, 1.0 - part, part)
    return out


def _betainc_kernel(xp, a, b, x):
    shape = np.broadcast_shapes(a.shape, b.shape, x.shape)
    return regularized_beta(xp, a, b, x).reshape(shape)


def _betainc_infer(a: Spec, b: Spec, x: Spec, **attrs) -> Spec:
    require_float("betainc", [a, b, x])
    broadcast = binary("betainc")
    return broadcast(broadcast(a, b), x)


def _betainc_rule(run, ctx, g):
    a, b, x = ctx.inputs
    if ctx.needs[0] or ctx.needs[1]:
        raise NotImplementedError("betainc: the gradient for a and b is not implemented (TF-1 has none either); "
                                  "detach them or differentiate for x only")
    one = x.dtype.type(1.0)
    log_density = ((a - one) * run(LOG, x) + (b - one) * run(LOG1P, run(NEG, x)) - run(LGAMMA, a) - run(LGAMMA, b)
                   + run(LGAMMA, a + b))
    return None, None, unbroadcast_with(run, g * run(EXP, log_density), x.shape)


BETAINC = defop("betainc", forward=_in_float64(_betainc_kernel), infer=_betainc_infer, vjp=vjp_rule(_betainc_rule),
                cost=elementwise_cost(400), onnx=NO_ONNX, elementwise=True, fusion=NOT_FUSIBLE)


def betainc(a, b, x) -> TensorLike:
    """The regularized incomplete beta function I_x(a, b), elementwise with broadcasting, as
    ``scipy.special.betainc`` (float inputs; a gradient for x only).

    >>> ember.special.betainc(ember.tensor([2.0]), ember.tensor([3.0]), ember.tensor([0.4]))  # 0.5248
    """
    a, b = promote(a, b)
    a, x = promote(a, x)
    b, x = promote(b, x)
    if a.dtype not in FLOATING:
        raise TypeError(f"betainc: needs floating-point inputs, got "
                        f"{describe([Spec(t.shape, t.dtype) for t in (a, b, x)])}")
    return dispatch.apply(BETAINC, (a, b, x))
