"""ember.special (PyTorch's torch.special) and the matching top-level functions: float64 accuracy against SciPy
over wide ranges and at the edges (poles, zeros, huge arguments, inf, NaN), values and dtypes against PyTorch,
gradients against PyTorch's, ember.jit, and the errors."""

import math

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
sps = pytest.importorskip("scipy.special")

INF, NAN = math.inf, math.nan
RNG = np.random.default_rng(0)


def _wide(lo, hi, n=4000):
    return RNG.uniform(lo, hi, n)


def _log_spread(lo_exp, hi_exp, n=2000):
    return 10.0 ** RNG.uniform(lo_exp, hi_exp, n)


def _close(ours, reference, rtol=1e-12, atol=0.0):
    """Equal where the reference is NaN or inf; elsewhere within rtol (and atol; subnormal results, whose
    precision is below float64's, within 1e-300)."""
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    atol = max(atol, 1e-300)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
    finite = np.isfinite(reference)
    np.testing.assert_array_equal(ours[~finite & ~np.isnan(reference)], reference[~finite & ~np.isnan(reference)])
    np.testing.assert_allclose(ours[finite], reference[finite], rtol=rtol, atol=atol)


def _f64(values):
    return ember.tensor(np.asarray(values, np.float64))


EDGES = np.array([0.0, -0.0, 1.0, 2.0, -1.0, -2.0, 0.5, -0.5, 1e-300, 5e-324, 1e300, -1e300, INF, -INF, NAN])

# name, ember function, scipy reference, samples, tolerance (rtol, atol)
ACCURACY = [
    ("lgamma", ember.lgamma, sps.gammaln,
     np.concatenate([_wide(-50, 50), _log_spread(-300, 300), _wide(0.9, 2.1), -_log_spread(-3, 3) + 0.31]),
     (1e-12, 1e-15)),  # atol: SciPy loses the relative accuracy next to lgamma's zeros 1 and 2, ember does not
    ("digamma", ember.digamma, sps.psi, np.concatenate([_wide(-50, 50), _log_spread(-300, 300)]), (1e-12, 1e-15)),
    ("erfc", ember.erfc, sps.erfc, np.concatenate([_wide(-8, 8), _wide(-26, 26.5)]), (1e-12, 0.0)),
    ("erfcx", ember.special.erfcx, sps.erfcx, np.concatenate([_wide(-26, 26), _log_spread(-300, 300)]),
     (1e-12, 0.0)),
    ("erfinv", ember.erfinv, sps.erfinv,
     np.concatenate([_wide(-1, 1), 1 - _log_spread(-16, 0), _log_spread(-300, 0)]), (1e-13, 0.0)),
    ("ndtri", ember.special.ndtri, sps.ndtri,
     np.concatenate([_wide(0, 1), _log_spread(-307, 0), 1 - _log_spread(-16, 0)]), (1e-13, 0.0)),
    ("log_ndtr", ember.special.log_ndtr, sps.log_ndtr, np.concatenate([_wide(-38, 38), -_log_spread(0, 150)]),
     (1e-12, 1e-300)),
    ("ndtr", ember.special.ndtr, sps.ndtr, _wide(-37, 8), (1e-12, 0.0)),
    ("i0", ember.i0, sps.i0, np.concatenate([_wide(-700, 700), _log_spread(-300, 2)]), (1e-13, 0.0)),
    ("i0e", ember.special.i0e, sps.i0e, np.concatenate([_wide(-60, 60), _log_spread(-300, 300)]), (1e-13, 0.0)),
    ("i1", ember.special.i1, sps.i1, np.concatenate([_wide(-700, 700), _log_spread(-300, 2)]), (1e-13, 0.0)),
    ("i1e", ember.special.i1e, sps.i1e, np.concatenate([_wide(-60, 60), _log_spread(-300, 300)]), (1e-13, 0.0)),
]


@pytest.mark.parametrize("name, fn, reference, samples, tolerance", ACCURACY, ids=[row[0] for row in ACCURACY])
def test_float64_accuracy_against_scipy(name, fn, reference, samples, tolerance):
    if name in ("lgamma", "digamma"):  # keep a gap from the poles, where a rounding of x moves the value most
        samples = samples[np.abs(samples - np.round(samples)) > 1e-3]
    rtol, atol = tolerance
    _close(fn(_f64(samples)).numpy(), reference(samples), rtol=rtol, atol=atol)


@pytest.mark.parametrize("n", [1, 2, 3, 6, 12])
def test_polygamma_accuracy_against_scipy(n):
    samples = np.concatenate([_log_spread(-5, 4), _wide(-20, 20)])
    samples = samples[np.abs(samples - np.round(samples)) > 1e-2]
    _close(ember.polygamma(n, _f64(samples)).numpy(), sps.polygamma(n, samples), rtol=1e-12)


def test_polygamma_of_an_order_whose_factorial_overflows():
    # 171! overflows float64 while 171! zeta(172, 3) does not: 171! 3^-172 (1 + (3/4)^172 + ...)
    got = ember.polygamma(171, _f64([3.0])).numpy()[0]
    assert math.isfinite(got)
    np.testing.assert_allclose(got, math.exp(math.lgamma(172.0) - 172 * math.log(3.0)), rtol=1e-12)


def test_polygamma_far_left_of_zero_sums_in_blocks():
    x = np.array([-20000.25, -700.75, -3.3, 2.5])  # q < -244: the terms past the 256th in blocks
    for n in (1, 3):
        _close(ember.polygamma(n, _f64(x)).numpy(), sps.polygamma(n, x), rtol=1e-12)
    zeta = ember.special.zeta(_f64([2.0, 3.0, 2.5, 2.0]), _f64([-INF, -1e12, -3.5, -4.0])).numpy()
    assert np.isnan(zeta[0]) and zeta[1] == INF and np.isnan(zeta[2]) and zeta[3] == INF


@pytest.mark.parametrize("s", [1.0001, 1.5, 2.0, 3.5, 8.0, 30.0, 80.0])
def test_zeta_accuracy_against_scipy(s):
    q = np.concatenate([_log_spread(-5, 5), [1.0, 2.0, 0.5, INF]])
    _close(ember.special.zeta(_f64(np.full(q.shape, s)), _f64(q)).numpy(), sps.zeta(s, q), rtol=1e-12)


def test_zeta_at_poles_and_at_an_infinite_exponent_as_pytorch():
    # q a negative integer was NaN for a non-integer s (a pole: inf), and s = inf was NaN (q^-inf: 1 at q = 1)
    s = np.array([2.5, 2.5, 3.5, INF, INF, INF, INF, INF])
    q = np.array([-1.0, -10.0, 0.0, 1.0, 0.5, 1e-300, -1.5, -0.5])
    want = torch.special.zeta(torch.tensor(s), torch.tensor(q)).numpy()
    np.testing.assert_array_equal(want, [INF, INF, INF, 1.0, INF, INF, INF, INF])
    np.testing.assert_array_equal(ember.special.zeta(_f64(s), _f64(q)).numpy(), want)
    np.testing.assert_array_equal(ember.special.zeta(_f64([INF, INF]), _f64([3.0, INF])).numpy(), [0.0, 0.0])


@pytest.mark.parametrize("upper", [False, True])
def test_incomplete_gamma_accuracy_against_scipy_and_edges_as_pytorchs(upper):
    fn, reference = (ember.igammac, sps.gammaincc) if upper else (ember.igamma, sps.gammainc)
    a = np.concatenate([_wide(0.01, 5), _wide(5, 300), _log_spread(-4, 3)])
    x = np.concatenate([_wide(0, 12), _wide(0, 400), a[-2000:] * RNG.uniform(0.5, 1.5, 2000)])
    _close(fn(_f64(a), _f64(x)).numpy(), reference(a, x), rtol=1e-11, atol=1e-300)
    # NaN for negative or NaN arguments and at a = x = 0; the limits at a = 0, x = 0 and at infinity
    edge_a = np.array([0.0, 0.0, 1.0, INF, INF, 2.0, -1.0, 1.0, NAN, 1.0, 0.0, 3.0])
    edge_x = np.array([0.0, 1.0, 0.0, 1.0, INF, INF, 1.0, -1.0, 1.0, NAN, INF, 1e-300])
    theirs = (torch.special.gammaincc if upper else torch.special.gammainc)(torch.tensor(edge_a), torch.tensor(edge_x))
    np.testing.assert_array_equal(fn(_f64(edge_a), _f64(edge_x)).numpy(), theirs.numpy())


@pytest.mark.parametrize("upper", [False, True])
def test_incomplete_gamma_keeps_its_relative_accuracy_for_tiny_a_and_far_below_a(upper):
    # Q was 1 - P where P nears 1 (a = 1e-14: 3% off), and P(20, 1e-10) lost 4e-4 to the rounding of 1 + (x - a) / a
    fn, reference = (ember.igammac, sps.gammaincc) if upper else (ember.igamma, sps.gammainc)
    a = np.concatenate([10 ** RNG.uniform(-14, 0, 2000), RNG.uniform(10, 200, 1000)])
    x = np.concatenate([a[:2000] * 10 ** RNG.uniform(-5, 1.5, 2000), 10 ** RNG.uniform(-10, 0, 1000)])
    expected = reference(a, x)
    keep = expected > 1e-290
    _close(fn(_f64(a[keep]), _f64(x[keep])).numpy(), expected[keep], rtol=1e-10, atol=0)


def test_lgamma_keeps_its_relative_accuracy_next_to_its_zeros():
    offsets = np.array([1e-9, -1e-9, 3e-7, -3e-7, 1e-12])
    near_one, near_two = 1.0 + offsets, 2.0 + offsets
    e1, e2 = near_one - 1.0, near_two - 2.0  # exact
    # lgamma(1 + e) = -gamma e + zeta(2) / 2 e^2 - ..., lgamma(2 + e) = (1 - gamma) e + (zeta(2) - 1) / 2 e^2 - ...
    at_one = -_EULER * e1 + math.pi**2 / 12 * e1**2
    at_two = (1 - _EULER) * e2 + (math.pi**2 / 6 - 1) / 2 * e2**2
    np.testing.assert_allclose(ember.lgamma(_f64(near_one)).numpy(), at_one, rtol=1e-12)
    np.testing.assert_allclose(ember.lgamma(_f64(near_two)).numpy(), at_two, rtol=1e-12)
    assert ember.lgamma(_f64([1.0, 2.0])).numpy().tolist() == [0.0, 0.0]


_EULER = 0.5772156649015329


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the compositions' NumPy steps at inf and NaN
@pytest.mark.parametrize("name", ["lgamma", "digamma", "erfc", "erfinv", "i0", "special.erfcx", "special.i0e",
                                  "special.i1", "special.i1e", "special.ndtri", "special.log_ndtr",
                                  "special.ndtr", "special.entr", "special.sinc", "special.logit", "special.expit",
                                  "special.exp2", "special.expm1", "special.log1p", "special.psi",
                                  "special.gammaln"])
def test_edge_values_match_pytorch(name):
    ours, theirs = ember, torch
    for part in name.split("."):
        ours, theirs = getattr(ours, part), getattr(theirs, part)
    values = EDGES
    if name in ("i0", "special.i1"):
        values = EDGES[np.isfinite(EDGES)]  # PyTorch's I0(+-inf) and I1(+-inf) are NaN; ember's (SciPy's) inf
    _close(ours(_f64(values)).numpy(), theirs(torch.tensor(values)).numpy(), rtol=1e-12, atol=1e-300)


def test_float32_results_round_the_float64_ones_and_match_pytorch():
    x = np.concatenate([_wide(0.05, 30, 200), _wide(-5, -0.05, 200)]).astype(np.float32)
    for ours, theirs in [(ember.lgamma, torch.lgamma), (ember.digamma, torch.digamma), (ember.erfc, torch.erfc),
                         (ember.special.i0e, torch.special.i0e), (ember.special.log_ndtr, torch.special.log_ndtr)]:
        got = ours(ember.tensor(x))
        assert got.dtype == ember.float32
        np.testing.assert_allclose(got.numpy(), theirs(torch.tensor(x)).numpy(), rtol=2e-5, atol=1e-6)
    half = ember.lgamma(ember.tensor(np.array([0.5, 3.0], np.float16)))
    assert half.dtype == ember.float16


def test_integer_inputs_compute_in_the_default_float_dtype():
    assert ember.lgamma(ember.tensor([1, 2, 3])).dtype == ember.float32
    assert ember.special.ndtr(ember.tensor([0])).dtype == ember.float32
    assert ember.float_power(ember.tensor([2]), 2).dtype == ember.float64


# --- values against PyTorch ---------------------------------------------------------------------------------------


def _both(values, grad=False):
    array = np.asarray(values, np.float64)
    return ember.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


UNARY = [
    ("lgamma", lambda m, x: m.lgamma(x), _wide(-6, 8, 40)),
    ("digamma", lambda m, x: m.digamma(x), _wide(-6, 8, 40)),
    ("polygamma3", lambda m, x: m.polygamma(3, x), _wide(0.1, 8, 40)),
    ("mvlgamma", lambda m, x: m.mvlgamma(x, p=4), _wide(1.6, 8, 40)),
    ("erfc", lambda m, x: m.erfc(x), _wide(-6, 6, 40)),
    ("erfinv", lambda m, x: m.erfinv(x), _wide(-0.999, 0.999, 40)),
    ("erfcx", lambda m, x: m.special.erfcx(x), _wide(-6, 30, 40)),
    ("ndtri", lambda m, x: m.special.ndtri(x), _wide(0.001, 0.999, 40)),
    ("log_ndtr", lambda m, x: m.special.log_ndtr(x), _wide(-60, 10, 40)),
    ("ndtr", lambda m, x: m.special.ndtr(x), _wide(-6, 6, 40)),
    ("i0", lambda m, x: m.i0(x), _wide(-30, 30, 40)),
    ("i0e", lambda m, x: m.special.i0e(x), _wide(-30, 30, 40)),
    ("i1", lambda m, x: m.special.i1(x), _wide(-30, 30, 40)),
    ("i1e", lambda m, x: m.special.i1e(x), _wide(-30, 30, 40)),
    ("sinc", lambda m, x: m.sinc(x), _wide(-4, 4, 40)),
    ("entr", lambda m, x: m.special.entr(x), _wide(0.01, 4, 40)),
    ("logit", lambda m, x: m.logit(x), _wide(0.01, 0.99, 40)),
    ("logit_eps", lambda m, x: m.logit(x, eps=0.1), _wide(0.01, 0.99, 40)),
    ("expit", lambda m, x: m.special.expit(x), _wide(-8, 8, 40)),
    ("exp2", lambda m, x: m.exp2(x), _wide(-8, 8, 40)),
    ("frac", lambda m, x: m.frac(x), _wide(-8, 8, 40)),
    ("deg2rad", lambda m, x: m.deg2rad(x), _wide(-400, 400, 40)),
    ("rad2deg", lambda m, x: m.rad2deg(x), _wide(-8, 8, 40)),
    ("special_round", lambda m, x: m.special.round(x, decimals=2), _wide(-8, 8, 40)),
    ("special_logsumexp", lambda m, x: m.special.logsumexp(x.reshape(5, 8), dim=1, keepdim=True), _wide(-8, 8, 40)),
    ("special_softmax", lambda m, x: m.special.softmax(x.reshape(5, 8), 0), _wide(-8, 8, 40)),
    ("special_log_softmax", lambda m, x: m.special.log_softmax(x.reshape(5, 8), 1), _wide(-8, 8, 40)),
    ("special_multigammaln", lambda m, x: m.special.multigammaln(x, 2), _wide(0.6, 8, 40)),
    ("special_xlog1py", lambda m, x: m.special.xlog1py(x, x * 0.1 + 1.5), _wide(-3, 3, 40)),
]


@pytest.mark.parametrize("name, fn, values", UNARY, ids=[row[0] for row in UNARY])
def test_values_and_gradients_match_pytorch(name, fn, values):
    x, tx = _both(values, grad=True)
    out, tout = fn(ember, x), fn(torch, tx)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-11, atol=1e-14)
    assert out.dtype == ember.float64
    weight = np.random.default_rng(1).standard_normal(tuple(tout.shape))
    (out * ember.tensor(weight)).sum().backward()
    (tout * torch.tensor(weight)).sum().backward()
    if name != "special_round":  # round's gradient: PyTorch's is zero, ember's none
        # PyTorch's trigamma (digamma's derivative) has its own series, within 5e-10 of SciPy's and ember's
        rtol = 1e-9 if name == "digamma" else 1e-10
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=1e-12)


BINARY = [
    ("xlogy", lambda m, a, b: m.xlogy(a, b), (-3, 3), (0.01, 5)),
    ("special_xlogy", lambda m, a, b: m.special.xlogy(a, b), (-3, 3), (0.01, 5)),
    ("zeta", lambda m, a, b: m.special.zeta(a.detach(), b), (1.1, 6), (0.1, 10)),
    ("igamma", lambda m, a, b: m.igamma(a.detach(), b), (0.2, 8), (0.05, 12)),
    ("special_gammaincc", lambda m, a, b: m.special.gammaincc(a.detach(), b), (0.2, 8), (0.05, 12)),
    ("logaddexp", lambda m, a, b: m.logaddexp(a, b), (-30, 30), (-30, 30)),
    ("logaddexp2", lambda m, a, b: m.logaddexp2(a, b), (-30, 30), (-30, 30)),
    ("hypot", lambda m, a, b: m.hypot(a, b), (-5, 5), (-5, 5)),
    ("copysign", lambda m, a, b: m.copysign(a, b), (-5, 5), (-5, 5)),
    ("float_power", lambda m, a, b: m.float_power(a, b), (0.1, 5), (-3, 3)),
    ("true_divide", lambda m, a, b: m.true_divide(a, b), (-5, 5), (0.5, 5)),
]


@pytest.mark.parametrize("name, fn, a_range, b_range", BINARY, ids=[row[0] for row in BINARY])
def test_binary_values_and_gradients_match_pytorch(name, fn, a_range, b_range):
    a, ta = _both(RNG.uniform(*a_range, (3, 4)), grad=True)
    b, tb = _both(RNG.uniform(*b_range, (4,)), grad=True)
    out, tout = fn(ember, a, b), fn(torch, ta, tb)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-11, atol=1e-14)
    out.sum().backward()
    tout.sum().backward()
    for ours, theirs in [(a, ta), (b, tb)]:
        if theirs.grad is not None:
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_second_order_gradients_match_pytorch():
    values = _wide(0.3, 6, 12)
    for fn in [lambda m, x: m.lgamma(x), lambda m, x: m.erfinv(x / 7), lambda m, x: m.special.i1e(x - 3),
               lambda m, x: m.special.log_ndtr(x - 4), lambda m, x: m.special.erfcx(x - 2)]:
        x, tx = _both(values, grad=True)
        (g,) = ember.grad(fn(ember, x).sum(), [x], create_graph=True)
        (tg,) = torch.autograd.grad(fn(torch, tx).sum(), [tx], create_graph=True)
        (gg,) = ember.grad((g * g).sum(), [x])
        (tgg,) = torch.autograd.grad((tg * tg).sum(), [tx])
        np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-9, atol=1e-12)


def test_log_ndtr_second_gradient_stays_finite_in_the_right_tail_as_pytorchs():
    # the first gradient was sqrt(2 / pi) / erfcx(-x / sqrt(2)), whose erfcx overflows past x = 37.7: the second
    # gradient was inf / inf, NaN
    values = np.array([-5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 5.0, 20.0, 37.0, 38.0, 40.0, 100.0, 1e3])
    x, tx = _both(values, grad=True)
    (g,) = ember.grad(ember.special.log_ndtr(x).sum(), [x], create_graph=True)
    (tg,) = torch.autograd.grad(torch.special.log_ndtr(tx).sum(), [tx], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-12, atol=0)
    (gg,) = ember.grad(g.sum(), [x])
    (tgg,) = torch.autograd.grad(tg.sum(), [tx])
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-9, atol=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_sinc_gradients_near_zero_keep_their_accuracy():
    # the gradient of sin(pi x) / (pi x) is two terms of size 1/x that cancel: 1e-10 gave -1.5e-6, 1e-300 -inf
    x = np.array([1e-300, -1e-10, 1e-6, 1e-4, 1e-3])
    s = math.pi * x
    t = ember.tensor(x, requires_grad=True)
    (first,) = ember.grad(ember.sinc(t).sum(), t, create_graph=True)
    (second,) = ember.grad(first.sum(), t)
    _close(first.detach().numpy(), -math.pi * s / 3 * (1 - s * s / 10 + s ** 4 / 280), rtol=1e-13, atol=1e-299)
    _close(second.numpy(), -math.pi ** 2 / 3 * (1 - 3 * s * s / 10 + s ** 4 / 56), rtol=1e-12)
    near = np.array([0.1, 0.15, 0.159, 0.16, 0.3, -2.5])  # around the series' end, as PyTorch's
    t, ref = ember.tensor(near, requires_grad=True), torch.tensor(near, requires_grad=True)
    ember.sinc(t).sum().backward()
    torch.sinc(ref).sum().backward()
    _close(t.grad.numpy(), ref.grad.numpy(), rtol=1e-13)
    _close(ember.sinc(t).detach().numpy(), np.sinc(near), rtol=1e-15)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_sinc_of_half_precision_is_computed_in_float32_as_torch(dtype):
    # pi x rounded to bfloat16 moved sin(pi x) near an integer: sinc(-3.0156) was -0.0079, PyTorch's -0.0052
    x = np.linspace(-10, 10, 2001, dtype=np.float32)
    got = ember.sinc(ember.tensor(x).to(getattr(ember, dtype)))
    want = torch.sinc(torch.tensor(x).to(getattr(torch, dtype)))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    _close(got.to(ember.float64).numpy(), want.double().numpy(), rtol=1e-3, atol=1e-6)


def test_logit_gradient_at_0_and_1_is_infinite_as_pytorchs():
    x = ember.tensor([0.0, 1.0, 0.5], dtype=ember.float64, requires_grad=True)
    ember.logit(x).sum().backward()
    assert x.grad.numpy().tolist() == [INF, INF, 4.0]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_xlogy_at_x_zero_gives_x_the_gradient_log_y_and_a_positive_zero_as_pytorchs(name):
    # the product sat inside where(x == 0, 0, ...), which sent x no gradient there: d/dx x log(y) is log(y)
    shift = 0.0 if name == "xlogy" else -1.0
    x = np.array([0.0, 0.0, 0.0, 0.0, 2.0, -1.0, NAN])
    y = np.array([0.5, 3.0, 0.0, -1.0, 0.25, 1.5, 2.0]) + shift
    (a, ta), (b, tb) = _both(x, grad=True), _both(y, grad=True)
    out, expected = getattr(ember.special, name)(a, b), getattr(torch.special, name)(ta, tb)
    np.testing.assert_array_equal(np.signbit(out.detach().numpy()), np.signbit(expected.detach().numpy()))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    weights = np.arange(1.0, 8.0)
    grads = ember.grad((out * ember.tensor(weights)).sum(), [a, b])
    expected_grads = torch.autograd.grad((expected * torch.tensor(weights)).sum(), [ta, tb])
    np.testing.assert_allclose(grads[0].numpy(), expected_grads[0].numpy(), rtol=1e-12)
    # (at x = y = 0 PyTorch's y-gradient is 0 / 0; Ember's is 0)
    np.testing.assert_allclose(np.delete(grads[1].numpy(), 2), np.delete(expected_grads[1].numpy(), 2), rtol=1e-12)


def test_integer_functions_match_pytorch():
    a = np.array([0, 12, -18, 7, 0, 2**40, -9], np.int64)
    b = np.array([0, 8, 27, -21, 5, 2**20, 3], np.int64)
    for name in ("gcd", "lcm"):
        ours = getattr(ember, name)(ember.tensor(a), ember.tensor(b))
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        assert ours.dtype == ember.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        np.testing.assert_array_equal(getattr(ember.tensor(a), name)(ember.tensor(b)).numpy(), theirs.numpy())


def test_heaviside_of_booleans_as_pytorch():
    # refused as if PyTorch refused it ("not defined for bool inputs (as in PyTorch)")
    x, values = np.array([True, False, True, False]), np.array([False, False, True, True])
    got = ember.heaviside(ember.tensor(x), ember.tensor(values))
    want = torch.heaviside(torch.tensor(x), torch.tensor(values))
    assert got.dtype == ember.bool
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_nextafter_and_heaviside_match_pytorch():
    for dtype in (np.float32, np.float64):
        a = np.array([1.0, 0.0, -1.0, INF, NAN, 1.0], dtype)
        b = np.array([2.0, -1.0, -INF, 0.0, 1.0, 1.0], dtype)
        ours = ember.nextafter(ember.tensor(a), ember.tensor(b)).numpy()
        np.testing.assert_array_equal(ours, torch.nextafter(torch.tensor(a), torch.tensor(b)).numpy())
    x, values = np.array([-2.0, 0.0, 3.0, NAN]), np.array([0.5])
    np.testing.assert_array_equal(ember.tensor(x).heaviside(ember.tensor(values)).numpy(),
                                  torch.heaviside(torch.tensor(x), torch.tensor(values)).numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logit_gradient_outside_zero_one_is_nan_as_pytorch(dtype):
    # log(x) - log1p(-x) is NaN there but its gradient 1/x + 1/(1 - x) was finite (-0.063 at x = 4.5)
    x = np.array([-2.5, -0.3, 0.0, 0.3, 1.0, 4.5, INF, -INF, NAN])
    ours = ember.tensor(x, dtype=getattr(ember, dtype), requires_grad=True)
    theirs = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    ember.special.logit(ours).sum().backward()
    torch.special.logit(theirs).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)
    ours.grad = None
    ember.special.logit(ours, eps=0.1).sum().backward()  # clamped: no gradient outside [eps, 1 - eps]
    theirs.grad = None
    torch.special.logit(theirs, eps=0.1).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)


def test_logit_with_eps_above_one_half_clamps_below_eps_first_as_pytorch():
    # clip(x, eps, 1 - eps) gave 1 - eps everywhere for eps > 1/2: logit(0.3, eps=0.6) was -0.405, PyTorch's 0.405
    x = np.array([-0.5, 0.0, 0.3, 0.55, 1.0, 1.5, NAN])
    for eps in (0.6, 0.5, 1e-3):
        ours = ember.tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        got, want = ember.special.logit(ours, eps=eps), torch.special.logit(theirs, eps=eps)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
        got.sum().backward()
        want.sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_logsumexp_with_an_empty_dim_reduces_every_dimension_as_pytorch():
    # dim=() went to NumPy's axis=(), which reduces none: the input came back as it was
    x = RNG.standard_normal((3, 4, 5))
    for dim in ((), []):
        got = ember.special.logsumexp(ember.tensor(x), dim, keepdim=True)
        want = torch.special.logsumexp(torch.tensor(x), dim, keepdim=True)
        assert tuple(got.shape) == tuple(want.shape) == (1, 1, 1)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13)
        np.testing.assert_allclose(ember.special.logsumexp(ember.tensor(x), dim).numpy(), want.numpy()[0, 0, 0],
                                   rtol=1e-13)


def test_tensor_methods_and_names():
    x = ember.tensor([0.3, 0.6], dtype=ember.float64)
    tx = torch.tensor([0.3, 0.6], dtype=torch.float64)
    for method in ("lgamma", "digamma", "erfinv", "erfc", "logit", "sinc", "i0", "exp2", "frac", "deg2rad",
                   "rad2deg"):
        np.testing.assert_allclose(getattr(x, method)().numpy(), getattr(tx, method)().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.polygamma(2).numpy(), tx.polygamma(2).numpy(), rtol=1e-12)
    np.testing.assert_allclose((x + 1).mvlgamma(2).numpy(), (tx + 1).mvlgamma(2).numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.xlogy(x).numpy(), tx.xlogy(tx).numpy(), rtol=1e-12)
    for method in ("logaddexp", "logaddexp2", "hypot", "copysign", "nextafter", "float_power", "true_divide"):
        np.testing.assert_allclose(getattr(x, method)(x * 2).numpy(), getattr(tx, method)(tx * 2).numpy(),
                                   rtol=1e-12)
    assert ember.special.psi is ember.ops.digamma and ember.special.gammaln is ember.ops.lgamma
    assert ember.mvlgamma.__wrapped__ is ember.special.multigammaln  # (the top-level name takes torch's keywords)
    assert ember.polygamma(0, x).numpy()[0] == x.digamma().numpy()[0]
    assert set(ember.special.__all__) <= set(dir(ember.special))


def test_in_place_methods_match_pytorch():
    values = np.array([0.3, 0.6, 2.5])
    for method in ("lgamma_", "digamma_", "erfc_", "erfinv_", "i0_", "sinc_", "exp2_", "frac_", "deg2rad_",
                   "rad2deg_"):
        x, tx = _both(values / 3 if method == "erfinv_" else values)
        assert getattr(x, method)() is x
        getattr(tx, method)()
        np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=1e-12, err_msg=method)
    for method in ("xlogy_", "hypot_", "copysign_", "nextafter_", "heaviside_"):
        x, tx = _both(values - 0.6)
        getattr(x, method)(ember.tensor(values * 2))
        getattr(tx, method)(torch.tensor(values * 2))
        np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=1e-12, err_msg=method)
    for method in ("gcd_", "lcm_"):
        a, ta = ember.tensor([12, 18, 0]), torch.tensor([12, 18, 0])
        getattr(a, method)(ember.tensor([8, 27, 5]))
        getattr(ta, method)(torch.tensor([8, 27, 5]))
        np.testing.assert_array_equal(a.numpy(), ta.numpy())
    with pytest.raises(RuntimeError, match=r"lgamma_: result type float32 cannot be cast to .* int64"):
        ember.tensor([1, 2]).lgamma_()


# --- errors -------------------------------------------------------------------------------------------------------


def test_errors_name_the_function_and_the_argument():
    with pytest.raises(ValueError, match=r"polygamma: n must be a non-negative integer, got -1"):
        ember.polygamma(-1, ember.tensor([1.0]))
    with pytest.raises(TypeError, match=r"polygamma: n must be an int"):
        ember.polygamma(1.5, ember.tensor([1.0]))
    with pytest.raises(ValueError, match=r"multigammaln: all elements must be greater than \(p - 1\) / 2 = 1.0"):
        ember.mvlgamma(ember.tensor([0.9, 3.0]), 3)
    with pytest.raises(TypeError, match=r"gcd: needs integer tensors, got float32"):
        ember.gcd(ember.tensor([1.0]), ember.tensor([2.0]))
    with pytest.raises(TypeError, match=r"frac: needs a floating-point tensor, got int64"):
        ember.frac(ember.tensor([1]))
    with pytest.raises(ember.ops.ShapeError, match=r"nextafter"):
        ember.nextafter(ember.tensor([1]), ember.tensor([2]))
    with pytest.raises(ember.ops.ShapeError, match=r"hypot: shapes cannot be broadcast.*float32\[2\], float32\[3\]"):
        ember.hypot(ember.zeros(2), ember.zeros(3))
    with pytest.raises(TypeError, match=r"polygamma: n must be an int >= 1 \(0 is digamma\), got True"):
        ember.ops.special.POLYGAMMA.infer(ember.ops.Spec((2,), np.dtype(np.float64)), n=True)
    s = ember.tensor([2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"zeta: the gradient for x \(the exponent\) is not implemented"):
        ember.special.zeta(s, ember.tensor([1.5])).sum().backward()
    with pytest.raises(NotImplementedError, match=r"igammac: the gradient for a \(the first input\)"):
        ember.igammac(s, ember.tensor([1.5])).sum().backward()


# --- graph mode ---------------------------------------------------------------------------------------------------


def test_the_special_functions_trace_under_jit_with_gradients():
    array = np.random.default_rng(3).uniform(0.2, 0.8, (3, 5))

    def step(x):
        parts = [ember.lgamma(x * 5), ember.polygamma(2, x + 1), ember.erfinv(x - 0.5), ember.special.ndtri(x),
                 ember.special.log_ndtr(x * -20), ember.special.i1e(x - 0.5), ember.special.zeta(3.0, x),
                 ember.xlogy(x - 0.5, x), ember.logaddexp(x, x * 3), ember.hypot(x, 1.0 - x), ember.sinc(x),
                 ember.mvlgamma(x + 2, 3), ember.special.erfcx(x * 10), ember.exp2(x), ember.special.entr(x),
                 ember.igamma(2.5, x * 4), ember.special.gammaincc(0.5, x)]
        loss = ember.stack([p.sum() for p in parts]).sum()
        loss.backward()
        return loss

    x = ember.tensor(array, requires_grad=True)
    eager_loss = step(x)
    eager_grad = x.grad.numpy().copy()
    compiled = ember.jit(step)
    for _ in range(2):
        x.grad = None
        loss = compiled(x)
        np.testing.assert_allclose(loss.detach().numpy(), eager_loss.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), eager_grad, rtol=1e-12)


# --- entr's gradient at the edges ---------------------------------------------------------------------------------


ENTR_POINTS = [-1.0, -INF, 0.0, 1e-30, 0.5, 1.0, 3.0, INF, NAN]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_entr_gradients_of_first_and_second_order_are_pytorchs_at_every_point(dtype):
    # -(1 + log x) everywhere: inf at 0, NaN below 0 (a masking where gave 0 there, and NaN at inf, 1 at NaN)
    x = ember.tensor(ENTR_POINTS, dtype=getattr(ember, dtype), requires_grad=True)
    tx = torch.tensor(ENTR_POINTS, dtype=getattr(torch, dtype), requires_grad=True)
    y, ty = ember.special.entr(x), torch.special.entr(tx)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    with np.errstate(invalid="ignore", divide="ignore"):
        (g,) = ember.grad((y * 2.0).sum(), x, create_graph=True)
        (gg,) = ember.grad(g.sum(), x)
    (tg,) = torch.autograd.grad((ty * 2.0).sum(), tx, create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), tx)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-6)


def test_entr_exports_to_onnx_with_its_edge_values():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    points = np.array(ENTR_POINTS, np.float32)
    data = ember.onnx.export(ember.special.entr, ember.tensor(points))
    session = ort.InferenceSession(data.SerializeToString(), providers=["CPUExecutionProvider"])
    (ours,) = session.run(None, {session.get_inputs()[0].name: points})
    np.testing.assert_array_equal(ours, torch.special.entr(torch.tensor(points)).numpy())


def test_entr_refuses_attributes_and_integer_specs_naming_the_op():
    spec = ember.ops.Spec((2,), np.dtype(np.float64))
    with pytest.raises(TypeError, match=r"entr: takes no attributes, got \['axis'\] \(x: float64\[2\]\)"):
        ember.ops.special.ENTR.infer(spec, axis=0)
    with pytest.raises(ember.ops.ShapeError, match=r"entr: needs floating-point inputs \(inputs: int64\[2\]\)"):
        ember.ops.special.ENTR.infer(ember.ops.Spec((2,), np.dtype(np.int64)))
