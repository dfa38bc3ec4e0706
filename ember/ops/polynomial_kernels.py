"""The classical orthogonal polynomials of ``torch.special`` on an array module ``xp`` (NumPy or CuPy), in float64:
Chebyshev's T, U, V, W and their shifted forms on [0, 1], Hermite's H (physicists') and He (probabilists'),
Laguerre's L and Legendre's P, each of degree n at x.

The degree is truncated toward zero (2.7 is 2) and a negative, NaN or infinite degree gives 0, as PyTorch's; the
values at the ends of the interval (+-1, or 0 and 1 for the shifted forms) are exact, the Chebyshev polynomials of
high degree inside the interval come from their trigonometric forms (T_n(cos t) = cos(n t)...), and the rest from
the three-term recurrences (Abramowitz and Stegun 22.7), over the elements whose degree is still to be reached.
"""

from __future__ import annotations

import numpy as np

_BLOCK = 32  # recurrence steps between dropping the elements that reached their degree


def _quiet():
    return np.errstate(all="ignore")


_INT64_END = 2.0 ** 63


def degree(xp, n):
    """The degree PyTorch reads from ``n`` (its conversion to int64): truncated toward zero, and -1 (no polynomial:
    0) where n is NaN or outside int64's range, infinities included."""
    return xp.where(xp.isnan(n) | (xp.abs(n) >= _INT64_END), -1.0, xp.trunc(n))


def _recurrence(xp, x, n, p, q, step):
    """q's recurrence ``r = step(m, x, p, q)`` (degree m from m - 1 in q and m - 2 in p) up to each element's n."""
    out = q.copy()
    index = xp.arange(x.size)
    x, n, p, q = x.ravel(), n.ravel(), p.ravel(), q.ravel()
    m = 2
    while x.size:
        stop = min(m + _BLOCK, int(n.max()) + 1)
        for j in range(m, stop):
            live = j <= n
            r = step(j, x, p, q)
            p, q = xp.where(live, q, p), xp.where(live, r, q)
        m = stop
        done = n < m
        out.reshape(-1)[index[done]] = q[done]
        keep = ~done
        index, x, n, p, q = index[keep], x[keep], n[keep], p[keep], q[keep]
    return out


def _by_recurrence(xp, x, n, first, step):
    """Degree 0 (1), degree 1 (``first``) and the recurrence past them, 0 for a negative degree."""
    x, n = xp.broadcast_arrays(x, n)
    one = xp.ones(x.shape, np.float64)
    q = first(x) * one
    value = xp.where(n >= 1, q, one)
    many = n >= 2
    if bool(many.any()):
        value[many] = _recurrence(xp, x[many], n[many], one[many], q[many], step)
    return xp.where(n < 0, 0.0, value)


def _sign_by_parity(xp, n, value):
    """``value`` for an even n, ``-value`` for an odd one."""
    return xp.where(xp.fmod(n, 2.0) == 0, value, -value)


def _chebyshev(xp, x, n, kind: str, shifted: bool):
    n = degree(xp, xp.asarray(n, dtype=np.float64))
    x = xp.asarray(x, dtype=np.float64)
    x, n = xp.broadcast_arrays(x, n)
    with _quiet():
        y = 2.0 * x - 1.0 if shifted else x
        first = {"t": lambda v: v, "u": lambda v: 2.0 * v, "v": lambda v: 2.0 * v - 1.0, "w": lambda v: 2.0 * v + 1.0}
        value = _by_recurrence(xp, y, n, first[kind], lambda m, v, p, q: 2.0 * v * q - p)
        # high degrees inside (-1, 1): the trigonometric forms
        theta = xp.arccos(xp.clip(y, -1.0, 1.0))
        if kind == "t":
            trig = xp.cos(n * theta)
        elif kind == "u":
            trig = xp.sin((n + 1.0) * theta) / xp.sin(theta)
        elif kind == "v":
            trig = xp.cos((n + 0.5) * theta) / xp.cos(0.5 * theta)
        else:
            trig = xp.sin((n + 0.5) * theta) / xp.sin(0.5 * theta)
        value = xp.where((n > 8) & (xp.abs(y) < 1.0), trig, value)
        # the ends: y = 1 (x = 1) and y = -1 (x = -1, or 0 when shifted)
        top = {"t": 1.0, "u": n + 1.0, "v": 1.0, "w": 2.0 * n + 1.0}[kind]
        bottom = {"t": _sign_by_parity(xp, n, 1.0), "u": _sign_by_parity(xp, n, n + 1.0),
                  "v": _sign_by_parity(xp, n, 2.0 * n + 1.0), "w": _sign_by_parity(xp, n, 1.0)}[kind]
        value = xp.where(y == 1.0, top, xp.where(y == -1.0, bottom, value))
        return xp.where(n < 0, 0.0, value)


def chebyshev_polynomial_t(xp, x, n):
    """Chebyshev's polynomial of the first kind, T_n(x)."""
    return _chebyshev(xp, x, n, "t", shifted=False)


def chebyshev_polynomial_u(xp, x, n):
    """Chebyshev's polynomial of the second kind, U_n(x)."""
    return _chebyshev(xp, x, n, "u", shifted=False)


def chebyshev_polynomial_v(xp, x, n):
    """Chebyshev's polynomial of the third kind, V_n(x)."""
    return _chebyshev(xp, x, n, "v", shifted=False)


def chebyshev_polynomial_w(xp, x, n):
    """Chebyshev's polynomial of the fourth kind, W_n(x)."""
    return _chebyshev(xp, x, n, "w", shifted=False)


def shifted_chebyshev_polynomial_t(xp, x, n):
    """T_n(2x - 1), orthogonal on [0, 1]."""
    return _chebyshev(xp, x, n, "t", shifted=True)


def shifted_chebyshev_polynomial_u(xp, x, n):
    """U_n(2x - 1), orthogonal on [0, 1]."""
    return _chebyshev(xp, x, n, "u", shifted=True)


def shifted_chebyshev_polynomial_v(xp, x, n):
    """V_n(2x - 1), orthogonal on [0, 1]."""
    return _chebyshev(xp, x, n, "v", shifted=True)


def shifted_chebyshev_polynomial_w(xp, x, n):
    """W_n(2x - 1), orthogonal on [0, 1]."""
    return _chebyshev(xp, x, n, "w", shifted=True)


def _prepared(xp, x, n):
    n = degree(xp, xp.asarray(n, dtype=np.float64))
    return xp.broadcast_arrays(xp.asarray(x, dtype=np.float64), n)


def hermite_polynomial_h(xp, x, n):
    """The physicists' Hermite polynomial H_n(x): H_m = 2x H_(m-1) - 2(m - 1) H_(m-2)."""
    x, n = _prepared(xp, x, n)
    with _quiet():
        return _by_recurrence(xp, x, n, lambda v: 2.0 * v, lambda m, v, p, q: 2.0 * v * q - 2.0 * (m - 1) * p)


def hermite_polynomial_he(xp, x, n):
    """The probabilists' Hermite polynomial He_n(x): He_m = x He_(m-1) - (m - 1) He_(m-2)."""
    x, n = _prepared(xp, x, n)
    with _quiet():
        return _by_recurrence(xp, x, n, lambda v: v, lambda m, v, p, q: v * q - (m - 1) * p)


def laguerre_polynomial_l(xp, x, n):
    """Laguerre's polynomial L_n(x): m L_m = (2m - 1 - x) L_(m-1) - (m - 1) L_(m-2); 1 at x = 0."""
    x, n = _prepared(xp, x, n)
    with _quiet():
        value = _by_recurrence(xp, x, n, lambda v: 1.0 - v,
                               lambda m, v, p, q: ((2.0 * m - 1.0 - v) * q - (m - 1) * p) / m)
        return xp.where((x == 0) & (n >= 0), 1.0, value)


def legendre_polynomial_p(xp, x, n):
    """Legendre's polynomial P_n(x): m P_m = (2m - 1) x P_(m-1) - (m - 1) P_(m-2); +-1 at x = +-1."""
    x, n = _prepared(xp, x, n)
    with _quiet():
        value = _by_recurrence(xp, x, n, lambda v: v,
                               lambda m, v, p, q: ((2.0 * m - 1.0) * v * q - (m - 1) * p) / m)
        ends = xp.where(x == 1.0, 1.0, _sign_by_parity(xp, n, 1.0))
        return xp.where((xp.abs(x) == 1.0) & (n >= 0), ends, value)
