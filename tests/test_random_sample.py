"""Gamma and Poisson draws (the ``random_sample`` op): moments and Kolmogorov-Smirnov tests against SciPy's
distributions, seeds, shapes and dtypes as PyTorch's and TF-1's APIs give them, and the Gamma sample's implicit
reparameterization gradient."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.compat.tf as tf
from ember.ops import random_sample

stats = pytest.importorskip("scipy.stats")

N = 100_000


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha", [0.3, 1.0, 4.5])
def test_gamma_moments_and_ks(alpha, dtype):
    ember.manual_seed(1)
    x = random_sample("gamma", (N,), ember.tensor([alpha], dtype=dtype)).numpy()[:, 0]
    assert x.dtype == np.dtype(dtype) and x.min() > 0
    se = np.sqrt(alpha / N)  # the mean's standard error; the variance's is about sqrt(2 + 6/alpha) alpha / sqrt(N)
    assert abs(x.mean() - alpha) < 5 * se
    assert abs(x.var() - alpha) < 5 * alpha * np.sqrt((2 + 6 / alpha) / N)
    assert stats.kstest(x.astype(np.float64), stats.gamma(alpha).cdf).pvalue > 1e-3


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rate", [0.2, 3.0, 40.0])
def test_poisson_moments_and_ks(rate, dtype):
    ember.manual_seed(2)
    x = random_sample("poisson", (N,), ember.tensor(rate, dtype=dtype)).numpy()
    assert x.shape == (N,) and x.dtype == np.dtype(dtype)
    assert abs(x.mean() - rate) < 5 * np.sqrt(rate / N)
    assert abs(x.var() - rate) < 5 * rate * np.sqrt((2 + 1 / rate) / N)
    # discrete: the empirical CDF at each support point against SciPy's (the KS distance on the lattice)
    support = np.arange(int(x.max()) + 1)
    empirical = np.searchsorted(np.sort(x), support, side="right") / N
    assert np.abs(empirical - stats.poisson(rate).cdf(support)).max() < 1.63 / np.sqrt(N) * 1.5


def test_poisson_bad_rates_are_nan_or_refused():
    out = random_sample("poisson", (2,), ember.tensor([-1.0, float("nan"), 0.0])).numpy()
    assert np.isnan(out[:, :2]).all() and (out[:, 2] == 0).all()
    with pytest.raises(ValueError, match="random_sample: a Poisson rate is negative"):
        random_sample("poisson", (2,), ember.tensor([-1.0]), dtype="int64")
    with pytest.raises(TypeError, match="random_sample: the poisson parameter must be floating"):
        random_sample("poisson", (2,), ember.tensor([1, 2]))
    with pytest.raises(ValueError, match="random_sample: kind must be one of"):
        random_sample("beta", (2,), ember.tensor([1.0]))


def test_manual_seed_repeats_draws_and_draws_advance():
    ember.manual_seed(5)
    a = random_sample("gamma", (4,), ember.tensor([2.0])).numpy()
    b = random_sample("gamma", (4,), ember.tensor([2.0])).numpy()
    ember.manual_seed(5)
    np.testing.assert_array_equal(random_sample("gamma", (4,), ember.tensor([2.0])).numpy(), a)
    assert not np.array_equal(a, b)


def test_gamma_gradient_is_the_implicit_reparameterization():
    """d sample / d alpha is standard_gamma_grad(alpha, sample) (PyTorch's _standard_gamma_grad), summed over the
    drawn axes; its mean is d E[x] / d alpha = 1, and it matches finite differences of the quantile function."""
    torch = pytest.importorskip("torch")
    ember.manual_seed(3)
    alpha = ember.tensor([0.5, 2.0, 7.0], dtype="float64", requires_grad=True)
    x = random_sample("gamma", (N,), alpha)
    x.sum().backward()
    np.testing.assert_allclose(alpha.grad.numpy() / N, 1.0, atol=0.01)
    xs = x.detach().numpy()[:5]
    a = np.broadcast_to([0.5, 2.0, 7.0], xs.shape)
    expected = torch._standard_gamma_grad(torch.tensor(a), torch.tensor(xs)).numpy()
    ember.manual_seed(3)
    alpha.grad = None
    random_sample("gamma", (5,), alpha).sum().backward()
    np.testing.assert_allclose(alpha.grad.numpy(), expected.sum(0), rtol=1e-3)  # (PyTorch's approximates)
    # the quantile at the sample's CDF value, moved with alpha
    u = stats.gamma(a).cdf(xs)
    h = 1e-6
    fd = (stats.gamma(a + h).ppf(u) - stats.gamma(a - h).ppf(u)) / (2 * h)
    np.testing.assert_allclose(alpha.grad.numpy(), fd.sum(0), rtol=1e-6)


# --- TF-1: tf.random_gamma / tf.random_poisson (and tf.random.gamma / tf.random.poisson) ----------------------


def test_tf_random_gamma_shape_dtype_rate_and_seed():
    with tf.Graph().as_default():
        alpha = tf.placeholder(tf.float64, [3])
        beta = tf.constant([[1.0], [4.0]], tf.float64)
        x = tf.random_gamma([N // 10, 2], alpha, beta=beta, dtype=tf.float64, seed=3)
        assert tuple(x.shape) == (N // 10, 2, 2, 3) and x.dtype == np.float64
        assert tf.random.gamma is tf.random_gamma
        (grad_alpha,) = tf.gradients(tf.reduce_sum(x), [alpha])
        feed = {alpha: [0.5, 2.0, 5.0]}
        with tf.Session() as s:
            first, g = s.run([x, grad_alpha], feed)
            second = s.run(x, feed)
        with tf.Session() as s:
            again = s.run(x, feed)
    np.testing.assert_array_equal(first, again)  # a seeded op: each Session repeats its draws
    assert not np.array_equal(first, second)
    mean = first.reshape(-1, 2, 3).mean(0)
    np.testing.assert_allclose(mean, np.array([[0.5, 2.0, 5.0], [0.125, 0.5, 1.25]]), rtol=0.03)
    # d x / d alpha averages 1 / beta: N / 10 * 2 draws with each beta
    np.testing.assert_allclose(g / (N // 10 * 2), 1.0 + 0.25, rtol=0.02)


def test_tf_random_gamma_float32_default_and_tiny():
    with tf.Graph().as_default():
        x = tf.random_gamma([1000], 0.01, seed=1)  # many draws underflow: kept at float32's tiny, as TF-1
        assert x.dtype == np.float32 and tuple(x.shape) == (1000,)
        with tf.Session() as s:
            v = s.run(x)
    assert v.dtype == np.float32 and v.min() >= np.finfo(np.float32).tiny
    with pytest.raises(TypeError, match="tf.random_gamma: dtype must be float16, float32 or float64"):
        tf.random_gamma([2], 1.0, dtype=tf.int32)
    with pytest.raises(TypeError, match="tf.random_gamma: alpha .* has dtype float64, expected float32"):
        with tf.Graph().as_default():
            tf.random_gamma([2], tf.constant([1.0], tf.float64))


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32, tf.int64])
def test_tf_random_poisson_lam_first(dtype):
    with tf.Graph().as_default():
        x = tf.random_poisson([1.0, 6.0], [N // 2], dtype=dtype, seed=4)
        y = tf.random.poisson(tf.constant([[1.0, 6.0]]), [3])
        assert tuple(x.shape) == (N // 2, 2) and x.dtype == np.dtype(dtype)
        assert tuple(y.shape) == (3, 1, 2) and y.dtype == np.float32
        with tf.Session() as s:
            v = s.run(x)
        with tf.Session() as s:
            np.testing.assert_array_equal(s.run(x), v)
    assert v.dtype == np.dtype(dtype)
    np.testing.assert_allclose(v.mean(0), [1.0, 6.0], rtol=0.02)
    np.testing.assert_allclose(v.var(0), [1.0, 6.0], rtol=0.03)


def test_tf_random_poisson_refuses_bad_dtypes():
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="tf.random_poisson: dtype must be"):
            tf.random_poisson([1.0], [2], dtype=tf.bool)
        with pytest.raises(TypeError, match="tf.random_poisson: lam .* must be float16, float32 or float64"):
            tf.random_poisson(tf.constant([1, 2]), [2])


# --- PyTorch: ember.poisson, ember._standard_gamma, Gamma/Poisson distributions ------------------------------


def test_poisson_and_standard_gamma_match_torchs_distributions_and_trace():
    torch = pytest.importorskip("torch")
    ember.manual_seed(6)
    rates = ember.full((N,), 3.5, dtype="float64")
    x = ember.poisson(rates).numpy()
    y = torch.poisson(torch.full((N,), 3.5, dtype=torch.float64)).numpy()
    assert x.dtype == y.dtype
    assert stats.ks_2samp(x, y).pvalue > 1e-3 and abs(x.mean() - 3.5) < 5 * np.sqrt(3.5 / N)
    g = ember._standard_gamma(ember.full((N,), 0.7, dtype="float32")).numpy()
    h = torch._standard_gamma(torch.full((N,), 0.7)).numpy()
    assert g.dtype == h.dtype == np.float32
    assert stats.ks_2samp(g, h).pvalue > 1e-3
    assert stats.kstest(g.astype(np.float64), stats.gamma(0.7).cdf).pvalue > 1e-3
    # drawn by the op: an ember.jit function draws afresh on every call (a NumPy draw would be frozen in)
    traced = ember.jit(lambda r: ember.poisson(r) + ember._standard_gamma(r + 1.0))
    assert not np.array_equal(traced(ember.full((8,), 4.0)).numpy(), traced(ember.full((8,), 4.0)).numpy())
    # a generator= draws from it, eagerly, as before
    a = ember._standard_gamma(ember.ones(3), generator=ember.Generator().manual_seed(1)).numpy()
    b = ember._standard_gamma(ember.ones(3), generator=ember.Generator().manual_seed(1)).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="_standard_gamma: alpha must be floating"):
        ember._standard_gamma(ember.tensor([1, 2]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_zero_concentration_draws_the_smallest_normal_number_as_torch(dtype):
    """Gamma(0.), Chi2(0.), Beta(0., 2.) and Dirichlet([0., 2.]) drew NaN; PyTorch clamps each gamma draw up to the
    dtype's tiny (and gives an infinite gradient there). Negative and NaN concentrations stay NaN in the op."""
    torch = pytest.importorskip("torch")
    from ember.distributions import Beta, Chi2, Dirichlet, Gamma

    tiny = np.finfo(dtype).tiny
    x = random_sample("gamma", (3,), ember.tensor([0.0, -1.0, float("nan")], dtype=dtype)).numpy()
    assert (x[:, 0] == tiny).all() and np.isnan(x[:, 1:]).all()
    t = getattr(torch, dtype)
    pairs = [
        (Gamma(ember.tensor(0.0, dtype=dtype), ember.tensor(1.0, dtype=dtype), validate_args=False),
         torch.distributions.Gamma(torch.tensor(0.0, dtype=t), torch.tensor(1.0, dtype=t), validate_args=False)),
        (Chi2(ember.tensor(0.0, dtype=dtype), validate_args=False),
         torch.distributions.Chi2(torch.tensor(0.0, dtype=t), validate_args=False)),
        (Dirichlet(ember.tensor([0.0, 0.0], dtype=dtype), validate_args=False),
         torch.distributions.Dirichlet(torch.tensor([0.0, 0.0], dtype=t), validate_args=False)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours.sample((4,)).numpy(), theirs.sample((4,)).numpy())
    # tiny over the other draw, kept at or above tiny
    beta = Beta(ember.tensor(0.0, dtype=dtype), ember.tensor(2.0, dtype=dtype), validate_args=False).sample((50,))
    dirichlet = Dirichlet(ember.tensor([0.0, 2.0], dtype=dtype), validate_args=False).sample((50,)).numpy()
    for first in (beta.numpy(), dirichlet[:, 0]):
        assert (first >= tiny).all() and (first < 1e6 * tiny).all()
    np.testing.assert_allclose(dirichlet[:, 1], 1.0, rtol=1e-6)
    alpha = ember.tensor([0.0], dtype=dtype, requires_grad=True)
    ember._standard_gamma(alpha).sum().backward()
    torch_alpha = torch.tensor([0.0], dtype=t, requires_grad=True)
    torch._standard_gamma(torch_alpha).sum().backward()
    assert np.isposinf(alpha.grad.numpy()).all() and np.isposinf(torch_alpha.grad.numpy()).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binomial_draws_match_scipy_and_torch_and_trace(dtype):
    """Binomial counts (the op's binomial kind, behind ember.binomial and distributions.Binomial) against SciPy's
    distribution and torch.binomial's draws; NegativeBinomial's Poisson-Gamma mixture against SciPy's nbinom."""
    torch = pytest.importorskip("torch")
    from ember.distributions import Binomial, NegativeBinomial

    ember.manual_seed(9)
    counts, probs = [0.0, 1.0, 12.0, 40.0], [0.3, 0.0, 0.7, 0.05]
    x = random_sample("binomial", (N,), ember.tensor(counts, dtype=dtype), probs=ember.tensor(probs, dtype=dtype))
    assert x.shape == (N, 4) and x.dtype == np.dtype(dtype)
    x = x.numpy()
    assert (x[:, :2] == 0).all()
    for j in (2, 3):
        n, p = counts[j], probs[j]
        assert abs(x[:, j].mean() - n * p) < 5 * np.sqrt(n * p * (1 - p) / N)
        support = np.arange(int(n) + 1)
        empirical = np.searchsorted(np.sort(x[:, j]), support, side="right") / N
        assert np.abs(empirical - stats.binom(n, p).cdf(support)).max() < 1.63 / np.sqrt(N) * 1.5
    t = getattr(torch, dtype)
    ours = ember.binomial(ember.full((N,), 12.0, dtype=dtype), ember.full((N,), 0.7, dtype=dtype))
    theirs = torch.binomial(torch.full((N,), 12.0, dtype=t), torch.full((N,), 0.7, dtype=t))
    assert ours.dtype == np.dtype(dtype) and str(theirs.dtype) == f"torch.{dtype}"
    assert stats.ks_2samp(ours.numpy(), theirs.numpy()).pvalue > 1e-3
    traced = ember.jit(lambda n, p: ember.binomial(n, p))
    n8, p8 = ember.full((8,), 30.0, dtype=dtype), ember.full((8,), 0.5, dtype=dtype)
    assert not np.array_equal(traced(n8, p8).numpy(), traced(n8, p8).numpy())
    b = Binomial(ember.tensor(12.0, dtype=dtype), probs=ember.tensor(0.7, dtype=dtype)).sample((N,)).numpy()
    assert b.dtype == np.dtype(dtype) and abs(b.mean() - 8.4) < 5 * np.sqrt(12 * 0.21 / N)
    nb = NegativeBinomial(ember.tensor(3.5, dtype=dtype), probs=ember.tensor(0.4, dtype=dtype)).sample((N,)).numpy()
    support = np.arange(int(nb.max()) + 1)
    empirical = np.searchsorted(np.sort(nb), support, side="right") / N
    assert np.abs(empirical - stats.nbinom(3.5, 0.6).cdf(support)).max() < 1.63 / np.sqrt(N) * 1.5  # SciPy: p fails


def test_binomial_bad_parameters_are_nan_or_refused():
    out = random_sample("binomial", (2,), ember.tensor([-1.0, float("nan"), 3.0, 3.0]),
                        probs=ember.tensor([0.5, 0.5, 1.5, 1.0])).numpy()
    assert np.isnan(out[:, :3]).all() and (out[:, 3] == 3).all()
    with pytest.raises(ValueError, match="random_sample: a binomial count is negative"):
        random_sample("binomial", (2,), ember.tensor([-1.0]), dtype="int64", probs=ember.tensor([0.5]))
    with pytest.raises(ValueError, match="random_sample: a binomial count 1e\\+19 is too large"):
        random_sample("binomial", (2,), ember.tensor([1e19]), probs=ember.tensor([0.5]))
    with pytest.raises(TypeError, match="probs= is for binomial draws"):
        random_sample("binomial", (2,), ember.tensor([1.0]))
    with pytest.raises(TypeError, match="probs= is for binomial draws"):
        random_sample("poisson", (2,), ember.tensor([1.0]), probs=ember.tensor([0.5]))
    with pytest.raises(ValueError, match="random_sample: the binomial counts and probabilities must have one shape"):
        random_sample("binomial", (2,), ember.tensor([1.0, 2.0]), probs=ember.tensor([0.5]))
