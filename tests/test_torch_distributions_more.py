"""The transforms, TransformedDistribution and the distributions beyond the first families (LogNormal, Gumbel,
Weibull, Pareto, HalfNormal, HalfCauchy, Relaxed*, Cauchy, StudentT, Chi2, Poisson, Binomial, Geometric,
NegativeBinomial, Multinomial, VonMises, Kumaraswamy, MixtureSameFamily, LowRankMultivariateNormal) against
torch.distributions: values and parameter gradients of log_prob, cdf/icdf, entropy and the moments, KL divergences,
rsample gradients with the same noise, shapes and flags."""

import numpy as np
import pytest
from test_torch_distributions import _compare, _positive, _simplex, _tensors

import ember

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1)


def _reals(*shape):
    return RNG.normal(size=shape)


def _counts(*shape, high=6):
    return RNG.integers(0, high, shape).astype(np.float64)


CASES = [
    ("LogNormal", lambda D, loc, s: D.LogNormal(loc, s), lambda: [_reals(2, 3), _positive(3)],
     lambda: [_positive(4, 2, 3)], ["log_prob", "cdf", "icdf", "entropy", "mean", "mode", "variance"]),
    ("Gumbel", lambda D, loc, s: D.Gumbel(loc, s), lambda: [_reals(3), _positive(2, 3)],
     lambda: [_reals(4, 2, 3)], ["log_prob", "cdf", "icdf", "entropy", "mean", "mode", "variance", "stddev"]),
    ("Weibull", lambda D, s, c: D.Weibull(s, c), lambda: [_positive(3), _positive(2, 3) * 1.5],
     lambda: [_positive(4, 2, 3)], ["log_prob", "cdf", "icdf", "entropy", "mean", "mode", "variance"]),
    ("Pareto", lambda D, s, a: D.Pareto(s, a), lambda: [_positive(3) * 0.5, _positive(2, 3) * 2],
     lambda: [1.0 + _positive(4, 2, 3)], ["log_prob", "cdf", "icdf", "entropy", "mean", "mode", "variance"]),
    ("HalfNormal", lambda D, s: D.HalfNormal(s), lambda: [_positive(2, 3)],
     lambda: [_positive(4, 2, 3)], ["log_prob", "cdf", "icdf", "entropy", "mean", "mode", "variance"]),
    ("HalfCauchy", lambda D, s: D.HalfCauchy(s), lambda: [_positive(2, 3)],
     lambda: [_positive(4, 2, 3)], ["log_prob", "cdf", "icdf", "entropy", "mean", "mode", "variance"]),
    ("Cauchy", lambda D, loc, s: D.Cauchy(loc, s), lambda: [_reals(3), _positive(2, 3)],
     lambda: [_reals(4, 2, 3)], ["log_prob", "cdf", "icdf", "entropy", "mode", "variance"]),
    ("StudentT", lambda D, df, loc, s: D.StudentT(df, loc, s),
     lambda: [np.array([0.7, 1.5, 3.0]), _reals(2, 3), _positive(3)],
     lambda: [_reals(4, 2, 3)], ["log_prob", "entropy", "mean", "mode", "variance"]),
    ("Chi2", lambda D, df: D.Chi2(df), lambda: [_positive(2, 3) * 3],
     lambda: [_positive(4, 2, 3)], ["log_prob", "entropy", "mean", "mode", "variance", "df"]),
    ("Poisson", lambda D, r: D.Poisson(r), lambda: [_positive(2, 3) * 3],
     lambda: [_counts(4, 2, 3)], ["log_prob", "mean", "mode", "variance"]),
    ("Binomial probs", lambda D, n, p: D.Binomial(n, probs=p), lambda: [np.full(3, 8.0), RNG.uniform(0.1, 0.9, (2, 3))],
     lambda: [_counts(4, 2, 3, high=9)], ["log_prob", "entropy", "mean", "mode", "variance", "logits"]),
    ("Binomial logits", lambda D, n, lg: D.Binomial(n, logits=lg), lambda: [_counts(2, 3, high=9) + 5, _reals(2, 3)],
     lambda: [_counts(4, 2, 3)], ["log_prob", "mean", "mode", "variance", "probs"]),
    ("Geometric probs", lambda D, p: D.Geometric(probs=p), lambda: [RNG.uniform(0.1, 0.9, (2, 3))],
     lambda: [_counts(4, 2, 3)], ["log_prob", "entropy", "mean", "mode", "variance", "logits"]),
    ("Geometric logits", lambda D, lg: D.Geometric(logits=lg), lambda: [_reals(3)],
     lambda: [_counts(4, 3)], ["log_prob", "entropy", "mean", "variance", "probs"]),
    ("NegativeBinomial probs", lambda D, n, p: D.NegativeBinomial(n, probs=p),
     lambda: [_positive(3) * 3, RNG.uniform(0.1, 0.9, (2, 3))],
     lambda: [_counts(4, 2, 3)], ["log_prob", "mean", "mode", "variance", "logits"]),
    ("NegativeBinomial logits", lambda D, n, lg: D.NegativeBinomial(n, logits=lg),
     lambda: [_positive(3) * 3, _reals(3)],
     lambda: [_counts(4, 3)], ["log_prob", "mean", "mode", "variance", "probs"]),
    ("Multinomial", lambda D, p: D.Multinomial(6, probs=p), lambda: [_simplex(2, 4) * 2],
     lambda: [np.stack([RNG.multinomial(6, [0.25] * 4) for _ in range(6)]).reshape(3, 2, 4).astype(np.float64)],
     ["log_prob", "entropy", "mean", "variance", "logits"]),
    ("Kumaraswamy", lambda D, a, b: D.Kumaraswamy(a, b), lambda: [_positive(3) * 2, _positive(2, 3) * 2],
     lambda: [RNG.uniform(0.05, 0.95, (4, 2, 3))], ["log_prob", "cdf", "icdf", "entropy", "mean", "variance"]),
    ("RelaxedBernoulli", lambda D, t, p: D.RelaxedBernoulli(t, probs=p),
     lambda: [np.array(0.7), RNG.uniform(0.1, 0.9, (2, 3))],
     lambda: [RNG.uniform(0.05, 0.95, (4, 2, 3))], ["log_prob", "logits"]),
    ("RelaxedOneHotCategorical", lambda D, t, lg: D.RelaxedOneHotCategorical(t, logits=lg),
     lambda: [np.array(0.5), _reals(2, 4)], lambda: [_simplex(3, 2, 4)], ["log_prob", "probs"]),
    ("MixtureSameFamily", lambda D, lg, loc, s: D.MixtureSameFamily(D.Categorical(logits=lg), D.Normal(loc, s)),
     lambda: [_reals(2, 3), _reals(2, 3), _positive(2, 3)], lambda: [_reals(5, 2)],
     ["log_prob", "cdf", "mean", "variance"]),
    ("MixtureSameFamily MVN", lambda D, lg, loc, s: D.MixtureSameFamily(
        D.Categorical(logits=lg), D.Independent(D.Normal(loc, s), 1)),
     lambda: [_reals(3), _reals(3, 2), _positive(3, 2)], lambda: [_reals(4, 2)], ["log_prob", "mean", "variance"]),
    ("LowRankMultivariateNormal", lambda D, loc, w, d: D.LowRankMultivariateNormal(loc, w, d),
     lambda: [_reals(2, 4), _reals(4, 2), _positive(2, 4)], lambda: [_reals(3, 2, 4)],
     ["log_prob", "entropy", "mean", "variance", "covariance_matrix", "precision_matrix", "scale_tril"]),
    ("LogisticNormal", lambda D, loc, s: D.LogisticNormal(loc, s), lambda: [_reals(2, 3), _positive(3)],
     lambda: [_simplex(5, 2, 4)], ["log_prob", "loc", "scale"]),
    ("TransformedDistribution", lambda D, loc, s, a: D.TransformedDistribution(
        D.Normal(loc, s), [D.AffineTransform(a, 2.0), D.SigmoidTransform()]),
     lambda: [_reals(3), _positive(3), _reals(2, 3)], lambda: [RNG.uniform(0.05, 0.95, (4, 2, 3))],
     ["log_prob", "cdf", "icdf"]),
    ("TransformedDistribution stick-breaking", lambda D, loc, s: D.TransformedDistribution(
        D.Normal(loc, s), D.StickBreakingTransform()),
     lambda: [_reals(2, 3), _positive(2, 3)], lambda: [_simplex(2, 4)], ["log_prob"]),
    ("TransformedDistribution tanh-softplus", lambda D, loc, s: D.TransformedDistribution(
        D.Normal(loc, s), [D.SoftplusTransform(), D.PowerTransform(0.5), D.AffineTransform(-1.0, 0.5),
                           D.TanhTransform()]),
     lambda: [_reals(3), _positive(3)], lambda: [RNG.uniform(-0.5, -0.2, (4, 3))], ["log_prob"]),
]

METHODS = {"log_prob": lambda d, v: d.log_prob(v), "cdf": lambda d, v: d.cdf(v), "entropy": lambda d, v: d.entropy(),
           "icdf": lambda d, v: d.icdf(d.cdf(v))}


@pytest.mark.parametrize("name, build, params, values, quantities", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_torch(name, build, params, values, quantities):
    ps, vs = params(), values()
    for q in quantities:
        _compare(build, ps, vs, METHODS.get(q, lambda d, v, q=q: getattr(d, q)), atol=1e-8)


def test_von_mises_matches_the_exact_density_and_torchs_bessel_approximation():
    loc, kappa, x = _reals(3), _positive(2, 3) * 2, RNG.uniform(-3, 3, (4, 2, 3))
    ours = ember.distributions.VonMises(ember.tensor(loc), ember.tensor(kappa, requires_grad=True))
    exact = kappa * np.cos(x - loc) - np.log(2 * np.pi * np.i0(kappa))
    np.testing.assert_allclose(ours.log_prob(ember.tensor(x)).detach().numpy(), exact, rtol=1e-12)
    theirs = torch.distributions.VonMises(torch.tensor(loc), torch.tensor(kappa, requires_grad=True))
    # PyTorch evaluates log I0 and I1 by polynomial approximations (relative error about 1e-7)
    for q in [lambda d, v: d.log_prob(v), lambda d, v: d.variance, lambda d, v: d.mean]:
        a = q(ours, ember.tensor(x))
        b = q(theirs, torch.tensor(x))
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5)
        if b.requires_grad:
            (ga,) = ember.grad(a.sum(), [ours.concentration])
            (gb,) = torch.autograd.grad(b.sum(), [theirs.concentration])
            np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-5)


KL_CASES = [
    ("Gumbel", lambda D, a, b, c, d: (D.Gumbel(a, b), D.Gumbel(c, d)),
     lambda: [_reals(3), _positive(3), _reals(2, 3), _positive(3)]),
    ("Gumbel-Normal", lambda D, a, b, c, d: (D.Gumbel(a, b), D.Normal(c, d)),
     lambda: [_reals(3), _positive(3), _reals(3), _positive(3)]),
    ("Normal-Gumbel", lambda D, a, b, c, d: (D.Normal(a, b), D.Gumbel(c, d)),
     lambda: [_reals(3), _positive(3), _reals(3), _positive(3)]),
    ("Laplace-Normal", lambda D, a, b, c, d: (D.Laplace(a, b), D.Normal(c, d)),
     lambda: [_reals(3), _positive(3), _reals(3), _positive(3)]),
    ("Exponential-Normal", lambda D, a, c, d: (D.Exponential(a), D.Normal(c, d)),
     lambda: [_positive(3), _reals(3), _positive(3)]),
    ("Uniform-Gumbel", lambda D, a, b, c, d: (D.Uniform(a, b), D.Gumbel(c, d)),
     lambda: [RNG.uniform(-1, 0, 3), RNG.uniform(1, 2, 3), _reals(3), _positive(3)]),
    ("Cauchy", lambda D, a, b, c, d: (D.Cauchy(a, b), D.Cauchy(c, d)),
     lambda: [_reals(3), _positive(3), _reals(3), _positive(3)]),
    ("HalfNormal", lambda D, a, b: (D.HalfNormal(a), D.HalfNormal(b)), lambda: [_positive(3), _positive(2, 3)]),
    ("Poisson", lambda D, a, b: (D.Poisson(a), D.Poisson(b)), lambda: [_positive(3), _positive(3)]),
    ("Binomial", lambda D, n, a, b: (D.Binomial(n, probs=a), D.Binomial(n, logits=b)),
     lambda: [np.full(3, 7.0), RNG.uniform(0.1, 0.9, 3), _reals(3)]),
    ("Geometric", lambda D, a, b: (D.Geometric(probs=a), D.Geometric(logits=b)),
     lambda: [RNG.uniform(0.1, 0.9, 3), _reals(3)]),
    ("Pareto", lambda D, a, b, c, d: (D.Pareto(a, b), D.Pareto(c, d)),
     lambda: [1 + _positive(3), _positive(3), _positive(3) * 0.5, _positive(3)]),
    ("Chi2", lambda D, a, b: (D.Chi2(a), D.Chi2(b)), lambda: [_positive(3) * 2, _positive(3) * 2]),
    ("LogNormal", lambda D, a, b, c, d: (D.LogNormal(a, b), D.LogNormal(c, d)),
     lambda: [_reals(3), _positive(3), _reals(2, 3), _positive(3)]),
    ("LowRankMultivariateNormal", lambda D, a, b, c, d, e, f: (D.LowRankMultivariateNormal(a, b, c),
                                                               D.LowRankMultivariateNormal(d, e, f)),
     lambda: [_reals(2, 4), _reals(4, 2), _positive(4), _reals(4), _reals(2, 4, 3), _positive(2, 4)]),
    ("Independent Gumbel", lambda D, a, b, c, d: (D.Independent(D.Gumbel(a, b), 1), D.Independent(D.Gumbel(c, d), 1)),
     lambda: [_reals(2, 3), _positive(2, 3), _reals(2, 3), _positive(2, 3)]),
]


@pytest.mark.parametrize("name, build, params", KL_CASES, ids=[c[0] for c in KL_CASES])
def test_kl_divergence_matches_torch(name, build, params):
    _compare(build, params(), [], lambda pq: (ember if isinstance(pq[0], ember.distributions.Distribution)
                                              else torch).distributions.kl_divergence(*pq), atol=1e-8)


def test_kl_edge_cases_are_infinite_or_refused_as_torch():
    D = ember.distributions
    far = D.kl_divergence(D.Pareto(ember.tensor([1.0, 3.0]), 2.0), D.Pareto(ember.tensor([2.0, 2.0]), 2.0))
    assert np.isinf(far.numpy()[0]) and np.isfinite(far.numpy()[1])
    more = D.kl_divergence(D.Binomial(ember.tensor([5.0, 4.0]), probs=ember.tensor(0.5)),
                           D.Binomial(ember.tensor([4.0, 4.0]), probs=ember.tensor(0.5)))
    assert np.isinf(more.numpy()[0]) and more.numpy()[1] == 0
    with pytest.raises(NotImplementedError, match="total_count"):
        D.kl_divergence(D.Binomial(3.0, probs=ember.tensor(0.5)), D.Binomial(4.0, probs=ember.tensor(0.5)))
    with pytest.raises(NotImplementedError, match="different transforms"):
        D.kl_divergence(D.Weibull(1.0, 2.0), D.Weibull(1.0, 3.0))


# --- rsample: the same noise through both libraries' parameters ----------------------------------------------


def _same_noise(draw, shape, seed=5):
    ember.manual_seed(seed)
    return torch.tensor(draw(shape, dtype=ember.float64).numpy())


def _clamp_probs(u):
    eps = torch.finfo(u.dtype).eps
    return u.clamp(eps, 1 - eps)


RSAMPLE_CASES = [
    ("LogNormal", lambda D, loc, s: D.LogNormal(loc, s), lambda: [_reals(2, 3), _positive(3)], ember.randn,
     lambda e, loc, s: torch.exp(loc + s * e)),
    ("Gumbel", lambda D, loc, s: D.Gumbel(loc, s), lambda: [_reals(3), _positive(2, 3)], ember.rand,
     lambda u, loc, s: loc - s * torch.log(-torch.log(
         torch.finfo(u.dtype).tiny + u * (1 - torch.finfo(u.dtype).eps - torch.finfo(u.dtype).tiny)))),
    ("Cauchy", lambda D, loc, s: D.Cauchy(loc, s), lambda: [_reals(3), _positive(3)], ember.rand,
     lambda u, loc, s: loc + s * torch.tan(torch.pi * (u - 0.5))),
    ("HalfNormal", lambda D, s: D.HalfNormal(s), lambda: [_positive(2, 3)], ember.randn,
     lambda e, s: (s * e).abs()),
    ("Weibull", lambda D, s, c: D.Weibull(s, c), lambda: [_positive(3), _positive(2, 3)], ember.rand,
     lambda u, s, c: s * (-torch.log1p(-u)) ** (1 / c)),
    ("Pareto", lambda D, s, a: D.Pareto(s, a), lambda: [_positive(3), _positive(3) * 2], ember.rand,
     lambda u, s, a: s * torch.exp(-torch.log1p(-u) / a)),
    ("Kumaraswamy", lambda D, a, b: D.Kumaraswamy(a, b), lambda: [_positive(3), _positive(3)], ember.rand,
     lambda u, a, b: (1 - u ** (1 / b)) ** (1 / a)),
    ("RelaxedBernoulli", lambda D, t, p: D.RelaxedBernoulli(t, probs=p),
     lambda: [np.array(0.6), RNG.uniform(0.1, 0.9, 3)], ember.rand,
     lambda u, t, p: torch.sigmoid((torch.logit(_clamp_probs(u)) + torch.logit(_clamp_probs(p))) / t)),
    ("RelaxedOneHotCategorical", lambda D, t, lg: D.RelaxedOneHotCategorical(t, logits=lg),
     lambda: [np.array(0.6), _reals(2, 4)], ember.rand,
     lambda u, t, lg: torch.softmax((torch.log_softmax(lg, -1) - torch.log(-torch.log(_clamp_probs(u)))) / t, -1)),
]


@pytest.mark.parametrize("name, build, params, draw, torch_rsample", RSAMPLE_CASES, ids=[c[0] for c in RSAMPLE_CASES])
def test_rsample_and_its_gradients_match_torch_with_the_same_noise(name, build, params, draw, torch_rsample):
    ps = params()
    ours, theirs = _tensors(ps, ember, grad=True), _tensors(ps, torch, grad=True)
    d = build(ember.distributions, *ours)
    assert d.has_rsample and build(torch.distributions, *theirs).has_rsample
    ember.manual_seed(5)
    x = d.rsample((6,))
    y = torch_rsample(_same_noise(draw, (6,) + d.batch_shape + d.event_shape), *theirs)
    np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.normal(size=x.shape)
    g_ours = ember.grad((x * ember.tensor(w)).sum(), ours)
    g_theirs = torch.autograd.grad((y * torch.tensor(w)).sum(), theirs)
    for a, b in zip(g_ours, g_theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)


def test_lowrank_rsample_and_its_gradients_match_torch_with_the_same_noise():
    ps = [_reals(2, 3), _reals(3, 2), _positive(3)]
    ours, theirs = _tensors(ps, ember, grad=True), _tensors(ps, torch, grad=True)
    ember.manual_seed(2)
    x = ember.distributions.LowRankMultivariateNormal(*ours).rsample((4,))
    ember.manual_seed(2)
    eps_w = torch.tensor(ember.randn((4, 2, 2), dtype=ember.float64).numpy())
    eps_d = torch.tensor(ember.randn((4, 2, 3), dtype=ember.float64).numpy())
    loc, w, diag = theirs
    y = loc + (w @ eps_w.unsqueeze(-1)).squeeze(-1) + diag.sqrt() * eps_d
    np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-10, atol=1e-12)
    g_ours = ember.grad((x ** 2).sum(), ours)
    g_theirs = torch.autograd.grad((y ** 2).sum(), theirs)
    for a, b in zip(g_ours, g_theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)


def test_student_t_and_chi2_rsample_gradients_agree_with_torch_in_expectation():
    # the Gamma noise differs, so compare Monte Carlo gradients of E[f(x)] with torch's estimate
    n = 200_000
    for build, params, f in [
        (lambda D, df, s: D.StudentT(df, 0.5, s), [np.array([4.0, 6.0]), np.array([1.0, 2.0])], lambda x: x ** 2),
        (lambda D, df: D.Chi2(df), [np.array([1.5, 3.0])], lambda x: x),
    ]:
        ember.manual_seed(0)
        torch.manual_seed(0)
        ours, theirs = _tensors(params, ember, grad=True), _tensors(params, torch, grad=True)
        g_ours = ember.grad(f(build(ember.distributions, *ours).rsample((n,))).mean(0).sum(), ours)
        g_theirs = torch.autograd.grad(f(build(torch.distributions, *theirs).rsample((n,))).mean(0).sum(), theirs)
        for a, b in zip(g_ours, g_theirs):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0.05, atol=0.02)


# --- transforms ------------------------------------------------------------------------------------------------

TRANSFORMS = [
    ("Exp", lambda T, ps: T.ExpTransform(), [], lambda: _reals(2, 3)),
    ("Affine", lambda T, ps: T.AffineTransform(*ps), [_reals(3), _reals(3)], lambda: _reals(2, 3)),
    ("Affine event", lambda T, ps: T.AffineTransform(1.0, ps[0], event_dim=1), [_reals(3)], lambda: _reals(2, 3)),
    ("Sigmoid", lambda T, ps: T.SigmoidTransform(), [], lambda: _reals(2, 3)),
    ("Tanh", lambda T, ps: T.TanhTransform(), [], lambda: _reals(2, 3)),
    ("Softplus", lambda T, ps: T.SoftplusTransform(), [], lambda: _reals(2, 3)),
    ("Power", lambda T, ps: T.PowerTransform(ps[0]), [_positive(3)], lambda: _positive(2, 3)),
    ("StickBreaking", lambda T, ps: T.StickBreakingTransform(), [], lambda: _reals(2, 3)),
    ("Compose", lambda T, ps: T.ComposeTransform([T.AffineTransform(0.5, 2.0), T.ExpTransform(),
                                                  T.PowerTransform(1.5)]), [], lambda: _reals(2, 3)),
    ("Independent", lambda T, ps: T.IndependentTransform(T.SigmoidTransform(), 1), [], lambda: _reals(2, 3)),
    ("Inverse", lambda T, ps: T.SigmoidTransform().inv, [], lambda: RNG.uniform(0.1, 0.9, (2, 3))),
]


@pytest.mark.parametrize("name, make, params, x", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
def test_transforms_match_torch_with_their_inverses_and_jacobians(name, make, params, x):
    x = x()
    ours = make(ember.distributions.transforms, [ember.tensor(p) for p in params])
    theirs = make(torch.distributions.transforms, [torch.tensor(p) for p in params])
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = ours(xe), theirs(xt)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.inv(ye).detach().numpy(), x, rtol=1e-9, atol=1e-12)
    assert ours.forward_shape(x.shape) == tuple(theirs.forward_shape(x.shape))
    assert ours.inverse_shape(ye.shape) == tuple(theirs.inverse_shape(yt.shape))
    assert ours.domain.event_dim == theirs.domain.event_dim and ours.codomain.event_dim == theirs.codomain.event_dim
    assert ours.bijective == theirs.bijective
    le, lt = ours.log_abs_det_jacobian(xe, ye), theirs.log_abs_det_jacobian(xt, yt)
    np.testing.assert_allclose(le.detach().numpy(), lt.detach().numpy(), rtol=1e-10, atol=1e-12)
    (ge,) = ember.grad(le.sum() + ye.sum(), [xe])
    (gt,) = torch.autograd.grad(lt.sum() + yt.sum(), [xt])
    np.testing.assert_allclose(ge.numpy(), gt.numpy(), rtol=1e-9, atol=1e-12)


def test_non_bijective_transforms_match_torch():
    x = _reals(2, 4)
    for name in ["AbsTransform", "SoftmaxTransform"]:
        ours, theirs = getattr(ember.distributions.transforms, name)(), getattr(torch.distributions.transforms, name)()
        np.testing.assert_allclose(ours(ember.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-12)
        assert not ours.bijective and not theirs.bijective


def test_biject_to_and_transform_to_map_the_reals_into_each_constraint_as_torch():
    C = ember.distributions.constraints
    x = _reals(3, 4)
    for constraint, torch_constraint in [
        (C.real, torch.distributions.constraints.real), (C.positive, torch.distributions.constraints.positive),
        (C.greater_than(2.0), torch.distributions.constraints.greater_than(2.0)),
        (C.unit_interval, torch.distributions.constraints.unit_interval),
        (C.interval(-1.0, 3.0), torch.distributions.constraints.interval(-1.0, 3.0)),
        (C.simplex, torch.distributions.constraints.simplex),
        (C.independent(C.positive, 1), torch.distributions.constraints.independent(
            torch.distributions.constraints.positive, 1)),
    ]:
        for ours_registry, torch_registry in [(ember.distributions.biject_to, torch.distributions.biject_to),
                                              (ember.distributions.transform_to, torch.distributions.transform_to)]:
            t, u = ours_registry(constraint), torch_registry(torch_constraint)
            y = t(ember.tensor(x))
            np.testing.assert_allclose(y.numpy(), u(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-14)
            assert bool(constraint.check(y).all())
    with pytest.raises(NotImplementedError, match="biject_to.*LowerCholesky"):
        ember.distributions.biject_to(C.lower_cholesky)


# --- shapes, flags, expand -------------------------------------------------------------------------------------

SHAPE_BUILDS = [
    lambda D, m: D.LogNormal(m.zeros(2, 1), m.ones(3)),
    lambda D, m: D.Gumbel(m.zeros(3), 1.0),
    lambda D, m: D.Weibull(m.ones(2, 3), 1.5),
    lambda D, m: D.Pareto(m.ones(3), 2.0),
    lambda D, m: D.HalfNormal(m.ones(2, 3)),
    lambda D, m: D.HalfCauchy(m.ones(3)),
    lambda D, m: D.Cauchy(m.zeros(3), 2.0),
    lambda D, m: D.StudentT(m.ones(3) * 3),
    lambda D, m: D.Chi2(m.ones(2, 3)),
    lambda D, m: D.Poisson(m.ones(3) * 2),
    lambda D, m: D.Binomial(5, probs=m.ones(2, 3) * 0.3),
    lambda D, m: D.Geometric(probs=m.ones(3) * 0.3),
    lambda D, m: D.NegativeBinomial(3.0, logits=m.zeros(3)),
    lambda D, m: D.Multinomial(4, probs=m.ones(2, 3)),
    lambda D, m: D.VonMises(m.zeros(3), m.ones(3)),
    lambda D, m: D.Kumaraswamy(m.ones(3), 2.0),
    lambda D, m: D.RelaxedBernoulli(m.tensor(0.5), probs=m.ones(3) * 0.4),
    lambda D, m: D.RelaxedOneHotCategorical(m.tensor(0.5), logits=m.zeros(2, 3)),
    lambda D, m: D.MixtureSameFamily(D.Categorical(logits=m.zeros(2, 3)), D.Normal(m.zeros(2, 3), 1.0)),
    lambda D, m: D.LowRankMultivariateNormal(m.zeros(2, 3), m.ones(3, 1), m.ones(3)),
    lambda D, m: D.LogisticNormal(m.zeros(2), m.ones(2)),
    lambda D, m: D.LogisticNormal(m.tensor(0.0), m.tensor(1.0)),
    lambda D, m: D.TransformedDistribution(D.Normal(m.zeros(2, 3), 1.0), D.StickBreakingTransform()),
]


@pytest.mark.parametrize("build", SHAPE_BUILDS, ids=range(len(SHAPE_BUILDS)))
def test_shapes_dtypes_flags_and_expand_match_torch(build):
    ours, theirs = build(ember.distributions, ember), build(torch.distributions, torch)
    for a, b in [(ours, theirs), (ours.expand((4,) + ours.batch_shape), theirs.expand((4,) + theirs.batch_shape))]:
        assert a.batch_shape == tuple(b.batch_shape) and a.event_shape == tuple(b.event_shape)
        assert a.has_rsample == b.has_rsample and a.has_enumerate_support == b.has_enumerate_support
        x, y = a.sample((5,)), b.sample((5,))
        assert tuple(x.shape) == tuple(y.shape)
        assert str(x.dtype) == str(y.dtype).replace("torch.", "")
        assert tuple(a.log_prob(x).shape) == tuple(b.log_prob(y).shape)
        assert bool(a.support.check(x).all())


def test_the_public_names_are_pytorchs():
    D = ember.distributions
    assert D.__all__ == sorted(D.__all__) and D.transforms.__all__ == sorted(D.transforms.__all__)
    # PyTorch keeps these two bases of the relaxed distributions in their modules only
    assert set(D.__all__) - {"ExpRelaxedCategorical", "LogitRelaxedBernoulli"} <= set(dir(torch.distributions))
    assert set(D.transforms.__all__) <= set(dir(torch.distributions.transforms))


def test_bfloat16_parameters_work_as_pytorchs():
    # NumPy's finfo does not know bfloat16: Gumbel, the entropy of the categoricals, Geometric's, FisherSnedecor's,
    # RelaxedBernoulli's, LKJCholesky's and LogisticNormal's draws and the sigmoid and stick-breaking transforms
    # failed with "data type not inexact"
    def build(D, lib):
        t = (lambda a: torch.tensor(a, dtype=torch.bfloat16)) if lib is torch else (
            lambda a: ember.tensor(np.asarray(a, np.float32)).to("bfloat16"))
        return t, [D.Gumbel(t([0.5, 1.0, -1.0]), t([1.0, 2.0, 0.5])),
                   D.Categorical(logits=t([[0.5, 1.0, -1.0], [-100.0, 2.0, 3.0]])),
                   D.OneHotCategorical(logits=t([[0.5, 1.0, -1.0], [-100.0, 2.0, 3.0]]))]
    (t, ours), (u, theirs) = build(ember.distributions, ember), build(torch.distributions, torch)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.entropy().to("float32").numpy(), b.entropy().float().numpy())
    value = [0.3, 1.7, -0.4]
    np.testing.assert_array_equal(ours[0].log_prob(t(value)).to("float32").numpy(),
                                  theirs[0].log_prob(u(value)).float().numpy())
    np.testing.assert_array_equal(ours[0].cdf(t(value)).to("float32").numpy(), theirs[0].cdf(u(value)).float().numpy())
    for name in ("SigmoidTransform", "StickBreakingTransform"):
        x = [[-3.0, 0.5, 20.0]]
        ta, tb = getattr(ember.distributions.transforms, name)(), getattr(torch.distributions.transforms, name)()
        ya, yb = ta(t(x)), tb(u(x))
        np.testing.assert_array_equal(ya.to("float32").numpy(), yb.float().numpy())
        np.testing.assert_array_equal(ta.inv(ya).to("float32").numpy(), tb.inv(yb).float().numpy())
        np.testing.assert_array_equal(ta.log_abs_det_jacobian(t(x), ya).to("float32").numpy(),
                                      tb.log_abs_det_jacobian(u(x), yb).float().numpy())
    D = ember.distributions
    for d in (D.Geometric(t([0.2, 0.5])), D.FisherSnedecor(t([2.0, 5.0]), t([3.0, 4.0])),
              D.RelaxedBernoulli(t(0.5), t([0.2, 0.5])), D.LKJCholesky(3, t(0.5)),
              D.LogisticNormal(t([0.0, 1.0]), t([1.0, 2.0]))):
        x = d.sample((3,))
        assert x.dtype == ember.bfloat16 and x.shape == (3,) + d.batch_shape + d.event_shape


def test_confident_logits_entropies_and_their_gradients_match_torch():
    # binary_cross_entropy_with_logits dropped exp(-|x|) past |x| = 20: Geometric(logits=-30).entropy was 30.0
    # (31.0), Bernoulli(probs=1e-10).entropy's gradient 22.03 (23.03)
    logits = np.array([-30.0, -25.0, 22.0, 30.0])  # (the entropy's gradient there cancels in both libraries)
    np.testing.assert_allclose(ember.distributions.Geometric(logits=ember.tensor(logits)).entropy().numpy(),
                               torch.distributions.Geometric(logits=torch.tensor(logits)).entropy().numpy(),
                               rtol=1e-7)
    _compare(lambda D, p: D.Bernoulli(probs=p), [np.array([1e-10, 1e-9, 0.3, 1 - 1e-10])], [],
             lambda d: d.entropy(), atol=1e-12)


_LOC_SCALE = {
    "Normal": lambda D, v: D.Normal(0.0, v, validate_args=False),
    "LogNormal": lambda D, v: D.LogNormal(0.0, v, validate_args=False),
    "HalfNormal": lambda D, v: D.HalfNormal(v, validate_args=False),
    "Laplace": lambda D, v: D.Laplace(0.0, v, validate_args=False),
    "Cauchy": lambda D, v: D.Cauchy(0.0, v, validate_args=False),
    "Gumbel": lambda D, v: D.Gumbel(0.0, v, validate_args=False),
    "StudentT": lambda D, v: D.StudentT(3.0, 0.0, v, validate_args=False),
    "HalfCauchy": lambda D, v: D.HalfCauchy(v, validate_args=False),
    "Uniform": lambda D, v: D.Uniform(0.0, v, validate_args=False),
}


@pytest.mark.parametrize("value", [-1.0, float("nan"), 0.0, float("inf")])
@pytest.mark.parametrize("family", sorted(_LOC_SCALE))
def test_unvalidated_bad_scales_are_refused_where_torch_refuses_them(family, value):
    # Normal(0, -1, validate_args=False).sample drew, where torch.normal refuses a negative or NaN std; the other
    # location-scale samplers draw in both libraries
    make = _LOC_SCALE[family]
    try:
        make(torch.distributions, torch.tensor(value)).sample((3,))
        refused = False
    except RuntimeError:
        refused = True
    with np.errstate(all="ignore"):
        if refused:
            with pytest.raises(ValueError, match=r"Normal\.sample: the scale"):
                make(ember.distributions, ember.tensor(value)).sample((3,))
        else:
            assert make(ember.distributions, ember.tensor(value)).sample((3,)).shape == (3,)
        make(ember.distributions, ember.tensor(value)).rsample((3,))  # rsample draws, as PyTorch's
