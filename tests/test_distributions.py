"""ember.distributions without PyTorch: sample moments against the distributions' own mean and variance,
``manual_seed`` repeating draws, ``validate_args`` errors, ``register_kl`` dispatch, ``ember.jit``, and two toys that
train with ember.optim (REINFORCE on a bandit, a reparameterized Gaussian fit)."""

import math

import numpy as np
import pytest

import ember
from ember.distributions import (
    Bernoulli,
    Beta,
    Binomial,
    Categorical,
    Cauchy,
    Chi2,
    Dirichlet,
    Distribution,
    Exponential,
    Gamma,
    Independent,
    Laplace,
    MultivariateNormal,
    NegativeBinomial,
    Normal,
    OneHotCategorical,
    Poisson,
    RelaxedBernoulli,
    Uniform,
    constraints,
    kl_divergence,
    register_kl,
)

N = 200_000


def _t(*values, dtype=ember.float64):
    return ember.tensor(np.array(values), dtype=dtype)


MOMENT_CASES = [
    Normal(_t(-1.0, 2.0), _t(0.5, 3.0)),
    Uniform(_t(-2.0, 1.0), _t(0.0, 5.0)),
    Exponential(_t(0.5, 4.0)),
    Laplace(_t(1.0, -3.0), _t(0.3, 2.0)),
    Bernoulli(probs=_t(0.1, 0.5, 0.97)),
    Bernoulli(logits=_t(-2.0, 3.0)),
    OneHotCategorical(probs=_t(0.1, 0.2, 0.7)),
    MultivariateNormal(_t(1.0, -1.0), covariance_matrix=_t([2.0, 0.6], [0.6, 1.0])),
    Independent(Normal(_t(0.0, 1.0), _t(1.0, 2.0)), 1),
    Gamma(_t(0.3, 2.0, 9.0), _t(1.0, 0.5, 3.0)),
    Beta(_t(0.5, 2.0), _t(0.7, 5.0)),
    Dirichlet(_t(0.4, 1.0, 3.0)),
]


@pytest.mark.parametrize("d", MOMENT_CASES, ids=[repr(d) for d in MOMENT_CASES])
def test_sample_moments_match_mean_and_variance(d):
    ember.manual_seed(0)
    x = d.sample((N,)).numpy()
    assert x.shape == (N,) + d.batch_shape + d.event_shape
    mean, var = d.mean.numpy(), d.variance.numpy()
    # within 5 standard errors of the mean (var / N) and of the variance (about sqrt(m4 - var^2) / sqrt(N))
    np.testing.assert_allclose(x.mean(0), mean, atol=5 * np.sqrt(var.max() / N) + 1e-12)
    fourth = ((x - mean) ** 4).mean(0)
    np.testing.assert_allclose(x.var(0), var, atol=5 * np.sqrt(fourth.max() / N) + 1e-12)


def test_categorical_frequencies_follow_probs_and_never_draw_a_zero_probability():
    ember.manual_seed(1)
    probs = np.array([[0.2, 0.0, 0.5, 0.3], [0.0, 0.0, 1.0, 0.0]])
    x = Categorical(probs=ember.tensor(probs)).sample((N,)).numpy()
    assert x.dtype == np.int64 and x.shape == (N, 2)
    freq = np.stack([np.bincount(x[:, i], minlength=4) / N for i in range(2)])
    np.testing.assert_array_equal(freq[probs == 0], 0.0)
    np.testing.assert_allclose(freq, probs, atol=5 * np.sqrt(0.25 / N))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_categorical_and_bernoulli_draws_follow_their_probabilities(dtype):
    # a half-precision cumulative sum dropped the 0.0011 category (bfloat16) and a half-precision u rounded up
    # to the total, drawing the last category of probability 0; Bernoulli(1.0) drew zeros
    ember.manual_seed(0)
    probs = np.array([0.3, 0.3, 0.3989, 0.0011, 0.0, 0.0])
    x = Categorical(probs=ember.tensor(probs).to(dtype)).sample((N,)).numpy()
    freq = np.bincount(x, minlength=6) / N
    np.testing.assert_array_equal(freq[4:], 0.0)
    np.testing.assert_allclose(freq, probs, atol=5 * np.sqrt(0.25 / N))
    y = Bernoulli(probs=ember.tensor([0.0, 0.3, 1.0]).to(dtype)).sample((N,)).to("float32").numpy()
    np.testing.assert_array_equal(y.mean(0)[[0, 2]], [0.0, 1.0])
    assert abs(y.mean(0)[1] - 0.3) < 5 * np.sqrt(0.25 / N)


def test_mvn_sample_covariance_matches():
    ember.manual_seed(2)
    cov = np.array([[2.0, 0.6, 0.1], [0.6, 1.0, -0.3], [0.1, -0.3, 0.5]])
    d = MultivariateNormal(ember.zeros(3, dtype=ember.float64), precision_matrix=ember.tensor(np.linalg.inv(cov)))
    x = d.rsample((N,)).detach().numpy()
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.02)
    np.testing.assert_allclose(d.covariance_matrix.detach().numpy(), cov, atol=1e-12)


@pytest.mark.parametrize("d", MOMENT_CASES + [Categorical(logits=ember.zeros(2, 3))], ids=repr)
def test_manual_seed_repeats_draws(d):
    ember.manual_seed(5)
    first = d.sample((3,)).numpy()
    ember.manual_seed(5)
    np.testing.assert_array_equal(d.sample((3,)).numpy(), first)
    assert not np.array_equal(d.sample((3,)).numpy(), first)


def test_rsample_is_differentiable_and_sample_is_not():
    loc = ember.zeros(3, requires_grad=True)
    d = Normal(loc, 2.0)
    assert not d.sample().requires_grad
    x = d.rsample((4,))
    assert x.requires_grad and x.shape == (4, 3) and x.dtype == ember.float32
    x.sum().backward()
    np.testing.assert_array_equal(loc.grad.numpy(), [4.0, 4.0, 4.0])
    with pytest.raises(NotImplementedError, match="Bernoulli has no rsample"):
        Bernoulli(probs=0.3).rsample()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_beta_and_dirichlet_draws_stay_inside_the_simplex_with_finite_gradients(dtype):
    # a small concentration puts one Gamma draw far below the others: their ratio rounded to exactly 1, where
    # Beta's log density is infinite (PyTorch's sampler draws in float64 and keeps draws in [tiny, 1 - ulp]), and
    # float32 draws underflowed, their gradient NaN or far off
    for a in (0.01, 0.05):
        ember.manual_seed(0)
        c = ember.full((2,), a, dtype=dtype, requires_grad=True)
        x = Beta(c[0], c[1]).rsample((5000,))
        assert x.dtype == c.dtype and 0 < x.detach().numpy().min() and x.detach().numpy().max() < 1
        assert np.isfinite(Beta(c[0], c[1]).log_prob(x.detach()).detach().numpy()).all()
        grad = ember.grad(x.mean(), [c])[0].numpy()
        # d/dc of c1 / (c1 + c0); the estimate's spread over seeds is about 15% at a = 0.01 (underflowed float32
        # draws made it 15 times too large)
        np.testing.assert_allclose(grad, [1 / (4 * a), -1 / (4 * a)], rtol=0.4)
        y = Dirichlet(ember.full((3,), a, dtype=dtype)).sample((5000,)).numpy()
        assert 0 < y.min() and y.max() < 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gamma_draws_a_large_rate_divides_below_tiny_stay_positive(dtype):
    ember.manual_seed(0)
    rate = ember.tensor(1e18, dtype=dtype, requires_grad=True)
    d = Gamma(ember.tensor(0.005, dtype=dtype), rate)
    x = d.rsample((2000,))
    assert x.detach().numpy().min() > 0  # 0 (80% of float32 draws) has the log density +inf
    assert np.isfinite(d.log_prob(x.detach()).detach().numpy()).all()
    (grad,) = ember.grad(x.sum(), [rate])
    np.testing.assert_allclose(grad.numpy(), -(x.detach() / rate.detach()).sum().numpy(), rtol=1e-5)
    with np.errstate(over="ignore"):  # a draw a tiny rate divides past the largest float stays inf, as PyTorch's
        tiny = float(np.finfo(dtype).tiny)
        assert np.isposinf(Gamma(ember.tensor(50.0, dtype=dtype), ember.tensor(tiny, dtype=dtype)).sample((3,))
                           .numpy()).all()


def test_expand_broadcasts_parameters_without_checking_again():
    d = Normal(ember.tensor([0.0, 1.0]), 1.0).expand((3, 2))
    assert d.batch_shape == (3, 2) and d.loc.shape == (3, 2)
    c = Categorical(logits=ember.zeros(4)).expand((5,))
    assert c.batch_shape == (5,) and c.logits.shape == (5, 4) and c.sample((2,)).shape == (2, 5)
    o = OneHotCategorical(probs=ember.ones(3) / 3).expand((2,))
    assert o.batch_shape == (2,) and o.sample().shape == (2, 3)
    m = MultivariateNormal(ember.zeros(2), scale_tril=ember.eye(2)).expand((4,))
    assert m.batch_shape == (4,) and m.log_prob(ember.zeros(4, 2)).shape == (4,)
    i = Independent(Normal(ember.zeros(2, 3), 1.0), 1).expand((5, 2))
    assert (i.batch_shape, i.event_shape) == ((5, 2), (3,))



def test_a_shape_with_a_size_that_is_no_integer_is_refused():
    # int(2.5) drew 2 values silently; PyTorch's torch.Size refuses it
    d = Normal(0.0, 1.0)
    with pytest.raises(TypeError, match=r"shape must be a sequence of integers, got \(2.5,\)"):
        d.sample((2.5,))
    with pytest.raises(TypeError, match="sequence of integers"):
        d.expand((2.0,))
    assert d.sample((np.int64(2), ember.tensor(3))).shape == (2, 3) and d.sample(4).shape == (4,)

# --- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, match", [
    (lambda: Normal(0.0, ember.tensor([1.0, -1.0])), r"Normal: parameter scale .* GreaterThan\(lower_bound=0.0\)"),
    (lambda: Normal(float("nan"), 1.0), r"Normal: parameter loc .* Real\(\)"),
    (lambda: Bernoulli(probs=1.5), r"Bernoulli: parameter probs .* Interval\(lower_bound=0.0, upper_bound=1.0\)"),
    (lambda: Categorical(probs=ember.tensor([-0.5, 1.5])), r"Categorical: parameter probs .* Simplex\(\)"),
    (lambda: Exponential(0.0), r"Exponential: parameter rate .* GreaterThan"),
    (lambda: Laplace(0.0, -2.0), r"Laplace: parameter scale"),
    (lambda: Uniform(1.0, 1.0), r"Uniform: parameters low and high .* low < high"),
    (lambda: MultivariateNormal(ember.zeros(2), covariance_matrix=-ember.eye(2)),
     r"MultivariateNormal: parameter covariance_matrix .* PositiveDefinite\(\)"),
    (lambda: MultivariateNormal(ember.zeros(2), scale_tril=ember.tensor([[1.0, 1.0], [0.0, 1.0]])),
     r"MultivariateNormal: parameter scale_tril .* LowerCholesky\(\)"),
    (lambda: Bernoulli(), "Bernoulli: give either probs or logits, not neither"),
    (lambda: Categorical(probs=ember.ones(2), logits=ember.ones(2)),
     "Categorical: give either probs or logits, not both"),
    (lambda: Categorical(probs=ember.tensor(1.0)), r"Categorical: probs must have at least one dimension"),
    (lambda: MultivariateNormal(ember.zeros(2)),
     "give exactly one of covariance_matrix, precision_matrix or scale_tril"),
    (lambda: MultivariateNormal(ember.zeros(2), covariance_matrix=ember.eye(2), scale_tril=ember.eye(2)),
     "got covariance_matrix, scale_tril"),
    (lambda: MultivariateNormal(ember.zeros(3), covariance_matrix=ember.eye(2)), r"size 3 .* shape \(2, 2\)"),
    (lambda: MultivariateNormal(ember.zeros(4, 2), scale_tril=ember.eye(2).expand(3, 2, 2)), "do not broadcast"),
    (lambda: Independent(Normal(ember.zeros(3), 1.0), 2), r"reinterpreted_batch_ndims \(2\) must be between 0 and"),
    (lambda: Gamma(ember.tensor([1.0, 0.0]), 1.0), r"Gamma: parameter concentration .* GreaterThan"),
    (lambda: Beta(1.0, -1.0), r"Dirichlet: parameter concentration .* IndependentConstraint\(GreaterThan"),
    (lambda: Dirichlet(ember.tensor(1.0)), r"Dirichlet: concentration must have at least one dimension"),
])
def test_bad_parameters_are_value_errors_naming_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make", [
    lambda: Normal(None, 1.0, validate_args=False),
    lambda: Gamma(1.0, None, validate_args=False),
    lambda: RelaxedBernoulli(None, probs=ember.tensor(0.3)),  # temperature has no constraint to catch the NaN
    lambda: MultivariateNormal(None, covariance_matrix=ember.eye(2)),
    lambda: Normal("0", 1.0),
])
def test_a_parameter_given_as_none_or_a_string_is_a_type_error(make):
    # NumPy read None as NaN: Normal(None, 1.0, validate_args=False) drew NaN, as did RelaxedBernoulli's rsample
    with pytest.raises(TypeError, match="a parameter must be a number or a Tensor, got"):
        make()


@pytest.mark.parametrize("d, value, match", [
    (Exponential(1.0), ember.tensor(-1.0), r"Exponential: the value .* support GreaterThanEq\(lower_bound=0.0\)"),
    (Bernoulli(probs=0.5), ember.tensor(0.5), r"Bernoulli: the value .* support Boolean\(\)"),
    (Categorical(logits=ember.zeros(3)), ember.tensor(3), r"IntegerInterval\(lower_bound=0, upper_bound=2\)"),
    (Uniform(0.0, 1.0), ember.tensor(1.5), r"Uniform: the value .* Interval\(lower_bound=0.0, upper_bound=1.0\)"),
    (Normal(ember.zeros(2), 1.0), ember.zeros(3),
     r"value's shape \(3,\) does not broadcast with the batch shape \(2,\)"),
    (MultivariateNormal(ember.zeros(2), scale_tril=ember.eye(2)), ember.zeros(3),
     r"must end in the event shape \(2,\)"),
    (OneHotCategorical(logits=ember.zeros(3)), ember.tensor([1.0, 1.0, 0.0]), r"support OneHot\(\)"),
])
def test_values_outside_the_support_are_value_errors(d, value, match):
    with pytest.raises(ValueError, match=match):
        d.log_prob(value)


@pytest.mark.parametrize("make, match", [
    (lambda: Categorical(probs=ember.tensor([float("nan"), 0.5, 0.5])), "Categorical.sample"),
    (lambda: Categorical(probs=ember.tensor([-0.5, 0.5, 1.0])), "Categorical.sample"),
    (lambda: Categorical(probs=ember.zeros(3)), "Categorical.sample"),
    (lambda: Categorical(logits=ember.tensor([0.0, float("inf")])), "Categorical.sample"),
    (lambda: OneHotCategorical(probs=ember.tensor([[0.5, 0.5], [-1.0, 2.0]])), "Categorical.sample"),
    (lambda: Bernoulli(probs=ember.tensor([0.5, 1.5])), "Bernoulli.sample"),
    (lambda: Bernoulli(probs=ember.tensor([float("nan")])), "Bernoulli.sample"),
    # NumPy's samplers refused these without naming the distribution; a NaN Poisson rate drew NaN, where PyTorch
    # refuses it; a NaN Dirichlet concentration drew NaN (PyTorch's tiny numbers come from its clamp's NaN compare)
    (lambda: Poisson(ember.tensor([1.0, -1.0])), "Poisson.sample: the rate"),
    (lambda: Poisson(ember.tensor(float("nan"))), "Poisson.sample: the rate"),
    (lambda: Binomial(5, probs=ember.tensor(float("nan"))), "Binomial.sample"),
    (lambda: Binomial(ember.tensor(-1.0), probs=ember.tensor(0.5)), "Binomial.sample: total_count"),
    (lambda: NegativeBinomial(ember.tensor(-1.0), probs=ember.tensor(0.5)), "NegativeBinomial.sample"),
    (lambda: NegativeBinomial(5.0, probs=ember.tensor(float("nan"))), "NegativeBinomial.sample"),
    (lambda: Gamma(ember.tensor(-1.0), 1.0), "Gamma.sample: the concentration"),
    (lambda: Chi2(ember.tensor(float("nan"))), "Gamma.sample: the concentration"),
    (lambda: Dirichlet(ember.tensor([float("nan"), 2.0])), "Dirichlet.sample: the concentration"),
    (lambda: Beta(ember.tensor(-1.0), 2.0), "Dirichlet.sample: the concentration"),
])
def test_sampling_unvalidated_invalid_probabilities_is_refused(make, match):
    # with validate_args=False these drew (NaN probabilities gave category 0, 1.5 gave ones), where PyTorch's
    # samplers refuse them
    Distribution.set_default_validate_args(False)
    try:
        d = make()
    finally:
        Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match=match):
        d.sample((3,))

def test_validate_args_false_skips_the_checks_and_the_default_can_be_changed():
    with np.errstate(invalid="ignore"):
        assert math.isnan(Normal(0.0, -1.0, validate_args=False).log_prob(ember.tensor(0.0)).item())
    assert Exponential(1.0, validate_args=False).log_prob(ember.tensor(-1.0)).item() == pytest.approx(1.0)
    Distribution.set_default_validate_args(False)
    try:
        Normal(0.0, -1.0)
    finally:
        Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="expected True or False"):
        Distribution.set_default_validate_args("yes")


def test_constraints_check_elementwise_and_per_event():
    assert constraints.positive.check(ember.tensor([1.0, 0.0])).numpy().tolist() == [True, False]
    assert constraints.simplex.check(ember.tensor([[0.5, 0.5], [0.5, 0.6]])).numpy().tolist() == [True, False]
    assert constraints.independent(constraints.real, 1).event_dim == 1
    # 1000 equal float32 probabilities: their float32 sum over the last axis is 1.3e-6 off, past the tolerance,
    # so Categorical(probs=ones(1000)) was refused
    assert bool(constraints.simplex.check(ember.full((2, 1000), 1e-3)).all())
    Categorical(probs=ember.ones(4, 1000))


# --- KL dispatch ------------------------------------------------------------------------------------------


def test_kl_divergence_of_a_distribution_with_itself_is_zero():
    for d in MOMENT_CASES + [Categorical(probs=ember.tensor([0.3, 0.7]))]:
        np.testing.assert_allclose(kl_divergence(d, d).numpy(), 0.0, atol=1e-12)


def test_register_kl_picks_the_most_specific_pair_and_unknown_pairs_are_named():
    class Narrow(Normal):
        pass

    @register_kl(Narrow, Normal)
    def _kl_narrow_normal(p, q):
        return ember.tensor(-1.0)

    p, q = Narrow(0.0, 1.0), Normal(1.0, 1.0)
    assert kl_divergence(p, q).item() == -1.0
    assert kl_divergence(q, Normal(1.0, 1.0)).item() == 0.0  # the Normal-Normal rule still serves plain Normals
    with pytest.raises(NotImplementedError, match="no KL divergence registered for Normal and Cauchy"):
        kl_divergence(q, Cauchy(1.0, 1.0))  # (Normal and Exponential is registered, infinite, as PyTorch's)
    with pytest.raises(TypeError, match="register_kl: expected subclasses of Distribution"):
        register_kl(int, Normal)


def test_register_kl_prefers_the_pair_most_specific_in_p_and_warns_of_an_ambiguity():
    """As PyTorch's: the pair of the subtype in p wins over one whose types sum fewer steps up (q's subtype)."""
    class Narrow(Normal):
        pass

    class Narrower(Narrow):
        pass

    @register_kl(Narrower, Normal)
    def _kl_p_specific(p, q):
        return ember.tensor(1.0)

    @register_kl(Narrow, Narrower)
    def _kl_q_specific(p, q):
        return ember.tensor(2.0)

    with pytest.warns(RuntimeWarning, match=r"Ambiguous kl_divergence\(Narrower, Narrower\)"):
        assert kl_divergence(Narrower(0.0, 1.0), Narrower(0.0, 1.0)).item() == 1.0
    assert kl_divergence(Narrow(0.0, 1.0), Narrower(0.0, 1.0)).item() == 2.0


def test_parameters_given_as_python_floats_take_the_default_dtype():
    """As PyTorch's: they were float32 whatever set_default_dtype said."""
    default = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    try:
        assert Beta(2.0, 3.0).concentration1.dtype == ember.float64
        assert Gamma(2.0, 3.0).rate.dtype == ember.float64
        assert kl_divergence(Normal(0.0, 1.0), Normal(1.0, 2.0)).dtype == ember.float64
    finally:
        ember.set_default_dtype(default)
    assert Normal(0.0, 1.0).loc.dtype == ember.float32


# --- graph mode and training ------------------------------------------------------------------------------


def test_under_jit_log_prob_and_its_gradient_equal_eager_and_rsample_draws_anew():
    x = ember.tensor(np.linspace(-2, 2, 6).astype(np.float32))

    def step(loc, scale):
        loss = -Normal(loc, scale).log_prob(x).sum() + kl_divergence(Normal(loc, scale), Normal(0.0, 1.0)).sum()
        loss.backward()
        return loss, Normal(loc, scale).rsample((2,))

    traced = ember.jit(step)
    results = []
    for fn in (step, traced, traced):
        loc = ember.tensor([0.5], requires_grad=True)
        scale = ember.tensor([1.5], requires_grad=True)
        loss, sample = fn(loc, scale)
        results.append((loss.item(), loc.grad.numpy().copy(), scale.grad.numpy().copy(), sample.detach().numpy()))
    for loss, g_loc, g_scale, sample in results[1:]:
        assert loss == pytest.approx(results[0][0], rel=1e-6)
        np.testing.assert_allclose(g_loc, results[0][1], rtol=1e-6)
        np.testing.assert_allclose(g_scale, results[0][2], rtol=1e-6)
        assert sample.shape == (2, 1)
    assert not np.array_equal(results[1][3], results[2][3])


def test_gamma_family_sampling_draws_afresh_under_ember_jit():
    # the random_sample op takes and advances Ember's generator state: each call of the traced function draws anew
    traced = ember.jit(lambda c: Gamma(c, 1.0).rsample())
    first, second = traced(ember.ones(3)).numpy(), traced(ember.ones(3)).numpy()
    assert first.shape == (3,) and (first > 0).all() and not np.array_equal(first, second)
    # their densities need no draw and trace as any composition of ops
    log_prob = ember.jit(lambda c, x: Beta(c, 2.0).log_prob(x))
    for _ in range(2):
        np.testing.assert_allclose(log_prob(ember.tensor([2.0]), ember.tensor([0.3])).numpy(),
                                   Beta(ember.tensor([2.0]), 2.0).log_prob(ember.tensor([0.3])).numpy(), rtol=1e-6)


def test_reinforce_learns_the_best_arm_of_a_bandit():
    ember.manual_seed(0)
    rewards = ember.tensor([0.1, 0.2, 0.9, 0.4])
    logits = ember.zeros(4, requires_grad=True)
    opt = ember.optim.Adam([logits], lr=0.05)
    for _ in range(200):
        policy = Categorical(logits=logits)
        actions = policy.sample((32,))
        reward = rewards[actions] + 0.1 * ember.randn(32)
        advantage = reward - reward.mean()
        loss = -(policy.log_prob(actions) * advantage).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    probs = Categorical(logits=logits).probs.detach().numpy()
    assert probs[2] > 0.95, probs


def test_a_reparameterized_gaussian_fit_reaches_the_target():
    # minimize the Monte Carlo estimate of KL(q || p) with q = N(mu, softplus(rho)^2) and p = N(3, 0.5^2)
    ember.manual_seed(0)
    target = Normal(3.0, 0.5)
    mu = ember.zeros(1, requires_grad=True)
    rho = ember.zeros(1, requires_grad=True)
    opt = ember.optim.Adam([mu, rho], lr=0.05)
    for _ in range(400):
        q = Normal(mu, ember.nn.functional.softplus(rho))
        z = q.rsample((64,))
        loss = (q.log_prob(z) - target.log_prob(z)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    q = Normal(mu, ember.nn.functional.softplus(rho))
    assert abs(mu.item() - 3.0) < 0.05 and abs(q.scale.item() - 0.5) < 0.05
    assert kl_divergence(q, target).item() < 0.01
