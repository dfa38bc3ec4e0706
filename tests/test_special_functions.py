"""torch.special's Bessel and Airy functions and orthogonal polynomials under ember.special without PyTorch:
float64 accuracy against SciPy over wide ranges (large |x|, x near 0), the limits at infinity, dtypes, ember.jit and
the errors."""

import math

import numpy as np
import pytest

import ember

sps = pytest.importorskip("scipy.special")

INF, NAN = math.inf, math.nan
RNG = np.random.default_rng(8)


def _spread(n=3000):
    """Both signs: uniform on [-40, 40], log-uniform from 1e-12 to 1e12, and tiny values."""
    positive = np.concatenate([RNG.uniform(0, 40, n), 10.0 ** RNG.uniform(-12, 12, n),
                               10.0 ** RNG.uniform(-300, -12, 50)])
    return np.concatenate([positive, -positive])


def _f64(values):
    return ember.tensor(np.asarray(values, np.float64))


def _ember(name, *args):
    return getattr(ember.special, name)(*args).numpy()


def _amplitude(x):
    """The envelope of J and Y (sqrt(2 / (pi x)), at most 1), the scale of their absolute error."""
    return np.minimum(1.0, np.sqrt(2.0 / (math.pi * np.maximum(np.abs(x), 1e-300))))


def _check(x, ours, reference, scale, rtol):
    """NaN where the reference is, the same infinities, and |ours - reference| <= rtol * scale elsewhere."""
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
    infinite = np.isinf(reference)
    np.testing.assert_array_equal(ours[infinite], reference[infinite])
    finite = np.isfinite(reference)
    error = np.abs(ours[finite] - reference[finite])
    bound = rtol * np.broadcast_to(scale, x.shape)[finite] + 1e-300
    worst = int(np.argmax(error / bound))
    assert np.all(error <= bound), (f"at x = {float(x[finite][worst])!r}: error {float(error[worst]):.3g}, "
                                    f"bound {float(bound[worst]):.3g}")

# --- Bessel and Airy functions against SciPy -------------------------------------------------------------------

OSCILLATING = [("bessel_j0", sps.j0), ("bessel_j1", sps.j1), ("bessel_y0", sps.y0), ("bessel_y1", sps.y1)]


@pytest.mark.parametrize("name, reference", OSCILLATING, ids=[n for n, _ in OSCILLATING])
def test_j_and_y_match_scipy_over_wide_ranges(name, reference):
    x = _spread()
    x = x[np.abs(x) < 1e5]  # past that, SciPy's phase x - pi/4 is rounded (tested against exact values below)
    ours, expected = _ember(name, _f64(x)), reference(x)
    # against the envelope (Y near 0: its own size), times x / 50 where SciPy's x - pi/4 rounds by x's spacing
    _check(x, ours, expected, np.maximum(_amplitude(x) * np.maximum(1.0, np.abs(x) / 50), np.abs(expected)), 1e-13)


def test_j_and_y_at_huge_x_keep_the_phase():
    """cos and sin of x - pi/4 come from those of x, so the phase is exact where SciPy and PyTorch round x - pi/4
    (values from a 40-digit evaluation)."""
    x = _f64([1e8 + 0.3, 33e9, 123456.789])
    np.testing.assert_allclose(ember.special.bessel_j0(x).numpy(),
                               [9.036507941707099e-06, 3.671739438938941e-06, -0.0015205971298614324], rtol=1e-9)


MONOTONE = [
    ("modified_bessel_k0", sps.k0), ("modified_bessel_k1", sps.k1), ("scaled_modified_bessel_k0", sps.k0e),
    ("scaled_modified_bessel_k1", sps.k1e), ("modified_bessel_i0", sps.i0), ("modified_bessel_i1", sps.i1),
    ("spherical_bessel_j0", lambda x: sps.spherical_jn(0, x)),
]


@pytest.mark.parametrize("name, reference", MONOTONE, ids=[n for n, _ in MONOTONE])
def test_modified_and_spherical_match_scipy_over_wide_ranges(name, reference):
    x = _spread()
    if name == "spherical_bessel_j0":  # its zeros: relative error against 1/x there
        scale = np.minimum(1.0, 1.0 / np.abs(x))
    else:
        x = x[np.abs(x) < 700] if name.startswith("modified_bessel_i") else x
        scale = np.abs(reference(x))
    _check(x, _ember(name, _f64(x)), reference(x), scale, 2e-14)


def test_airy_ai_matches_scipy():
    x = np.concatenate([RNG.uniform(-40, 40, 6000), RNG.uniform(-3, 3, 2000), -(10.0 ** RNG.uniform(1, 4, 500)),
                        10.0 ** RNG.uniform(-12, 2, 500)])
    ours, expected = _ember("airy_ai", _f64(x)), sps.airy(x)[0]
    # oscillating: against the envelope, times the spacing of the phase 2/3 |x|^3/2 (rounded in both) far out
    envelope = np.minimum(1.0, np.abs(x) ** -0.25) * np.maximum(1.0, np.abs(x) ** 1.5 / 1e3)
    envelope = np.where(x < 0, envelope, np.abs(expected))
    _check(x, ours, expected, envelope, 1e-11)

def test_the_limits_at_infinity():
    """0 (PyTorch: NaN), as ember's i0 and i1 give their limits +-inf there."""
    x = _f64([INF, -INF])
    for name in ("bessel_j0", "bessel_j1", "airy_ai"):
        np.testing.assert_array_equal(_ember(name, x), [0.0, 0.0])
    for name in ("bessel_y0", "bessel_y1"):
        np.testing.assert_array_equal(_ember(name, x), [0.0, NAN])
    np.testing.assert_array_equal(ember.special.modified_bessel_i0(x).numpy(), [INF, INF])

def test_integer_input_gives_the_default_float():
    assert ember.special.bessel_j0(ember.tensor([1, 2])).dtype == ember.float32
    assert ember.special.airy_ai(ember.tensor([1, 2])).dtype == ember.float32

def test_polynomials_promote_as_torch():
    x32, x64 = ember.tensor([0.5], dtype=ember.float32), ember.tensor([0.5], dtype=ember.float64)
    assert ember.special.legendre_polynomial_p(x32, 3).dtype == ember.float32
    assert ember.special.legendre_polynomial_p(x32, ember.tensor([3])).dtype == ember.float32
    assert ember.special.legendre_polynomial_p(x32, ember.tensor([3.0], dtype=ember.float64)).dtype == ember.float64
    assert ember.special.legendre_polynomial_p(ember.tensor([1, 2]), ember.tensor([3])).dtype == ember.float32
    assert ember.special.hermite_polynomial_h(x64, ember.tensor([[1], [2]])).shape == (2, 1)

def test_polynomials_refuse_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match="chebyshev_polynomial_t"):
        ember.special.chebyshev_polynomial_t(ember.zeros(3), ember.zeros(4))

def test_jit_builds_them_in_a_graph():
    @ember.jit
    def f(x, n):
        return ember.special.bessel_y1(x) + ember.special.chebyshev_polynomial_w(x, n) + ember.special.airy_ai(-x)

    x, n = ember.tensor([0.5, 3.0, 30.0], dtype=ember.float64), ember.tensor([2, 9, 1])
    eager = (ember.special.bessel_y1(x) + ember.special.chebyshev_polynomial_w(x, n)
             + ember.special.airy_ai(-x)).numpy()
    np.testing.assert_array_equal(f(x, n).numpy(), eager)
    np.testing.assert_array_equal(f(x, n).numpy(), eager)


def test_erfc_and_the_bessel_i_near_the_largest_float():
    # x * 4096 in erfc's e^(-x^2) and 2 pi x in the Bessel functions' (2 pi x)^-1/2 overflowed: NaN, or 0 for i0e
    x = np.array([27.1, 1e300, 4.5e304, 1.7e308, -1.7e308, NAN])
    np.testing.assert_array_equal(_ember("erfc", _f64(x)), [math.erfc(v) for v in x])
    for name in ("i0", "i0e", "i1", "i1e"):
        np.testing.assert_allclose(_ember(name, _f64(x)), getattr(sps, name)(x), rtol=1e-14)
    np.testing.assert_array_equal(_ember("ndtr", _f64([1.7e308, -1.7e308])), [1.0, 0.0])
    np.testing.assert_array_equal(_ember("log_ndtr", _f64([1.7e308, -1.7e308])), [0.0, -INF])
