"""The transforms and the distributions beyond the first families without PyTorch: sample moments against their
own mean and variance, validation errors, transform caching and inverses, ``biject_to`` for optimization, mixtures,
``ember.jit``, and NumPy-drawn samples refused while tracing."""

import math

import numpy as np
import pytest

import ember
from ember.distributions import (
    Binomial,
    Categorical,
    Cauchy,
    Chi2,
    Geometric,
    Gumbel,
    HalfCauchy,
    HalfNormal,
    Kumaraswamy,
    LogNormal,
    LowRankMultivariateNormal,
    MixtureSameFamily,
    Multinomial,
    NegativeBinomial,
    Normal,
    Pareto,
    Poisson,
    RelaxedBernoulli,
    RelaxedOneHotCategorical,
    StudentT,
    TransformedDistribution,
    VonMises,
    Weibull,
    biject_to,
    constraints,
    kl_divergence,
    transforms,
)

N = 200_000


def _t(*values):
    return ember.tensor(np.array(values), dtype=ember.float64)


MOMENT_CASES = [
    LogNormal(_t(0.0, -0.5), _t(0.3, 0.5)),
    Gumbel(_t(1.0, -2.0), _t(0.5, 2.0)),
    Weibull(_t(1.0, 2.0), _t(0.8, 3.0)),
    Pareto(_t(1.0, 0.5), _t(5.0, 6.0)),
    HalfNormal(_t(0.5, 2.0)),
    StudentT(_t(5.0, 9.0), _t(1.0, -1.0), _t(0.5, 2.0)),
    Chi2(_t(0.5, 4.0)),
    Poisson(_t(0.3, 4.0, 40.0)),
    Binomial(_t(1.0, 10.0), probs=_t(0.3, 0.8)),
    Geometric(probs=_t(0.2, 0.9)),
    NegativeBinomial(_t(2.0, 7.5), probs=_t(0.3, 0.6)),
    Multinomial(7, probs=_t(0.2, 0.3, 0.5)),
    Kumaraswamy(_t(0.7, 2.0), _t(1.5, 3.0)),
    MixtureSameFamily(Categorical(probs=_t(0.3, 0.7)), Normal(_t(-2.0, 1.0), _t(0.5, 1.0))),
    LowRankMultivariateNormal(_t(1.0, 0.0, -1.0), _t([1.0], [0.5], [-0.3]), _t(0.5, 1.0, 0.2)),
]


@pytest.mark.parametrize("d", MOMENT_CASES, ids=[type(d).__name__ for d in MOMENT_CASES])
def test_sample_moments_match_mean_and_variance(d):
    ember.manual_seed(0)
    x = d.sample((N,)).numpy()
    assert x.shape == (N,) + d.batch_shape + d.event_shape
    assert bool(d.support.check(ember.tensor(x)).all())
    mean, var = d.mean.numpy(), d.variance.numpy()
    # within 5 standard errors of the mean; the variance within 5 standard errors from the sample's 4th moment
    np.testing.assert_allclose(x.mean(0), mean, atol=5 * np.sqrt(var.max() / N))
    m4 = ((x - mean) ** 4).mean(0)
    np.testing.assert_allclose(x.var(0), var, atol=5 * np.sqrt((m4 - var ** 2).max() / N) + 1e-12)


def test_heavy_tailed_samples_follow_their_cdf():
    # no finite variance: compare the empirical CDF at a few quantiles (Kolmogorov's bound, 1.63 / sqrt(N) at 99%);
    # Student's t with one degree of freedom is the standard Cauchy
    ember.manual_seed(1)
    for d, reference in [(Cauchy(_t(1.0), _t(2.0)), None), (HalfCauchy(_t(0.5)), None),
                         (Pareto(_t(1.0), _t(0.8)), None), (StudentT(_t(1.0)), Cauchy(_t(0.0), _t(1.0)))]:
        x = d.sample((N,)).numpy()[:, 0]
        for q in [0.1, 0.3, 0.5, 0.7, 0.9]:
            at = (reference or d).icdf(_t(q)).numpy()[0]
            assert abs((x <= at).mean() - q) < 1.63 / math.sqrt(N)


def test_von_mises_samples_follow_the_circular_moments():
    ember.manual_seed(2)
    d = VonMises(_t(2.5, -1.0, 0.0), _t(4.0, 0.5, 1e-6))
    x = d.sample((N,)).numpy()
    assert x.min() >= -math.pi and x.max() < math.pi
    resultant = np.exp(1j * (x - d.loc.numpy())).mean(0)
    np.testing.assert_allclose(resultant.real, 1 - d.variance.numpy(), atol=0.01)
    np.testing.assert_allclose(np.angle(resultant[:2]), 0.0, atol=0.02)


def test_relaxed_samples_tend_to_discrete_draws_at_low_temperature():
    ember.manual_seed(3)
    probs = _t(0.2, 0.7)
    x = RelaxedBernoulli(_t(0.05), probs=probs).sample((N,)).numpy()
    np.testing.assert_allclose((x > 0.5).mean(0), probs.numpy(), atol=0.01)
    assert ((x < 0.05) | (x > 0.95)).mean() > 0.9
    y = RelaxedOneHotCategorical(_t(0.05), probs=_t(0.2, 0.3, 0.5)).sample((N,)).numpy()
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.bincount(y.argmax(-1), minlength=3) / N, [0.2, 0.3, 0.5], atol=0.01)


def test_discrete_log_probs_sum_to_one_over_the_support():
    k = ember.tensor(np.arange(300.0), dtype=ember.float64).reshape(-1, 1)
    for d in [Poisson(_t(0.5, 7.0)), Geometric(probs=_t(0.3, 0.8)), NegativeBinomial(_t(3.0, 0.5), probs=_t(0.4, 0.2)),
              Binomial(_t(9.0, 9.0), probs=_t(0.3, 0.95))]:
        values = d.enumerate_support() if d.has_enumerate_support else k
        np.testing.assert_allclose(np.exp(d.log_prob(values).numpy()).sum(0), 1.0, rtol=1e-9)


def test_transformed_distribution_log_prob_is_the_change_of_variables():
    base = Normal(_t(0.2, -0.4), _t(1.0, 0.5))
    d = TransformedDistribution(base, [transforms.AffineTransform(1.0, -2.0), transforms.ExpTransform()])
    y = _t(0.5, 3.0)
    x = np.log(y.numpy())
    expected = base.log_prob(ember.tensor((x - 1.0) / -2.0)).numpy() - np.log(2.0) - x
    np.testing.assert_allclose(d.log_prob(y).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(d.cdf(d.icdf(_t(0.25, 0.8))).numpy(), [0.25, 0.8], rtol=1e-12)  # decreasing map
    assert d.support is transforms.ExpTransform.codomain and not d.has_enumerate_support


def test_transform_caching_returns_the_cached_inverse_and_equality():
    t = transforms.ExpTransform(cache_size=1)
    x = _t(1e-20, 2.0)
    y = t(x)
    assert t.inv(y) is x and t(x) is y
    assert transforms.ExpTransform().inv(y) is not x
    assert t.inv.inv is t and t == transforms.ExpTransform() and t.inv == transforms.ExpTransform().inv
    assert transforms.AffineTransform(0.0, 2.0) != transforms.AffineTransform(0.0, 3.0)
    assert transforms.ComposeTransform([t]).inv.parts[0] == t.inv
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        transforms.ExpTransform(cache_size=2)
    with pytest.raises(NotImplementedError, match="AbsTransform has no log_abs_det_jacobian"):
        transforms.AbsTransform().log_abs_det_jacobian(x, x)


def test_biject_to_lets_an_optimizer_fit_constrained_parameters():
    # fit a Gamma-like LogNormal's scale and a simplex by gradient steps on unconstrained values
    target = _t(0.1, 0.3, 0.6)
    raw = ember.zeros(2, dtype=ember.float64, requires_grad=True)
    opt = ember.optim.Adam([raw], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        probs = biject_to(constraints.simplex)(raw)
        loss = ((probs - target) ** 2).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(biject_to(constraints.simplex)(raw).detach().numpy(), target.numpy(), atol=1e-3)


@pytest.mark.parametrize("make, match", [
    (lambda: LogNormal(0.0, -1.0), "Normal: parameter scale"),
    (lambda: Gumbel(0.0, ember.tensor([1.0, 0.0])), "Gumbel: parameter scale"),
    (lambda: Weibull(1.0, -2.0), "Weibull: parameter concentration"),
    (lambda: Pareto(-1.0, 2.0), "Pareto: parameter scale"),
    (lambda: HalfNormal(ember.tensor([-1.0])), "HalfNormal: parameter scale"),
    (lambda: Cauchy(0.0, 0.0), "Cauchy: parameter scale"),
    (lambda: StudentT(-1.0), "StudentT: parameter df"),
    (lambda: Chi2(ember.tensor([0.0])), "Chi2: parameter df"),
    (lambda: Poisson(ember.tensor([-0.5])), "Poisson: parameter rate"),
    (lambda: Binomial(2.5, probs=ember.tensor(0.5)), "Binomial: parameter total_count"),
    (lambda: Binomial(2, probs=ember.tensor(1.5)), "Binomial: parameter probs"),
    (lambda: Geometric(probs=ember.tensor([0.0])), r"Geometric: probs .* must be in \(0, 1\]"),
    (lambda: NegativeBinomial(2.0, probs=ember.tensor(1.0)), "NegativeBinomial: parameter probs"),
    (lambda: Multinomial(2.0, probs=ember.ones(2)), "Multinomial: total_count must be an int"),
    (lambda: Multinomial(2, probs=ember.tensor([-1.0, 2.0])), "Categorical: parameter probs"),
    (lambda: Multinomial(-1, probs=ember.ones(2)), "Multinomial: total_count must be nonnegative, got -1"),
    (lambda: VonMises(0.0, -1.0), "VonMises: parameter concentration"),
    (lambda: Kumaraswamy(1.0, -1.0), "Kumaraswamy: parameter concentration0"),
    (lambda: RelaxedBernoulli(ember.tensor(0.5), probs=ember.tensor(2.0)), "LogitRelaxedBernoulli: parameter probs"),
    (lambda: LowRankMultivariateNormal(ember.zeros(3), ember.ones(2, 1), ember.ones(3)), "cov_factor must be"),
    (lambda: LowRankMultivariateNormal(ember.zeros(2), ember.ones(2, 1), -ember.ones(2)), "parameter cov_diag"),
    (lambda: MixtureSameFamily(Categorical(logits=ember.zeros(2)), Normal(ember.zeros(3), 1.0)),
     "2 categories but the components' last batch dimension has 3"),
    (lambda: MixtureSameFamily(Normal(0.0, 1.0), Normal(ember.zeros(3), 1.0)), "must be a Categorical"),
    (lambda: TransformedDistribution(Normal(0.0, 1.0), transforms.StickBreakingTransform()), "at least 1 dimensions"),
    (lambda: TransformedDistribution(Normal(0.0, 1.0), [lambda x: x]), "must be Transforms"),
])
def test_bad_parameters_are_errors_naming_the_distribution_and_argument(make, match):
    with pytest.raises((ValueError, TypeError, NotImplementedError), match=match):
        make()


@pytest.mark.parametrize("d, value, match", [
    (LogNormal(0.0, 1.0), ember.tensor([-1.0]), "LogNormal: the value"),
    (Poisson(ember.tensor([1.0])), ember.tensor([1.5]), "Poisson: the value"),
    (Binomial(3, probs=ember.tensor([0.5])), ember.tensor([4.0]), "Binomial: the value"),
    (Pareto(ember.tensor([2.0]), 1.0), ember.tensor([1.0]), "Pareto: the value"),
    (Kumaraswamy(1.0, 1.0), ember.tensor(1.5), "Kumaraswamy: the value"),
    (Multinomial(3, probs=ember.ones(2)), ember.tensor([2.0, 2.0]), "Multinomial: the value"),
    (LowRankMultivariateNormal(ember.zeros(3), ember.ones(3, 1), ember.ones(3)), ember.zeros(2), "event shape"),
])
def test_values_outside_the_support_are_value_errors(d, value, match):
    with pytest.raises(ValueError, match=match):
        d.log_prob(value)


def test_kl_of_transformed_distributions_uses_the_bases_and_equals_itself_zero():
    p, q = LogNormal(_t(0.3), _t(0.7)), LogNormal(_t(-0.2), _t(1.4))
    np.testing.assert_allclose(kl_divergence(p, q).numpy(), kl_divergence(p.base_dist, q.base_dist).numpy())
    for d in [Gumbel(_t(1.0), _t(2.0)), Poisson(_t(3.0)), Geometric(probs=_t(0.3)), Cauchy(_t(0.0), _t(1.0)),
              Pareto(_t(1.0), _t(2.0)), Binomial(_t(4.0), probs=_t(0.3)), HalfNormal(_t(2.0))]:
        np.testing.assert_allclose(kl_divergence(d, d).numpy(), 0.0, atol=1e-12)


def test_under_jit_new_distributions_log_prob_gradients_equal_eager_and_rsample_draws_anew():
    x = ember.tensor(np.linspace(0.2, 3.0, 6).astype(np.float32))

    def step(loc, scale):
        loss = -LogNormal(loc, scale).log_prob(x).sum() - Gumbel(loc, scale).log_prob(x).sum()
        loss = loss + kl_divergence(Gumbel(loc, scale), Normal(0.0, 1.0)).sum()
        loss.backward()
        return loss, Gumbel(loc, scale).rsample((2,))

    traced = ember.jit(step)
    results = []
    for fn in (step, traced, traced):
        loc = ember.tensor([0.5], requires_grad=True)
        scale = ember.tensor([1.5], requires_grad=True)
        loss, sample = fn(loc, scale)
        results.append((loss.item(), loc.grad.numpy().copy(), scale.grad.numpy().copy(), sample.detach().numpy()))
    for loss, g_loc, g_scale, sample in results[1:]:
        assert loss == pytest.approx(results[0][0], rel=1e-6)
        np.testing.assert_allclose(g_loc, results[0][1], rtol=1e-5)
        np.testing.assert_allclose(g_scale, results[0][2], rtol=1e-5)
        assert sample.shape == (2, 1)
    assert not np.array_equal(results[1][3], results[2][3])


def test_poisson_samples_draw_afresh_under_ember_jit():
    traced = ember.jit(lambda r: Poisson(r).sample((50,)))
    first, second = traced(ember.full((3,), 5.0)).numpy(), traced(ember.full((3,), 5.0)).numpy()
    assert first.shape == (50, 3) and not np.array_equal(first, second)


def test_binomial_and_negative_binomial_samples_draw_afresh_under_ember_jit_and_seeds_repeat_them():
    # they were NumPy draws made eagerly, refused while ember.jit traced
    for make in [lambda r: Binomial(50, probs=r / 2), lambda r: NegativeBinomial(20.0, logits=r)]:
        traced = ember.jit(lambda r, make=make: make(r).sample((20,)))
        ember.manual_seed(8)
        first, second = traced(ember.ones(3)).numpy(), traced(ember.ones(3)).numpy()
        assert first.shape == (20, 3) and not np.array_equal(first, second)
        ember.manual_seed(8)
        np.testing.assert_array_equal(traced(ember.ones(3)).numpy(), first)
        ember.manual_seed(8)
        np.testing.assert_array_equal(make(ember.ones(3)).sample((20,)).numpy(), first)  # eager draws the same


def test_mixture_samples_pick_one_component_per_draw():
    ember.manual_seed(4)
    d = MixtureSameFamily(Categorical(probs=_t(0.25, 0.75)), Normal(_t(-100.0, 100.0), _t(1e-3, 1e-3)))
    x = d.sample((N,)).numpy()
    assert np.all(np.minimum(np.abs(x + 100), np.abs(x - 100)) < 0.01)
    assert abs((x > 0).mean() - 0.75) < 0.01


def test_mixture_whose_weights_broadcast_over_the_batch_picks_a_component_per_member():
    # weights of batch shape () for components of batch shape (3, 2): one choice was shared by the whole batch
    # (the members' draws identical in their component), and sample((3,)) took the i-th draw's choice for member i
    ember.manual_seed(4)
    means = ember.tensor(np.array([[-100.0, 100.0]] * 3))
    d = MixtureSameFamily(Categorical(probs=_t(0.5, 0.5)), Normal(means, ember.full((3, 2), 1e-3, dtype="float64")))
    n = 30_000
    for shape in [(n,), (n // 3, 3)]:
        x = d.sample(shape).numpy().reshape(n, 3) > 0
        assert abs(x.mean() - 0.5) < 0.02
        assert abs(np.corrcoef(x.T)[0, 1]) < 0.05  # the members choose independently


def test_mixture_whose_weights_have_the_larger_batch_has_their_batch_shape():
    # weights of batch (4,) for components of batch (1, 2): the batch shape was (1,) though log_prob and mean
    # have 4 members, and sample failed to broadcast
    ember.manual_seed(4)
    weights = ember.tensor(np.array([[0.9, 0.1], [0.1, 0.9], [0.5, 0.5], [1.0, 0.0]]))
    d = MixtureSameFamily(Categorical(probs=weights), Normal(ember.tensor(np.array([[0.0, 10.0]])), 1.0))
    assert d.batch_shape == (4,) and d.log_prob(ember.tensor([0.5])).shape == (4,)
    x = d.sample((20_000,)).numpy()
    assert x.shape == (20_000, 4)
    np.testing.assert_allclose(x.mean(0), d.mean.numpy(), atol=0.1)


def test_affine_log_jacobian_over_an_event_counts_a_shared_scale_once_per_element():
    t = transforms.AffineTransform(0.0, _t(2.0).reshape(()), event_dim=1)
    x = ember.zeros((4, 3), dtype=ember.float64)
    np.testing.assert_allclose(t.log_abs_det_jacobian(x, t(x)).numpy(), np.full(4, 3 * math.log(2.0)), rtol=1e-12)


def test_probs_first_read_under_no_grad_keep_their_gradient():
    """sample() reads the lazily computed probs under no_grad; the kept value must still carry the gradient."""
    logits = ember.tensor([0.1, 0.2, 0.3], requires_grad=True)
    d = Categorical(logits=logits)
    d.sample()
    (g,) = ember.grad(d.probs[0], [logits])
    p = np.exp([0.1, 0.2, 0.3]) / np.exp([0.1, 0.2, 0.3]).sum()
    np.testing.assert_allclose(g.numpy(), p[0] * (np.eye(3)[0] - p), rtol=1e-6)
