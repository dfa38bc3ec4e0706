"""ContinuousBernoulli, FisherSnedecor, GeneralizedPareto, InverseGamma, Wishart, LKJCholesky and
OneHotCategoricalStraightThrough, the transforms CatTransform, StackTransform, ReshapeTransform,
CorrCholeskyTransform, LowerCholeskyTransform, PositiveDefiniteTransform and CumulativeDistributionTransform, and the
constraints PyTorch adds for them, against torch.distributions: values and parameter gradients of log_prob, cdf/icdf,
entropy and the moments, rsample's gradients, support and arg_constraints, and sample moments."""

import numpy as np
import pytest
from test_torch_distributions import _compare, _positive, _simplex

import ember

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)


def _reals(*shape):
    return RNG.normal(size=shape)


CASES = [
    ("InverseGamma", lambda D, a, b: D.InverseGamma(a, b), lambda: [_positive(3) * 3, _positive(2, 3)],
     lambda: [_positive(4, 2, 3)], ["log_prob", "entropy", "mean", "mode", "variance"]),
    ("InverseGamma small concentration", lambda D, a, b: D.InverseGamma(a, b), lambda: [_positive(3), _positive(3)],
     lambda: [_positive(4, 3)], ["log_prob", "entropy", "mean", "mode", "variance"]),
    # df2 > 4 (PyTorch's moments put NaN where they are undefined and then compute with it: NaN gradients)
    ("FisherSnedecor", lambda D, d1, d2: D.FisherSnedecor(d1, d2), lambda: [_positive(3) * 4, 4.5 + _positive(2, 3)],
     lambda: [_positive(4, 2, 3)], ["log_prob", "mean", "mode", "variance"]),
    ("ContinuousBernoulli probs", lambda D, p: D.ContinuousBernoulli(probs=p),
     lambda: [np.array([0.05, 0.3, 0.4995, 0.5, 0.5004, 0.7, 0.97])], lambda: [RNG.uniform(0.01, 0.99, (4, 7))],
     ["log_prob", "cdf", "icdf", "entropy", "mean", "variance", "stddev", "logits"]),
    ("ContinuousBernoulli logits", lambda D, lg: D.ContinuousBernoulli(logits=lg), lambda: [_reals(2, 3) * 2],
     lambda: [RNG.uniform(0.01, 0.99, (4, 2, 3))], ["log_prob", "cdf", "icdf", "entropy", "mean", "variance", "probs"]),
    ("OneHotCategoricalStraightThrough", lambda D, p: D.OneHotCategoricalStraightThrough(probs=p),
     lambda: [_simplex(2, 4)], lambda: [np.eye(4)[RNG.integers(0, 4, (3, 2))]],
     ["log_prob", "entropy", "mean", "variance"]),
]

METHODS = {"log_prob": lambda d, v: d.log_prob(v), "cdf": lambda d, v: d.cdf(v), "entropy": lambda d, v: d.entropy(),
           "icdf": lambda d, v: d.icdf(d.cdf(v))}


@pytest.mark.parametrize("name, build, params, values, quantities", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_torch(name, build, params, values, quantities):
    ps, vs = params(), values()
    for q in quantities:
        _compare(build, ps, vs, METHODS.get(q, lambda d, v, q=q: getattr(d, q)), atol=1e-8)


def test_fisher_snedecor_moments_are_nan_where_undefined():
    d = ember.distributions.FisherSnedecor(ember.tensor([1.0, 3.0, 5.0]), ember.tensor([1.5, 3.0, 5.0]))
    t = torch.distributions.FisherSnedecor(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([1.5, 3.0, 5.0]))
    for q in ("mean", "mode", "variance"):
        np.testing.assert_array_equal(getattr(d, q).numpy(), getattr(t, q).numpy())


def test_generalized_pareto_matches_scipy_and_torch():
    """Against SciPy's genpareto in float64 (PyTorch's GeneralizedPareto fails on float64 parameters: it compares
    them with a float32 zero), against PyTorch in float32; gradients of log_prob against PyTorch's in float32."""
    stats = pytest.importorskip("scipy.stats")
    loc, scale, xi = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.5, 2.0]), np.array([-0.3, 0.0, 0.4])
    upper = np.where(xi < 0, loc - scale / np.where(xi < 0, xi, -1.0), loc + 10.0)
    x = loc + (upper - loc) * RNG.uniform(0.05, 0.95, (4, 3))
    d = ember.distributions.GeneralizedPareto(ember.tensor(loc), ember.tensor(scale), ember.tensor(xi))
    ref = stats.genpareto(xi, loc, scale)
    np.testing.assert_allclose(d.log_prob(ember.tensor(x)).numpy(), ref.logpdf(x), rtol=1e-12)
    np.testing.assert_allclose(d.cdf(ember.tensor(x)).numpy(), ref.cdf(x), rtol=1e-12)
    u = RNG.uniform(0.01, 0.99, (4, 3))
    np.testing.assert_allclose(d.icdf(ember.tensor(u)).numpy(), ref.ppf(u), rtol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), ref.entropy(), rtol=1e-12)
    mean, var = d.mean.numpy(), d.variance.numpy()
    np.testing.assert_allclose(mean, ref.mean(), rtol=1e-12)
    np.testing.assert_allclose(var, ref.var(), rtol=1e-12)
    support = d.support
    assert bool(support.check(ember.tensor(x)).all())
    np.testing.assert_allclose(support.upper_bound.numpy()[0], upper[0])
    assert support.upper_bound.numpy()[1] == np.inf
    f32 = [a.astype(np.float32) for a in (loc, scale, xi)]
    ours = ember.distributions.GeneralizedPareto(*[ember.tensor(a, requires_grad=True) for a in f32])
    theirs = torch.distributions.GeneralizedPareto(*[torch.tensor(a, requires_grad=True) for a in f32])
    a = ours.log_prob(ember.tensor(x.astype(np.float32)))
    b = theirs.log_prob(torch.tensor(x.astype(np.float32)))
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5)
    ga = ember.grad(a.sum(), [ours.loc, ours.scale, ours.concentration])
    gb = torch.autograd.grad(b.sum(), [theirs.loc, theirs.scale, theirs.concentration])
    for g, h in zip(ga, gb):
        np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-4, atol=1e-5)
    for q in ("mean", "variance", "mode"):
        np.testing.assert_allclose(getattr(ours, q).detach().numpy(), getattr(theirs, q).detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.entropy().detach().numpy(), theirs.entropy().detach().numpy(), rtol=1e-5)
    assert ember.distributions.constraints.is_dependent(ember.distributions.GeneralizedPareto.support)


# --- rsample: the same uniform noise through both libraries' inverse CDFs ---------------------------------------

ICDF_RSAMPLE = [
    ("ContinuousBernoulli", lambda D, p: D.ContinuousBernoulli(probs=p),
     lambda: [np.array([0.1, 0.4999, 0.5003, 0.8])]),
    ("ContinuousBernoulli logits", lambda D, lg: D.ContinuousBernoulli(logits=lg), lambda: [_reals(2, 3)]),
]


@pytest.mark.parametrize("name, build, params", ICDF_RSAMPLE, ids=[c[0] for c in ICDF_RSAMPLE])
def test_rsample_and_its_gradients_match_torch_with_the_same_noise(name, build, params):
    ps = params()
    ours = [ember.tensor(p, requires_grad=True) for p in ps]
    theirs = [torch.tensor(p, requires_grad=True) for p in ps]
    d, t = build(ember.distributions, *ours), build(torch.distributions, *theirs)
    assert d.has_rsample and t.has_rsample
    ember.manual_seed(5)
    x = d.rsample((6,))
    ember.manual_seed(5)
    u = torch.tensor(ember.rand((6,) + d.batch_shape, dtype=ember.float64).numpy())
    y = t.icdf(u)  # PyTorch's rsample is icdf(rand)
    np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.normal(size=tuple(x.shape))
    g_ours = ember.grad((x * x * ember.tensor(w)).sum(), ours)
    g_theirs = torch.autograd.grad((y * y * torch.tensor(w)).sum(), theirs)
    for a, b in zip(g_ours, g_theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)


def test_straight_through_rsample_is_a_one_hot_draw_with_the_gradient_of_probs():
    logits = ember.tensor(_reals(2, 4), requires_grad=True)
    d = ember.distributions.OneHotCategoricalStraightThrough(logits=logits)
    x = d.rsample((3,))
    assert x.shape == (3, 2, 4) and bool(d.support.check(x).all())
    w = _reals(3, 2, 4)
    (g,) = ember.grad((x * ember.tensor(w)).sum(), [logits])
    t_logits = torch.tensor(logits.detach().numpy(), requires_grad=True)
    probs = torch.softmax(t_logits, -1)
    (expected,) = torch.autograd.grad((probs * torch.tensor(w)).sum(0).sum(), [t_logits])
    np.testing.assert_allclose(g.numpy(), expected.numpy(), rtol=1e-10)
    assert torch.distributions.OneHotCategoricalStraightThrough(logits=t_logits).has_rsample


# --- samples: moments and support --------------------------------------------------------------------------------


SHAPES = [
    lambda D, m: D.InverseGamma(m.ones(2, 1), m.ones(3)),
    lambda D, m: D.FisherSnedecor(m.ones(2, 1), m.ones(3)),
    lambda D, m: D.ContinuousBernoulli(logits=m.zeros(2, 3)),
    lambda D, m: D.GeneralizedPareto(m.zeros(2, 1), m.ones(3), m.zeros(3)),
    lambda D, m: D.OneHotCategoricalStraightThrough(probs=m.ones(2, 3)),
    lambda D, m: D.InverseGamma(m.ones(2), m.ones(2)).expand((4, 2)),
    lambda D, m: D.ContinuousBernoulli(probs=m.ones(2) * 0.3).expand((3, 2)),
]


def _constraint_name(c):
    return type(c).__name__.lstrip("_").removesuffix("Constraint")


@pytest.mark.parametrize("build", SHAPES)
def test_shapes_flags_support_and_arg_constraints_match_torch(build):
    ours, theirs = build(ember.distributions, ember), build(torch.distributions, torch)
    assert ours.batch_shape == tuple(theirs.batch_shape) and ours.event_shape == tuple(theirs.event_shape)
    assert ours.has_rsample == theirs.has_rsample
    assert tuple(ours.sample((5,)).shape) == tuple(theirs.sample((5,)).shape)
    assert _constraint_name(ours.support) == _constraint_name(theirs.support)
    assert ours.support.event_dim == theirs.support.event_dim
    assert sorted(ours.arg_constraints) == sorted(theirs.arg_constraints)
    for name, constraint in ours.arg_constraints.items():
        assert _constraint_name(constraint) == _constraint_name(theirs.arg_constraints[name])


# --- constraints -------------------------------------------------------------------------------------------------


def _matrices():
    a = RNG.normal(size=(4, 3, 3))
    spd = a @ np.swapaxes(a, -1, -2)
    psd = np.stack([np.outer(v, v) for v in RNG.normal(size=(4, 3))])
    cholesky = np.linalg.cholesky(spd)
    corr = cholesky / np.linalg.norm(cholesky, axis=-1, keepdims=True)
    return np.concatenate([a, spd, psd, corr, np.tril(a), -spd])


CONSTRAINT_CASES = [
    (lambda C: C.lower_triangular, _matrices), (lambda C: C.square, _matrices),
    (lambda C: C.square, lambda: _reals(2, 3, 4)), (lambda C: C.symmetric, _matrices),
    (lambda C: C.positive_semidefinite, _matrices), (lambda C: C.corr_cholesky, _matrices),
    (lambda C: C.positive_integer, lambda: RNG.integers(-1, 4, (5, 4)) + 0.5 * (RNG.random((5, 4)) < 0.2)),
    (lambda C: C.less_than(0.5), lambda: _reals(5, 6)),
    (lambda C: C.multinomial(5), lambda: RNG.integers(-1, 4, (6, 3)).astype(np.float64)),
    (lambda C: C.cat([C.positive, C.real, C.interval(0, 1)], dim=1, lengths=[2, 3, 1]), lambda: _reals(5, 6)),
    (lambda C: C.cat([C.simplex, C.real_vector], dim=0, lengths=[2, 3]), lambda: np.abs(_reals(5, 2))),
    (lambda C: C.stack([C.positive, C.real, C.unit_interval], dim=-1), lambda: RNG.uniform(-0.5, 1.5, (6, 3))),
]


@pytest.mark.parametrize("make, values", CONSTRAINT_CASES)
def test_constraints_check_as_torchs(make, values):
    x = values()
    ours, theirs = make(ember.distributions.constraints), make(torch.distributions.constraints)
    np.testing.assert_array_equal(ours.check(ember.tensor(x)).numpy(), theirs.check(torch.tensor(x)).numpy())
    assert ours.event_dim == theirs.event_dim and ours.is_discrete == theirs.is_discrete


# --- transforms --------------------------------------------------------------------------------------------------


def _both(make):
    return make(ember.distributions), make(torch.distributions)


TRANSFORM_CASES = [
    ("Reshape", lambda D: D.transforms.ReshapeTransform((2, 3), (3, 2)), lambda: _reals(4, 2, 3)),
    ("Cat dim 0", lambda D: D.transforms.CatTransform(
        [D.transforms.ExpTransform(), D.transforms.identity_transform, D.transforms.SigmoidTransform()],
        dim=0, lengths=[2, 1, 3]), lambda: _reals(6, 4)),
    ("Cat dim -1 with vectors", lambda D: D.transforms.CatTransform(
        [D.transforms.IndependentTransform(D.transforms.ExpTransform(), 1), D.transforms.TanhTransform()],
        dim=-1, lengths=[3, 2]),
     lambda: _reals(4, 5)),
    ("Stack", lambda D: D.transforms.StackTransform(
        [D.transforms.ExpTransform(), D.transforms.TanhTransform(), D.transforms.AffineTransform(1.0, 3.0)], dim=1),
     lambda: _reals(4, 3, 2) * 0.5),
    ("CorrCholesky", lambda D: D.transforms.CorrCholeskyTransform(), lambda: _reals(5, 6)),
    ("CorrCholesky 2x2", lambda D: D.transforms.CorrCholeskyTransform(), lambda: _reals(3, 1)),
    ("CumulativeDistribution", lambda D: D.transforms.CumulativeDistributionTransform(
        D.Normal(torch.tensor([0.5, -1.0], dtype=torch.float64) if D is torch.distributions
                 else ember.tensor([0.5, -1.0], dtype=ember.float64), 2.0)), lambda: _reals(4, 2)),
]


@pytest.mark.parametrize("name, make, values", TRANSFORM_CASES, ids=[c[0] for c in TRANSFORM_CASES])
def test_transforms_match_torch(name, make, values):
    x = values()
    ours, theirs = _both(make)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = ours(xe), theirs(xt)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.inv(ye).detach().numpy(), x, rtol=1e-9, atol=1e-10)
    le, lt = ours.log_abs_det_jacobian(xe, ye), theirs.log_abs_det_jacobian(xt, yt)
    np.testing.assert_allclose(le.detach().numpy(), lt.detach().numpy(), rtol=1e-10, atol=1e-12)
    w1, w2 = RNG.normal(size=tuple(yt.shape)), RNG.normal(size=tuple(lt.shape))
    (ge,) = ember.grad((ye * ember.tensor(w1)).sum() + (le * ember.tensor(w2)).sum(), [xe])
    (gt,) = torch.autograd.grad((yt * torch.tensor(w1)).sum() + (lt * torch.tensor(w2)).sum(), [xt])
    np.testing.assert_allclose(ge.numpy(), gt.numpy(), rtol=1e-8, atol=1e-10)
    assert ours.forward_shape(x.shape) == tuple(theirs.forward_shape(x.shape))
    assert ours.inverse_shape(tuple(yt.shape)) == tuple(theirs.inverse_shape(yt.shape))
    assert ours.bijective == theirs.bijective
    assert ours.domain.event_dim == theirs.domain.event_dim
    assert ours.codomain.event_dim == theirs.codomain.event_dim
    if name != "Cat dim -1 with vectors":  # pieces of different event dims: their checks do not concatenate
        assert bool(ours.codomain.check(ye).all()) and bool(ours.domain.check(xe).all())


@pytest.mark.parametrize("name", ["LowerCholeskyTransform", "PositiveDefiniteTransform"])
def test_matrix_transforms_match_torch(name):
    x = _reals(4, 3, 3)
    ours, theirs = getattr(ember.distributions.transforms, name)(), getattr(torch.distributions.transforms, name)()
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = ours(xe), theirs(xt)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.inv(ye).detach().numpy(), theirs.inv(yt).detach().numpy(), rtol=1e-9, atol=1e-12)
    w = RNG.normal(size=x.shape)
    (ge,) = ember.grad((ye * ember.tensor(w)).sum(), [xe])
    (gt,) = torch.autograd.grad((yt * torch.tensor(w)).sum(), [xt])
    np.testing.assert_allclose(ge.numpy(), gt.numpy(), rtol=1e-10)
    assert bool(ours.codomain.check(ye).all())
    with pytest.raises(NotImplementedError):
        ours.log_abs_det_jacobian(xe, ye)


BIJECT_CASES = [
    ("biject_to", lambda C: C.corr_cholesky, 6), ("transform_to", lambda C: C.less_than(2.0), 4),
    ("biject_to", lambda C: C.cat([C.positive, C.interval(-1.0, 2.0)], dim=-1, lengths=[2, 3]), 5),
    ("transform_to", lambda C: C.stack([C.positive, C.real, C.unit_interval], dim=-1), 3),
]


@pytest.mark.parametrize("registry, make, size", BIJECT_CASES)
def test_biject_to_and_transform_to_the_new_constraints(registry, make, size):
    x = _reals(2, size)
    ours = getattr(ember.distributions, registry)(make(ember.distributions.constraints))
    theirs = getattr(torch.distributions, registry)(make(torch.distributions.constraints))
    ye, yt = ours(ember.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(ye.numpy(), yt.numpy(), rtol=1e-12, atol=1e-14)
    assert bool(make(ember.distributions.constraints).check(ye).all())


# --- Wishart and LKJCholesky -------------------------------------------------------------------------------------


def _spd(*batch, k=3):
    a = RNG.normal(size=batch + (k, k))
    return a @ np.swapaxes(a, -1, -2) + k * np.eye(k)


def _wishart_values():
    return [np.stack([np.linalg.inv(_spd()) * 4 for _ in range(8)]).reshape(4, 2, 3, 3)]


MATRIX_CASES = [
    ("Wishart covariance", lambda D, df, m: D.Wishart(df, covariance_matrix=m),
     lambda: [np.array([3.5, 7.0]), _spd(2)], _wishart_values,
     ["log_prob", "entropy", "mean", "mode", "variance", "scale_tril", "precision_matrix"]),
    ("Wishart precision", lambda D, df, m: D.Wishart(df, precision_matrix=m),
     lambda: [np.array(5.0), _spd(2)], _wishart_values, ["log_prob", "entropy", "mean", "covariance_matrix"]),
    ("Wishart scale_tril", lambda D, df, m: D.Wishart(df, scale_tril=m),
     lambda: [np.array([4.0, 3.5]), np.linalg.cholesky(_spd(2))], _wishart_values,
     ["log_prob", "entropy", "mean", "mode", "variance"]),
    ("LKJCholesky", lambda D, c: D.LKJCholesky(4, c), lambda: [np.array([0.4, 1.0, 3.0])],
     lambda: [torch.distributions.LKJCholesky(4, torch.tensor(1.5, dtype=torch.float64)).sample((5, 3)).numpy()],
     ["log_prob"]),
]


@pytest.mark.parametrize("name, build, params, values, quantities", MATRIX_CASES, ids=[c[0] for c in MATRIX_CASES])
def test_matrix_distributions_match_torch(name, build, params, values, quantities):
    ps, vs = params(), values()
    for q in quantities:
        _compare(build, ps, vs, METHODS.get(q, lambda d, v, q=q: getattr(d, q)), atol=1e-8)


def test_lkj_cholesky_first_correlation_matches_torchs_samples():
    """PyTorch's onion sampler draws row k's squared norm from Beta(k / 2 + 1 / 2, ...) past row 1 (Beta(k / 2, ...)
    in the method): its first correlation alone has the LKJ marginal, which ember's share (the others are tested
    against the marginal in test_distributions_extra.py)."""
    eta, dim = np.array([0.5, 2.0]), 4
    ember.manual_seed(0)
    factor = ember.distributions.LKJCholesky(dim, ember.tensor(eta)).sample((20_000,)).numpy()
    torch.manual_seed(0)
    t = torch.distributions.LKJCholesky(dim, torch.tensor(eta)).sample((20_000,)).numpy()
    ours = (factor @ np.swapaxes(factor, -1, -2))[..., 1, 0]
    theirs = (t @ np.swapaxes(t, -1, -2))[..., 1, 0]
    np.testing.assert_allclose(ours.var(0), theirs.var(0), rtol=0.08)
    np.testing.assert_allclose(ours.var(0), 1 / (2 * eta + dim - 1), rtol=0.05)
    assert not torch.distributions.LKJCholesky(dim, 1.0).has_rsample


def test_lkj_cholesky_and_wishart_shapes_and_constraints_match_torch():
    for build in (lambda D, m: D.LKJCholesky(3, m.ones(2) * 0.5),
                  lambda D, m: D.LKJCholesky(3, 0.5).expand((4,)),
                  lambda D, m: D.Wishart(m.ones(2) * 9, covariance_matrix=m.eye(3)),
                  lambda D, m: D.Wishart(m.ones(2) * 9, scale_tril=m.eye(3)).expand((3, 2))):
        ours, theirs = build(ember.distributions, ember), build(torch.distributions, torch)
        assert ours.batch_shape == tuple(theirs.batch_shape) and ours.event_shape == tuple(theirs.event_shape)
        assert tuple(ours.sample((2,)).shape) == tuple(theirs.sample((2,)).shape)
        assert _constraint_name(ours.support) == _constraint_name(theirs.support)
        assert sorted(ours.arg_constraints) == sorted(theirs.arg_constraints)
    with pytest.raises(ValueError, match="LKJCholesky: dim"):
        ember.distributions.LKJCholesky(1)


@pytest.mark.parametrize("make, mean", [
    (lambda D, p: D.InverseGamma(p[0], p[1]), lambda p: p[1] / (p[0] - 1)),
    (lambda D, p: D.FisherSnedecor(p[0], p[1]), lambda p: p[1] / (p[1] - 2)),
    (lambda D, p: D.GeneralizedPareto(p[0], p[1], p[2] - 5.0), lambda p: p[0] + p[1] / (6.0 - p[2])),
], ids=["InverseGamma", "FisherSnedecor", "GeneralizedPareto"])
def test_rsample_gradients_of_the_mean_estimate_agree_with_torch_and_the_closed_form(make, mean):
    """The noise differs (each library draws its own): the Monte Carlo gradient of E[x] in the parameters against
    PyTorch's estimate and the closed form's gradient."""
    p_np, n = np.array([6.0, 9.0, 4.7]), 400_000
    ember.manual_seed(0)
    torch.manual_seed(0)
    p, t = ember.tensor(p_np, requires_grad=True), torch.tensor(p_np, requires_grad=True)
    (ours,) = ember.grad(make(ember.distributions, p).rsample((n,)).sum() / n, [p])
    (theirs,) = torch.autograd.grad(make(torch.distributions, t).rsample((n,)).sum() / n, [t])
    exact_t = torch.tensor(p_np, requires_grad=True)
    (exact,) = torch.autograd.grad(mean(exact_t), [exact_t])
    np.testing.assert_allclose(ours.numpy(), exact.numpy(), rtol=0.05, atol=0.01)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0.05, atol=0.01)


# --- KL divergences with ContinuousBernoulli ---------------------------------------------------------------------

def _cb_probs(*shape):
    return RNG.choice([0.1, 0.3, 0.4995, 0.5002, 0.7, 0.95], size=shape)


KL_CASES = [
    ("CB-CB", lambda D, a, b: (D.ContinuousBernoulli(probs=a), D.ContinuousBernoulli(probs=b)),
     lambda: [_cb_probs(2, 3), _cb_probs(3)]),
    ("CB logits-CB", lambda D, a, b: (D.ContinuousBernoulli(logits=a), D.ContinuousBernoulli(probs=b)),
     lambda: [_reals(3), _cb_probs(3)]),
    ("Beta-CB", lambda D, a, b, c: (D.Beta(a, b), D.ContinuousBernoulli(probs=c)),
     lambda: [_positive(3), _positive(3), _cb_probs(2, 3)]),
    ("Uniform-CB", lambda D, a, b, c: (D.Uniform(a, b), D.ContinuousBernoulli(probs=c)),
     lambda: [np.array([0.1, 0.0, 0.3]), np.array([0.8, 0.5, 1.0]), _cb_probs(3)]),
    ("CB-Exponential", lambda D, a, b: (D.ContinuousBernoulli(probs=a), D.Exponential(b)),
     lambda: [_cb_probs(3), _positive(2, 3)]),
    ("CB-Normal", lambda D, a, b, c: (D.ContinuousBernoulli(probs=a), D.Normal(b, c)),
     lambda: [_cb_probs(3), _reals(3), _positive(3)]),
    ("CB-Uniform", lambda D, a, b, c: (D.ContinuousBernoulli(probs=a), D.Uniform(b, c)),
     lambda: [_cb_probs(3), np.array([-0.5, 0.0, -1.0]), np.array([1.5, 2.0, 1.0])]),
    ("CB-Pareto", lambda D, a, b, c: (D.ContinuousBernoulli(probs=a), D.Pareto(b, c)),
     lambda: [_cb_probs(3), _positive(3), _positive(3)]),
    ("Normal-CB", lambda D, a, b, c: (D.Normal(a, b), D.ContinuousBernoulli(probs=c)),
     lambda: [_reals(2, 3), _positive(2, 3), _cb_probs(3)]),
    ("Gamma-CB", lambda D, a, b, c: (D.Gamma(a, b), D.ContinuousBernoulli(probs=c)),
     lambda: [_positive(3), _positive(3), _cb_probs(3)]),
    ("Exponential-CB", lambda D, a, b: (D.Exponential(a), D.ContinuousBernoulli(probs=b)),
     lambda: [_positive(3), _cb_probs(3)]),
    ("Gumbel-CB", lambda D, a, b, c: (D.Gumbel(a, b), D.ContinuousBernoulli(probs=c)),
     lambda: [_reals(3), _positive(3), _cb_probs(3)]),
    ("Laplace-CB", lambda D, a, b, c: (D.Laplace(a, b), D.ContinuousBernoulli(probs=c)),
     lambda: [_reals(3), _positive(3), _cb_probs(3)]),
    ("Pareto-CB", lambda D, a, b, c: (D.Pareto(a, b), D.ContinuousBernoulli(probs=c)),
     lambda: [_positive(3), _positive(3), _cb_probs(3)]),
]


def _kl(pq):
    lib = ember if isinstance(pq[0], ember.distributions.Distribution) else torch
    return lib.distributions.kl_divergence(*pq)


@pytest.mark.parametrize("name, build, params", KL_CASES, ids=[c[0] for c in KL_CASES])
def test_kl_divergence_matches_torch(name, build, params):
    _compare(build, params(), [], _kl)


def test_kl_divergence_of_two_wisharts_matches_torch():
    # it was not registered; PyTorch's comes from its exponential-family fallback, which has no gradient for p's
    # parameters (they are detached) and mixes up the matrices of batches that broadcast: compared per matrix
    a, b = RNG.normal(size=(2, 2, 3, 3))
    cov_p = a @ np.swapaxes(a, -1, -2) + 3 * np.eye(3)
    cov_q = b[0] @ b[0].T + 3 * np.eye(3)
    df_p, df_q = np.array([3.5, 7.0]), np.array(5.0)
    ours = [ember.tensor(v, requires_grad=True) for v in (df_p, cov_p, df_q, cov_q)]
    D = ember.distributions
    kl = D.kl_divergence(D.Wishart(ours[0], covariance_matrix=ours[1]),
                         D.Wishart(ours[2], precision_matrix=ember.linalg.inv(ours[3])))
    kl.sum().backward()
    theirs = [torch.tensor(v, requires_grad=True) for v in (df_q, cov_q)]
    for i in range(2):
        want = torch.distributions.kl_divergence(
            torch.distributions.Wishart(torch.tensor(df_p[i]), covariance_matrix=torch.tensor(cov_p[i])),
            torch.distributions.Wishart(theirs[0], precision_matrix=torch.linalg.inv(theirs[1])))
        np.testing.assert_allclose(kl.detach().numpy()[i], want.item(), rtol=1e-12)
        want.backward()
    np.testing.assert_allclose(ours[2].grad.numpy(), theirs[0].grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours[3].grad.numpy(), theirs[1].grad.numpy(), rtol=1e-10, atol=1e-14)

    def kl_at(df):
        return D.kl_divergence(D.Wishart(ember.tensor(df), covariance_matrix=ember.tensor(cov_p)),
                               D.Wishart(ember.tensor(df_q), covariance_matrix=ember.tensor(cov_q))).numpy()

    np.testing.assert_allclose(ours[0].grad.numpy(), (kl_at(df_p + 1e-6) - kl_at(df_p - 1e-6)) / 2e-6, rtol=1e-6)
    p = D.Wishart(ours[0], covariance_matrix=ours[1])
    np.testing.assert_allclose(D.kl_divergence(p, p).detach().numpy(), [0.0, 0.0], atol=1e-12)


def test_positive_definite_checks_symmetry_with_pytorch_tolerance_and_refuses_non_square_matrices():
    # a covariance symmetric to 5e-6 (PyTorch's isclose tolerance) was refused; a non-square one was a ShapeError,
    # a NaN one a LinAlgError
    near = np.array([[2.0, 1.0], [1.0 + 5e-6, 2.0]])
    for m in (near, near * 100, np.array([[2.0, 1.0], [1.1, 2.0]]), -np.eye(2), np.ones((4, 2, 3)),
              np.full((2, 2), np.nan)):
        got = ember.distributions.constraints.positive_definite.check(ember.tensor(m)).numpy()
        np.testing.assert_array_equal(got, torch.distributions.constraints.positive_definite.check(torch.tensor(m)))
    # an infinite variance is no covariance (PyTorch's float64 Cholesky takes it, its float32 one does not)
    assert not ember.distributions.constraints.positive_definite.check(ember.tensor([[np.inf, 0.0], [0.0, 1.0]]))
    for dtype in ("float32", "float64"):
        d = ember.distributions.MultivariateNormal(ember.zeros(2, dtype=dtype),
                                                   covariance_matrix=ember.tensor(near, dtype=dtype))
        assert d.batch_shape == () and d.event_shape == (2,)
