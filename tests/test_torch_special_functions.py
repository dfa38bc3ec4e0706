"""torch.special's Bessel and Airy functions and orthogonal polynomials under ember.special: float64 accuracy
against SciPy over wide ranges (large |x|, x near 0), values and dtypes against PyTorch (at the edges, integer,
fractional, negative and NaN degrees and x out of the polynomials' interval), no gradient (as PyTorch), ember.jit,
and the errors."""

import math

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
sps = pytest.importorskip("scipy.special")

INF, NAN = math.inf, math.nan
RNG = np.random.default_rng(7)
EDGES = np.array([0.0, -0.0, 1.0, -1.0, 2.0, 5.0, 5.00005, 8.0, 25.0, 25.01, 1e-300, 5e-324, 1e6, -1e6, INF, -INF,
                  NAN])


def _spread(n=3000):
    """Both signs: uniform on [-40, 40], log-uniform from 1e-12 to 1e12, and tiny values."""
    positive = np.concatenate([RNG.uniform(0, 40, n), 10.0 ** RNG.uniform(-12, 12, n),
                               10.0 ** RNG.uniform(-300, -12, 50)])
    return np.concatenate([positive, -positive])


def _f64(values):
    return ember.tensor(np.asarray(values, np.float64))


def _ember(name, *args):
    return getattr(ember.special, name)(*args).numpy()


def _torch(name, *args):
    return getattr(torch.special, name)(*args).numpy()


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


def _near(ours, theirs, rtol, atol):
    """The same NaNs and infinities, the rest within atol + rtol |theirs|."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(ours[np.isinf(theirs)], theirs[np.isinf(theirs)])
    finite = np.isfinite(theirs)
    error = np.abs(ours[finite] - theirs[finite])
    assert np.all(error <= atol + rtol * np.abs(theirs[finite])), f"largest error {error.max():.3g}"


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


# --- against PyTorch ---------------------------------------------------------------------------------------------

UNARY = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0", "modified_bessel_i1",
         "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
         "spherical_bessel_j0", "airy_ai"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_match_torch_values_edges_and_dtypes(name):
    x = np.concatenate([RNG.uniform(-30, 30, 3000), 10.0 ** RNG.uniform(-8, 2, 1000), EDGES])
    if not name.endswith(("_k0", "_k1", "spherical_bessel_j0")):  # PyTorch gives NaN at +-inf, ember the limits
        x = x[np.isfinite(x) | np.isnan(x)]
    for dtype, rtol, atol in ((np.float64, 1e-9, 5e-6), (np.float32, 1e-5, 5e-6)):
        if dtype is np.float32:  # PyTorch computes in float32: its phase is off past |x| ~ 100 and its I0 and I1
            x = x[~(np.abs(x) > 80)]  # overflow before float32's largest value (ember's do not)
        if "_k" in name:  # at subnormal x, PyTorch's K is inf or NaN, ember's the value (744.6 for K0(5e-324))
            x = x[~(np.abs(x) < 1e-307)]
        ours = getattr(ember.special, name)(ember.tensor(x.astype(dtype)))
        theirs = getattr(torch.special, name)(torch.tensor(x.astype(dtype)))
        assert ours.dtype == getattr(ember, str(theirs.dtype).split(".")[1])
        # PyTorch's J and Y are off by up to 1e-6 just past x = 5 (its switch to the asymptotic form), and its Ai by
        # 3e-6 near -2.09, hence atol (ember's are within 1e-14 of SciPy's there)
        _near(ours.numpy(), theirs.numpy(), rtol, atol)


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


# --- polynomials --------------------------------------------------------------------------------------------------

POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
               "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p"]


def _poly_close(ours, theirs, rtol):
    """Equal NaNs and infinities, else within rtol of max(1, |theirs|) (the values near a zero of the polynomial
    are sums of terms of size 1 or more)."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(ours[np.isinf(theirs)], theirs[np.isinf(theirs)])
    error = np.abs(ours[finite] - theirs[finite])
    assert np.all(error <= rtol * np.maximum(1.0, np.abs(theirs[finite]))), f"largest error {error.max():.3g}"


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_match_torch_at_integer_fractional_negative_nan_and_infinite_degrees(name):
    x = np.concatenate([RNG.uniform(-1.5, 1.5, 2000), RNG.uniform(0, 1, 500),
                        np.tile([-1.0, 0.0, 1.0, 0.5, 2.0, -2.0, INF, -INF], 11)])
    n = np.concatenate([RNG.integers(-3, 40, x.size - 88).astype(np.float64),
                        np.repeat([-1.0, 0.0, 1.0, 2.0, 3.0, 2.7, -0.5, NAN, INF, -INF, 1e30], 8)])
    n[::7] += 0.6  # truncated toward zero, as PyTorch
    ours = _ember(name, _f64(x), _f64(n))
    _poly_close(ours, _torch(name, torch.tensor(x), torch.tensor(n)), 1e-9)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_with_a_scalar_degree_high_degrees_and_float32(name):
    x = RNG.uniform(-0.1, 1.1, 1000) if name.startswith("shifted") else RNG.uniform(-1.2, 1.2, 1000)
    for n in (0, 5, 100, 1000):
        _poly_close(_ember(name, _f64(x), n), _torch(name, torch.tensor(x), n), 1e-7)
    ours = getattr(ember.special, name)(ember.tensor(x.astype(np.float32)), ember.tensor(np.arange(1000) % 9))
    theirs = getattr(torch.special, name)(torch.tensor(x.astype(np.float32)), torch.tensor(np.arange(1000) % 9))
    assert ours.dtype == ember.float32 and theirs.dtype == torch.float32
    _poly_close(ours.numpy(), theirs.numpy(), 2e-4)


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


# --- gradients, graph mode --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bessel_j0", "airy_ai", "scaled_modified_bessel_k1", "legendre_polynomial_p"])
def test_no_gradient_as_in_torch(name):
    args = (2,) if "polynomial" in name else ()
    x = ember.tensor([0.5, 1.5], requires_grad=True)
    y = getattr(ember.special, name)(x, *args)
    tx = torch.tensor([0.5, 1.5], requires_grad=True)
    assert y.requires_grad is getattr(torch.special, name)(tx, *args).requires_grad is False
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_jit_builds_them_in_a_graph():
    @ember.jit
    def f(x, n):
        return ember.special.bessel_y1(x) + ember.special.chebyshev_polynomial_w(x, n) + ember.special.airy_ai(-x)

    x, n = ember.tensor([0.5, 3.0, 30.0], dtype=ember.float64), ember.tensor([2, 9, 1])
    eager = (ember.special.bessel_y1(x) + ember.special.chebyshev_polynomial_w(x, n)
             + ember.special.airy_ai(-x)).numpy()
    np.testing.assert_array_equal(f(x, n).numpy(), eager)
    np.testing.assert_array_equal(f(x, n).numpy(), eager)
