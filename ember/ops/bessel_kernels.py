"""Bessel functions of the first and second kind (J0, J1, Y0, Y1), the modified ones of the second kind (K0, K1
and their scaled forms), the spherical j0 and the Airy function Ai, on an array module ``xp`` (NumPy or CuPy) in
float64, with no SciPy.

Each range of x has its own method, evaluated on its own elements (boolean indexing):

- small x: the power series (Abramowitz and Stegun 9.1.10-13 and 9.6.10-13, 10.4.2-3), whose terms do not cancel
  there;
- J and Y for 1 <= x <= 25: Miller's backward recurrence J_(k-1) = (2k / x) J_k - J_(k+1) from order 80, scaled by
  the sum 1 = J0 + 2 (J2 + J4 + ...) (A&S 9.1.87); Y0 and Y1 from the same values through Neumann's series (A&S
  9.1.88 and its derivative); the fractional orders +-1/3 of Ai for negative x the same way;
- K for 2 <= x <= 20: the trapezoidal rule on K_nu(x) = int_0^inf exp(-x cosh t) cosh(nu t) dt (A&S 9.6.24), which
  converges geometrically for such an integrand (step 0.1: within 2e-16);
- large x: Hankel's asymptotic series (A&S 9.2.5-10 and 9.7.2), whose smallest term is near e^-2x.

Away from the zeros of a function the results are within a few units in the last place of float64; near a zero of
J or Y the error is a few units of float64 absolute, and for x past about 1e8 the phase of the oscillation is
only as good as x's own rounding allows. At +-inf each function is its limit, 0 (PyTorch gives NaN for J, Y and Ai
there, as for I0 and I1).
"""

from __future__ import annotations

import math

import numpy as np

_EULER_GAMMA = 0.57721566490153286061
_SERIES_TERMS = 30  # enough for (x/2)^2 <= 1 (J, Y) and <= 1 (K at x <= 2): the last term is below 1e-64
_MILLER_START = 80  # J_80(25)^2 is below 1e-40: the recurrence's start is forgotten within float64
_MILLER_FROM, _HANKEL_FROM = 1.0, 25.0
_K_SERIES_TO, _K_ASYMPTOTIC_FROM = 2.0, 20.0
_TRAPEZOID_STEP = 0.1
_TRAPEZOID_NODES = np.arange(0.0, 6.0, _TRAPEZOID_STEP)  # x (cosh 6 - 1) >= 100 for x >= 1/2
_TRAPEZOID_CUT = 45.0
_ASYMPTOTIC_TERMS = 40
_TWO_OVER_PI = 2.0 / math.pi
_LOG_GAMMA_OVER_TWO = _EULER_GAMMA - math.log(2.0)  # log(x / 2) + gamma = log(x) + this


def _quiet():
    return np.errstate(all="ignore")


def _by_range(xp, x, ranges, default=np.nan):
    """An array of x's shape: ``fn(x[mask])`` on each ``(mask, fn)`` of ``ranges``, ``default`` elsewhere."""
    out = xp.full(x.shape, default, dtype=np.float64)
    for mask, fn in ranges:
        if bool(mask.any()):
            out[mask] = fn(x[mask])
    return out


def _harmonic(k: int) -> float:
    return math.fsum(1.0 / j for j in range(1, k + 1))


# --- J0, J1, Y0, Y1 -------------------------------------------------------------------------------------------


def _series_jy(xp, x, order: int, second: bool):
    """J_order(x) or Y_order(x) for 0 < x <= 1 by their power series (A&S 9.1.10, 9.1.11, 9.1.13)."""
    t = -0.25 * x * x
    term = xp.ones(x.shape, np.float64)  # t^k / (k! (k + order)!)
    j_sum, h_sum = term, xp.zeros(x.shape, np.float64)
    for k in range(1, _SERIES_TERMS):
        term = term * t / (k * (k + order))
        j_sum = j_sum + term
        h_sum = h_sum + term * (_harmonic(k) + _harmonic(k + order) if order else _harmonic(k))
    log_part = xp.log(x) + _LOG_GAMMA_OVER_TWO  # not log(x / 2): x / 2 may underflow
    if order == 0:
        j = j_sum
        return _TWO_OVER_PI * (log_part * j - h_sum) if second else j
    j = 0.5 * x * j_sum
    if not second:
        return j
    return -_TWO_OVER_PI / x + _TWO_OVER_PI * log_part * j - (x / (2.0 * math.pi)) * (h_sum + 1.0)


def _miller_jy(xp, x, order: int, second: bool):
    """J or Y of order 0 or 1 for 1 <= x <= 25 by Miller's recurrence and Neumann's series."""
    above = xp.zeros(x.shape, np.float64)
    current = xp.full(x.shape, 1e-30, dtype=np.float64)
    norm = xp.zeros(x.shape, np.float64)  # J0 + 2 (J2 + J4 + ...), unscaled
    neumann0 = xp.zeros(x.shape, np.float64)  # sum_k (-1)^k J_2k / k (Y0)
    neumann1 = xp.zeros(x.shape, np.float64)  # sum_k (-1)^k (J_(2k-1) - J_(2k+1)) / k (Y1)
    j1 = None
    for k in range(_MILLER_START, 0, -1):  # current is J_k, above J_(k+1)
        if k % 2 == 0:
            norm = norm + 2.0 * current
            neumann0 = neumann0 + (-1.0) ** (k // 2) * current / (k // 2)
        elif k > 1:  # J_k enters the terms of (k - 1) / 2 (as J_(2m+1)) and (k + 1) / 2 (as J_(2m-1))
            neumann1 = neumann1 + current * ((-1.0) ** ((k + 1) // 2) / ((k + 1) // 2)
                                             - (-1.0) ** ((k - 1) // 2) / ((k - 1) // 2))
        else:
            neumann1 = neumann1 - current  # m = 1: (-1)^1 J_1 / 1
            j1 = current
        above, current = current, (2.0 * k / x) * current - above
    norm = norm + current
    j0, j1 = current / norm, j1 / norm
    if not second:
        return j1 if order else j0
    log_part = xp.log(x) + _LOG_GAMMA_OVER_TWO  # not log(x / 2): x / 2 may underflow
    if order == 0:
        return _TWO_OVER_PI * (log_part * j0 - 2.0 * neumann0 / norm)
    return _TWO_OVER_PI * (log_part * j1 - j0 / x + neumann1 / norm)


def _hankel_pq(xp, x, nu: float):
    """Hankel's P(nu, x) and Q(nu, x) (A&S 9.2.9-10) for x >= 25 (x >= 20 for nu = +-1/3 scaled by 3/2)."""
    mu = 4.0 * nu * nu
    term = xp.ones(x.shape, np.float64)
    p, q = term, xp.zeros(x.shape, np.float64)
    for k in range(1, _ASYMPTOTIC_TERMS):
        term = term * ((mu - (2 * k - 1) ** 2) / (8.0 * k)) / x
        sign = 1.0 if k % 4 in (0, 1) else -1.0
        if k % 2:
            q = q + sign * term
        else:
            p = p + sign * term
    return p, q


def _hankel_jy(xp, x, nu: float, second: bool):
    """J_nu(x) or Y_nu(x) for large x: sqrt(2 / (pi x)) (P cos chi - Q sin chi), chi = x - (nu / 2 + 1/4) pi."""
    p, q = _hankel_pq(xp, x, nu)
    shift = (0.5 * nu + 0.25) * math.pi
    # cos and sin of x - shift from those of x: subtracting from a large x would round away the phase
    cos_x, sin_x = xp.cos(x), xp.sin(x)
    cos_chi = cos_x * math.cos(shift) + sin_x * math.sin(shift)
    sin_chi = sin_x * math.cos(shift) - cos_x * math.sin(shift)
    amplitude = xp.sqrt(_TWO_OVER_PI / x)
    if second:
        return amplitude * (p * sin_chi + q * cos_chi)
    return amplitude * (p * cos_chi - q * sin_chi)


def _jy(xp, x, order: int, second: bool):
    x = xp.asarray(x, dtype=np.float64)
    with _quiet():
        a = xp.abs(x)
        value = _by_range(xp, a, [
            ((a > 0) & (a < _MILLER_FROM), lambda v: _series_jy(xp, v, order, second)),
            ((a >= _MILLER_FROM) & (a <= _HANKEL_FROM), lambda v: _miller_jy(xp, v, order, second)),
            ((a > _HANKEL_FROM) & (a < xp.inf), lambda v: _hankel_jy(xp, v, float(order), second)),
        ])
        value = xp.where(a == xp.inf, 0.0, value)
        if second:
            value = xp.where(x == 0, -xp.inf, value)
            return xp.where(x < 0, xp.nan, value)
        value = xp.where(x == 0, 0.0 if order else 1.0, value)
        if order:
            value = xp.where(xp.signbit(x), -value, value)  # odd, -0 included
        return xp.where(xp.isnan(x), x, value)


def bessel_j0(xp, x):
    """The Bessel function of the first kind, order 0 (even)."""
    return _jy(xp, x, 0, second=False)


def bessel_j1(xp, x):
    """The Bessel function of the first kind, order 1 (odd)."""
    return _jy(xp, x, 1, second=False)


def bessel_y0(xp, x):
    """The Bessel function of the second kind, order 0: -inf at 0, NaN for x < 0."""
    return _jy(xp, x, 0, second=True)


def bessel_y1(xp, x):
    """The Bessel function of the second kind, order 1: -inf at 0, NaN for x < 0."""
    return _jy(xp, x, 1, second=True)


# --- K0, K1 -----------------------------------------------------------------------------------------------------


def _series_k(xp, x, order: int):
    """K_order(x) for 0 < x <= 2 by the power series (A&S 9.6.13 and 9.6.11 with n = 1)."""
    t = 0.25 * x * x
    term = xp.ones(x.shape, np.float64)  # t^k / (k! (k + order)!)
    i_sum, h_sum = term, xp.zeros(x.shape, np.float64)
    for k in range(1, _SERIES_TERMS):
        term = term * t / (k * (k + order))
        i_sum = i_sum + term
        h_sum = h_sum + term * (_harmonic(k) + _harmonic(k + order) if order else _harmonic(k))
    log_part = xp.log(x) + _LOG_GAMMA_OVER_TWO  # not log(x / 2): x / 2 may underflow
    if order == 0:
        return h_sum - log_part * i_sum
    return 1.0 / x + log_part * (0.5 * x * i_sum) - 0.25 * x * (h_sum + 1.0)


def _trapezoid_k_scaled(xp, x, nu: float):
    """e^x K_nu(x) for x >= 1/2: the trapezoidal rule on int_0^inf exp(-x (cosh t - 1)) cosh(nu t) dt, over the
    nodes where the integrand of the smallest x is above e^-45 (the rest adds below 1e-19 of the result)."""
    last = math.acosh(1.0 + _TRAPEZOID_CUT / float(x.min()))
    nodes = xp.asarray(_TRAPEZOID_NODES[_TRAPEZOID_NODES <= last + _TRAPEZOID_STEP])
    weights = xp.cosh(nu * nodes) * _TRAPEZOID_STEP
    weights[0] *= 0.5
    return xp.exp(-x[..., None] * (xp.cosh(nodes) - 1.0)) @ weights


def _asymptotic_k_scaled(xp, x, nu: float):
    """e^x K_nu(x) for x >= 20: sqrt(pi / 2x) sum_k a_k(nu) / x^k (A&S 9.7.2)."""
    mu = 4.0 * nu * nu
    term = xp.ones(x.shape, np.float64)
    total = term
    for k in range(1, _ASYMPTOTIC_TERMS):
        term = term * ((mu - (2 * k - 1) ** 2) / (8.0 * k)) / x
        total = total + term
    return total * xp.sqrt(0.5 * math.pi / x)


def _k(xp, x, order: int, scaled: bool):
    x = xp.asarray(x, dtype=np.float64)
    with _quiet():
        series = (lambda v: _series_k(xp, v, order) * xp.exp(v)) if scaled else (lambda v: _series_k(xp, v, order))

        def larger(method):
            if scaled:
                return lambda v: method(xp, v, float(order))
            return lambda v: method(xp, v, float(order)) * xp.exp(-v)

        value = _by_range(xp, x, [
            ((x > 0) & (x <= _K_SERIES_TO), series),
            ((x > _K_SERIES_TO) & (x <= _K_ASYMPTOTIC_FROM), larger(_trapezoid_k_scaled)),
            ((x > _K_ASYMPTOTIC_FROM) & (x < xp.inf), larger(_asymptotic_k_scaled)),
        ])
        value = xp.where(x == 0, xp.inf, value)
        value = xp.where(x == xp.inf, 0.0, value)
        return xp.where(xp.isnan(x), x, value)


def modified_bessel_k0(xp, x):
    """The modified Bessel function of the second kind, order 0: inf at 0, NaN for x < 0."""
    return _k(xp, x, 0, scaled=False)


def modified_bessel_k1(xp, x):
    """The modified Bessel function of the second kind, order 1: inf at 0, NaN for x < 0."""
    return _k(xp, x, 1, scaled=False)


def scaled_modified_bessel_k0(xp, x):
    """e^x K0(x)."""
    return _k(xp, x, 0, scaled=True)


def scaled_modified_bessel_k1(xp, x):
    """e^x K1(x)."""
    return _k(xp, x, 1, scaled=True)


# --- spherical j0 and Airy Ai -----------------------------------------------------------------------------------


def spherical_bessel_j0(xp, x):
    """sin(x) / x, 1 at 0 and 0 at +-inf."""
    x = xp.asarray(x, dtype=np.float64)
    with _quiet():
        value = xp.where(x == 0, 1.0, xp.sin(x) / xp.where(x == 0, 1.0, x))
        return xp.where(xp.isinf(x), 0.0, value)


_AI0 = 1.0 / (3.0 ** (2.0 / 3.0) * math.gamma(2.0 / 3.0))  # Ai(0)
_AIP0 = 1.0 / (3.0 ** (1.0 / 3.0) * math.gamma(1.0 / 3.0))  # -Ai'(0)
_AIRY_SERIES_FROM, _AIRY_SERIES_TO = -2.0, 1.0
_AIRY_MILLER_TO = 25.0  # zeta = 2/3 |x|^3/2 past this: Hankel's series
_AIRY_K_ASYMPTOTIC_FROM = 20.0  # zeta past this: the asymptotic series of K_1/3


def _airy_series(xp, x):
    """Ai(x) = Ai(0) f(x) + Ai'(0) g(x) (A&S 10.4.2-3) for -2 <= x <= 1."""
    cube = x * x * x
    f_term, g_term = xp.ones(x.shape, np.float64), x
    f, g = f_term, g_term
    for k in range(1, _SERIES_TERMS):
        f_term = f_term * cube / ((3 * k - 1) * (3 * k))
        g_term = g_term * cube / ((3 * k) * (3 * k + 1))
        f, g = f + f_term, g + g_term
    return _AI0 * f - _AIP0 * g


def _miller_fractional(xp, z, nu: float):
    """J_nu(z) for -1 < nu < 1 and 1 <= z <= 25: Miller's recurrence over nu + k, scaled by the sum
    sum_k (nu + 2k) Gamma(nu + k) / k! J_(nu + 2k)(z) = (z / 2)^nu (A&S 9.1.87)."""
    above = xp.zeros(z.shape, np.float64)
    current = xp.full(z.shape, 1e-30, dtype=np.float64)
    norm = xp.zeros(z.shape, np.float64)
    for k in range(_MILLER_START, 0, -1):  # current is J_(nu + k)
        if k % 2 == 0:
            m = k // 2
            norm = norm + (nu + k) * math.exp(math.lgamma(nu + m) - math.lgamma(m + 1)) * current
        above, current = current, (2.0 * (nu + k) / z) * current - above
    norm = norm + math.gamma(nu + 1.0) * current
    return current * (0.5 * z) ** nu / norm


def _airy_negative(xp, x):
    """Ai(x) for x < -2: (sqrt(-x) / 3) (J_1/3(zeta) + J_-1/3(zeta)), zeta = 2/3 (-x)^3/2 (A&S 10.4.15)."""
    a = -x
    zeta = (2.0 / 3.0) * a * xp.sqrt(a)

    def pair(v):
        return _miller_fractional(xp, v, 1.0 / 3.0) + _miller_fractional(xp, v, -1.0 / 3.0)

    def far(v):
        return _hankel_jy(xp, v, 1.0 / 3.0, False) + _hankel_jy(xp, v, -1.0 / 3.0, False)

    both = _by_range(xp, zeta, [(zeta <= _AIRY_MILLER_TO, pair), (zeta > _AIRY_MILLER_TO, far)])
    return xp.sqrt(a) / 3.0 * both


def _airy_positive(xp, x):
    """Ai(x) for x > 1: sqrt(x / 3) / pi K_1/3(zeta), zeta = 2/3 x^3/2 (A&S 10.4.14)."""
    zeta = (2.0 / 3.0) * x * xp.sqrt(x)
    scaled = _by_range(xp, zeta, [
        (zeta <= _AIRY_K_ASYMPTOTIC_FROM, lambda v: _trapezoid_k_scaled(xp, v, 1.0 / 3.0)),
        (zeta > _AIRY_K_ASYMPTOTIC_FROM, lambda v: _asymptotic_k_scaled(xp, v, 1.0 / 3.0)),
    ])
    return xp.sqrt(x / 3.0) / math.pi * scaled * xp.exp(-zeta)


def airy_ai(xp, x):
    """The Airy function Ai, 0 at +-inf (its limits)."""
    x = xp.asarray(x, dtype=np.float64)
    with _quiet():
        value = _by_range(xp, x, [
            ((x >= _AIRY_SERIES_FROM) & (x <= _AIRY_SERIES_TO), lambda v: _airy_series(xp, v)),
            ((x > _AIRY_SERIES_TO) & (x < xp.inf), lambda v: _airy_positive(xp, v)),
            ((x < _AIRY_SERIES_FROM) & (x > -xp.inf), lambda v: _airy_negative(xp, v)),
        ])
        value = xp.where(xp.isinf(x), 0.0, value)
        return xp.where(xp.isnan(x), x, value)
