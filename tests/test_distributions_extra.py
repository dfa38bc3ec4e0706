"""ContinuousBernoulli, FisherSnedecor, GeneralizedPareto, InverseGamma, Wishart, LKJCholesky,
OneHotCategoricalStraightThrough, the new transforms and constraints without PyTorch: sample moments against the
distributions' own mean and variance, errors naming the distribution or transform, dependent constraints, Wishart's
reparameterized draws, and ember.jit."""

import numpy as np
import pytest

import ember

RNG = np.random.default_rng(5)
N = 200_000


def _reals(*shape):
    return RNG.normal(size=shape)


def _spd(*batch, k=3):
    a = RNG.normal(size=batch + (k, k))
    return a @ np.swapaxes(a, -1, -2) + k * np.eye(k)


def _t(*values):
    return ember.tensor(np.array(values), dtype=ember.float64)


MOMENT_CASES = [
    ember.distributions.InverseGamma(_t(5.0, 9.0), _t(1.0, 3.0)),
    ember.distributions.FisherSnedecor(_t(3.0, 10.0), _t(12.0, 20.0)),
    ember.distributions.ContinuousBernoulli(probs=_t(0.1, 0.5, 0.9)),
    ember.distributions.GeneralizedPareto(_t(0.0, 1.0), _t(1.0, 2.0), _t(-0.4, 0.1)),
    ember.distributions.OneHotCategoricalStraightThrough(probs=_t(0.2, 0.3, 0.5)),
]


@pytest.mark.parametrize("d", MOMENT_CASES, ids=[type(d).__name__ for d in MOMENT_CASES])
def test_sample_moments_match_mean_and_variance(d):
    ember.manual_seed(0)
    x = d.sample((N,)).numpy()
    assert x.shape == (N,) + d.batch_shape + d.event_shape
    assert bool(d.support.check(ember.tensor(x)).all())
    mean, var = d.mean.numpy(), d.variance.numpy()
    np.testing.assert_allclose(x.mean(0), mean, atol=5 * np.sqrt(var.max() / N))
    m4 = ((x - mean) ** 4).mean(0)
    np.testing.assert_allclose(x.var(0), var, atol=5 * np.sqrt((m4 - var ** 2).max() / N) + 1e-12)

def test_invalid_parameters_are_refused_naming_them():
    with pytest.raises(ValueError, match="ContinuousBernoulli: parameter probs"):
        ember.distributions.ContinuousBernoulli(probs=ember.tensor([1.5]))
    with pytest.raises(ValueError, match="InverseGamma|Gamma: parameter concentration"):
        ember.distributions.InverseGamma(ember.tensor([-1.0]), ember.tensor([1.0]))
    with pytest.raises(ValueError, match="FisherSnedecor: parameter df2"):
        ember.distributions.FisherSnedecor(ember.tensor([1.0]), ember.tensor([0.0]))
    with pytest.raises(ValueError, match="GeneralizedPareto: the value"):
        d = ember.distributions.GeneralizedPareto(ember.tensor(0.0), ember.tensor(1.0), ember.tensor(-0.5))
        d.log_prob(ember.tensor(2.5))  # beyond loc - scale / xi = 2

def test_dependent_constraints():
    C = ember.distributions.constraints
    assert C.is_dependent(C.dependent) and not C.is_dependent(C.real)
    made = C.dependent(is_discrete=True, event_dim=1)
    assert C.is_dependent(made) and made.is_discrete and made.event_dim == 1

    class Box:
        low = 2.0

        @C.dependent_property(is_discrete=False, event_dim=1)
        def support(self):
            return C.greater_than(self.low)

    assert C.is_dependent(Box.support) and Box.support.event_dim == 1
    assert Box().support.lower_bound == 2.0
    with pytest.raises(ValueError, match="dependent"):
        C.dependent.check(ember.zeros(2))

def test_transforms_refuse_values_of_the_wrong_size():
    T = ember.distributions.transforms
    with pytest.raises(ValueError, match="CatTransform"):
        T.CatTransform([T.ExpTransform(), T.ExpTransform()], dim=0, lengths=[2, 2])(ember.zeros(3))
    with pytest.raises(ValueError, match="StackTransform"):
        T.StackTransform([T.ExpTransform(), T.ExpTransform()], dim=0)(ember.zeros(3))
    with pytest.raises(ValueError, match="ReshapeTransform"):
        T.ReshapeTransform((4,), (3, 2))
    with pytest.raises(ValueError, match="CorrCholeskyTransform"):
        T.CorrCholeskyTransform().forward_shape((5,))

def test_transform_to_matrices():
    C, x = ember.distributions.constraints, ember.tensor(_reals(2, 3, 3))
    for constraint in (C.lower_cholesky, C.positive_definite, C.positive_semidefinite):
        y = ember.distributions.transform_to(constraint)(x)
        assert bool(constraint.check(y).all())

def test_wishart_rsample_moments_and_gradients():
    """Bartlett draws: the sample mean df S, and the Monte Carlo gradient of E[sum(w X)] in df and in the scale's
    factor L against the closed form's (E[X] = df L L^T)."""
    df_np, factor_np = np.array([4.0, 7.0]), np.linalg.cholesky(_spd(2))
    df, factor = ember.tensor(df_np, requires_grad=True), ember.tensor(factor_np, requires_grad=True)
    d = ember.distributions.Wishart(df, scale_tril=factor)
    ember.manual_seed(0)
    n = 40_000
    x = d.rsample((n,))
    assert x.shape == (n, 2, 3, 3) and bool(d.support.check(x[:100]).all())
    cov = factor_np @ np.swapaxes(factor_np, -1, -2)
    mean = df_np[:, None, None] * cov
    standard_error = np.sqrt(d.variance.detach().numpy() / n).max()
    np.testing.assert_allclose(x.detach().numpy().mean(0), mean, atol=5 * standard_error)
    w = RNG.normal(size=(3, 3))
    g_df, g_factor = ember.grad((x * ember.tensor(w)).sum() / n, [df, factor])
    np.testing.assert_allclose(g_df.numpy(), (cov * w).sum((-1, -2)), rtol=0.05)
    exact = df_np[:, None, None] * (w + w.T) @ factor_np
    np.testing.assert_allclose(g_factor.numpy(), exact, rtol=0.05, atol=0.05 * np.abs(exact).max())

def test_wishart_refuses_too_few_degrees_of_freedom():
    with pytest.warns(UserWarning, match="Wishart: df below the dimension"):
        ember.distributions.Wishart(ember.tensor(2.5), covariance_matrix=ember.eye(3))
    with pytest.raises(ValueError, match="Wishart: df must be greater than"):
        ember.distributions.Wishart(ember.tensor(1.5), covariance_matrix=ember.eye(3))
    with pytest.raises(ValueError, match="Wishart: give exactly one"):
        ember.distributions.Wishart(ember.tensor(4.0))

def test_under_jit_log_prob_gradients_equal_eager_and_rsample_draws_anew():
    x = ember.tensor(np.linspace(0.1, 0.9, 5))

    def step(p, xi):
        loss = -ember.distributions.ContinuousBernoulli(probs=p).log_prob(x).sum()
        loss = loss - ember.distributions.GeneralizedPareto(0.0, 1.0, xi).log_prob(x).sum()
        loss.backward()
        return loss, ember.distributions.ContinuousBernoulli(probs=p).rsample((3,))

    traced = ember.jit(step)
    results = []
    for fn in (step, traced, traced):
        p = ember.tensor([0.3], dtype=ember.float64, requires_grad=True)
        xi = ember.tensor([0.2], dtype=ember.float64, requires_grad=True)
        loss, sample = fn(p, xi)
        results.append((loss.item(), p.grad.numpy().copy(), xi.grad.numpy().copy(), sample.detach().numpy()))
    for loss, g_p, g_xi, sample in results[1:]:
        assert loss == pytest.approx(results[0][0], rel=1e-12)
        np.testing.assert_allclose(g_p, results[0][1], rtol=1e-12)
        np.testing.assert_allclose(g_xi, results[0][2], rtol=1e-12)
        assert sample.shape == (3, 1)
    assert not np.array_equal(results[1][3], results[2][3])

def test_wishart_draws_singular_samples_again():
    """With df just above p - 1 some Bartlett draws are singular in floating point; rsample draws those again."""
    with pytest.warns(UserWarning, match="df below the dimension"):
        d = ember.distributions.Wishart(ember.tensor(np.full(4000, 2.0001), dtype=ember.float32),
                                        scale_tril=ember.eye(3) * 1e-3, validate_args=False)
    ember.manual_seed(0)
    once = d._bartlett_sampling((1,))
    assert not bool(d.support.check(once).all())  # the plain draw has singular matrices
    ember.manual_seed(0)
    corrected = d.rsample((1,), max_try_correction=50)
    assert bool(d.support.check(corrected).all())


def test_lkj_cholesky_samples_follow_the_marginal_of_a_correlation():
    """Each correlation of an LKJ(eta) matrix of size d is 2 Beta(b, b) - 1 with b = eta - 1 + d / 2: mean 0 and
    variance 1 / (2 eta + d - 1), the same for every pair."""
    eta, dim = np.array([0.5, 2.0]), 4
    d = ember.distributions.LKJCholesky(dim, ember.tensor(eta))
    ember.manual_seed(0)
    factor = d.sample((20_000,)).numpy()
    assert factor.shape == (20_000, 2, dim, dim) and bool(d.support.check(ember.tensor(factor[:200])).all())
    rows, cols = np.tril_indices(dim, -1)
    off = (factor @ np.swapaxes(factor, -1, -2))[..., rows, cols]
    expected = np.broadcast_to((1 / (2 * eta + dim - 1))[:, None], off.shape[1:])
    np.testing.assert_allclose(off.mean(0), 0.0, atol=0.02)
    np.testing.assert_allclose(off.var(0), expected, rtol=0.05)
    assert not d.has_rsample
