"""ember.distributions against torch.distributions: log_prob, cdf/icdf, entropy, moments and KL divergences with
the same parameters, their gradients with respect to the parameters, and rsample's gradients with the same noise."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _positive(*shape):
    return RNG.uniform(0.5, 2.0, shape)


def _spd(*batch, k=3):
    a = RNG.normal(size=batch + (k, k))
    return a @ np.swapaxes(a, -1, -2) + k * np.eye(k)


def _tril(*batch, k=3):
    return np.tril(RNG.normal(size=batch + (k, k)), -1) + np.eye(k) * _positive(*batch, k)[..., None, :]


def _simplex(*shape):
    p = RNG.uniform(0.1, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


def _lib(m):
    return m.distributions


def _tensors(arrays, m, grad: bool):
    out = []
    for a in arrays:
        if m is torch:
            t = torch.tensor(a)
            out.append(t.requires_grad_(True) if grad and t.dtype.is_floating_point else t)
        else:
            out.append(ember.tensor(a, requires_grad=grad and a.dtype.kind == "f"))
    return out


def _compare(build, params, values, quantity, atol=1e-9):
    """``quantity(dist, *values)`` of ``build(distributions, *params)`` in both libraries, then the gradients
    of its weighted sum for each floating parameter."""
    results = {}
    for m in (ember, torch):
        ps = _tensors(params, m, grad=True)
        vs = _tensors(values, m, grad=False)
        q = quantity(build(_lib(m), *ps), *vs)
        weights = RNG.normal(size=tuple(q.shape)) if m is ember else results["weights"]
        results["weights"] = weights
        w = ember.tensor(weights) if m is ember else torch.tensor(weights)
        floating = [p for p in ps if p.requires_grad]
        grad = ember.grad if m is ember else torch.autograd.grad
        grads = grad((q * w).sum(), floating, allow_unused=True) if q.requires_grad else [None] * len(floating)
        results[m.__name__] = (q, grads)
    (q_e, g_e), (q_t, g_t) = results["ember"], results["torch"]
    assert tuple(q_e.shape) == tuple(q_t.shape)
    np.testing.assert_allclose(q_e.detach().numpy(), q_t.detach().numpy(), rtol=1e-7, atol=atol)
    for a, b in zip(g_e, g_t):
        if (a is None) != (b is None):  # one library's gradient of a piecewise-constant quantity is zeros
            a, b = (a.numpy() if a is not None else 0.0), (b.numpy() if b is not None else 0.0)
            np.testing.assert_array_equal(a if isinstance(a, float) else b, 0.0)
        elif a is not None:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=atol)


CASES = [
    ("Normal", lambda D, loc, scale: D.Normal(loc, scale), lambda: [RNG.normal(size=(2, 3)), _positive(3)],
     lambda: [RNG.normal(size=(4, 2, 3))], ["log_prob", "cdf", "entropy", "mean", "variance", "stddev"]),
    ("Uniform", lambda D, low, high: D.Uniform(low, high), lambda: [RNG.uniform(-2, -1, (3,)), RNG.uniform(1, 2, (3,))],
     lambda: [RNG.uniform(-1, 1, (5, 3))], ["log_prob", "cdf", "entropy", "mean", "variance", "stddev"]),
    ("Exponential", lambda D, rate: D.Exponential(rate), lambda: [_positive(2, 3)],
     lambda: [_positive(2, 3)], ["log_prob", "cdf", "entropy", "mean", "variance", "stddev"]),
    ("Laplace", lambda D, loc, scale: D.Laplace(loc, scale), lambda: [RNG.normal(size=(3,)), _positive(3)],
     lambda: [RNG.normal(size=(4, 3))], ["log_prob", "cdf", "entropy", "mean", "variance", "stddev"]),
    ("Bernoulli probs", lambda D, p: D.Bernoulli(probs=p), lambda: [RNG.uniform(0.1, 0.9, (2, 3))],
     lambda: [RNG.integers(0, 2, (2, 3)).astype(np.float64)], ["log_prob", "entropy", "mean", "variance", "logits"]),
    ("Bernoulli logits", lambda D, lg: D.Bernoulli(logits=lg), lambda: [RNG.normal(size=(2, 3))],
     lambda: [RNG.integers(0, 2, (4, 2, 3)).astype(np.float64)], ["log_prob", "entropy", "mean", "variance", "probs"]),
    ("Categorical probs", lambda D, p: D.Categorical(probs=p), lambda: [_simplex(2, 4) * 3],
     lambda: [RNG.integers(0, 4, (5, 2))], ["log_prob", "entropy", "probs", "logits"]),
    ("Categorical logits", lambda D, lg: D.Categorical(logits=lg), lambda: [RNG.normal(size=(2, 4))],
     lambda: [RNG.integers(0, 4, (2,))], ["log_prob", "entropy", "probs", "logits"]),
    ("OneHotCategorical", lambda D, lg: D.OneHotCategorical(logits=lg), lambda: [RNG.normal(size=(2, 4))],
     lambda: [np.eye(4)[RNG.integers(0, 4, (3, 2))]], ["log_prob", "entropy", "mean", "variance", "probs"]),
    ("MVN covariance", lambda D, loc, cov: D.MultivariateNormal(loc, covariance_matrix=cov),
     lambda: [RNG.normal(size=(2, 3)), _spd(2)], lambda: [RNG.normal(size=(4, 2, 3))],
     ["log_prob", "entropy", "variance", "scale_tril", "precision_matrix"]),
    ("MVN precision", lambda D, loc, prec: D.MultivariateNormal(loc, precision_matrix=prec),
     lambda: [RNG.normal(size=(3,)), _spd()], lambda: [RNG.normal(size=(4, 3))],
     ["log_prob", "entropy", "variance", "scale_tril", "covariance_matrix"]),
    ("MVN scale_tril", lambda D, loc, tril: D.MultivariateNormal(loc, scale_tril=tril),
     lambda: [RNG.normal(size=(4, 3)), _tril()], lambda: [RNG.normal(size=(4, 3))],
     ["log_prob", "entropy", "variance", "covariance_matrix", "precision_matrix"]),
    ("Independent", lambda D, loc, scale: D.Independent(D.Normal(loc, scale), 1),
     lambda: [RNG.normal(size=(2, 3)), _positive(2, 3)], lambda: [RNG.normal(size=(2, 3))],
     ["log_prob", "entropy", "mean", "variance"]),
    ("Gamma", lambda D, c, r: D.Gamma(c, r), lambda: [_positive(2, 3) * 2, _positive(3)],
     lambda: [_positive(4, 2, 3)], ["log_prob", "entropy", "mean", "variance", "mode"]),
    ("Beta", lambda D, a, b: D.Beta(a, b), lambda: [_positive(3) * 2, _positive(2, 3)],
     lambda: [RNG.uniform(0.05, 0.95, (4, 2, 3))], ["log_prob", "entropy", "mean", "variance", "mode"]),
    ("Dirichlet", lambda D, c: D.Dirichlet(c), lambda: [_positive(2, 4) * 2],
     lambda: [_simplex(3, 2, 4)], ["log_prob", "entropy", "mean", "variance", "mode"]),
]

METHODS = {"log_prob": lambda d, v: d.log_prob(v), "cdf": lambda d, v: d.cdf(v), "entropy": lambda d, v: d.entropy()}


@pytest.mark.parametrize("name, build, params, values, quantities", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_torch(name, build, params, values, quantities):
    ps, vs = params(), values()
    for q in quantities:
        _compare(build, ps, vs, METHODS.get(q, lambda d, v, q=q: getattr(d, q)))


@pytest.mark.parametrize("name, build, params", [
    ("Normal", lambda D, loc, scale: D.Normal(loc, scale), lambda: [RNG.normal(size=(3,)), _positive(3)]),
    ("Uniform", lambda D, low, high: D.Uniform(low, high),
     lambda: [RNG.uniform(-2, -1, (3,)), RNG.uniform(1, 2, (3,))]),
    ("Exponential", lambda D, rate: D.Exponential(rate), lambda: [_positive(3)]),
    ("Laplace", lambda D, loc, scale: D.Laplace(loc, scale), lambda: [RNG.normal(size=(3,)), _positive(3)]),
], ids=["Normal", "Uniform", "Exponential", "Laplace"])
def test_icdf_matches_torch_and_inverts_cdf(name, build, params):
    ps, probs = params(), [RNG.uniform(0.05, 0.95, (4, 3))]
    _compare(build, ps, probs, lambda d, p: d.icdf(p))
    d = build(ember.distributions, *_tensors(ps, ember, grad=False))
    p = ember.tensor(probs[0])
    np.testing.assert_allclose(d.cdf(d.icdf(p)).detach().numpy(), probs[0], atol=1e-12)


KL_CASES = [
    ("Normal", lambda D, a, b, c, d: (D.Normal(a, b), D.Normal(c, d)),
     lambda: [RNG.normal(size=3), _positive(3), RNG.normal(size=(2, 3)), _positive(3)]),
    ("Bernoulli", lambda D, a, b: (D.Bernoulli(probs=a), D.Bernoulli(logits=b)),
     lambda: [RNG.uniform(0.1, 0.9, 4), RNG.normal(size=4)]),
    ("Categorical", lambda D, a, b: (D.Categorical(probs=a), D.Categorical(logits=b)),
     lambda: [_simplex(2, 5), RNG.normal(size=(2, 5))]),
    ("OneHotCategorical", lambda D, a, b: (D.OneHotCategorical(logits=a), D.OneHotCategorical(probs=b)),
     lambda: [RNG.normal(size=(2, 5)), _simplex(2, 5)]),
    ("Uniform", lambda D, a, b, c, d: (D.Uniform(a, b), D.Uniform(c, d)),
     lambda: [RNG.uniform(-1, 0, 3), RNG.uniform(1, 2, 3), RNG.uniform(-3, -2, 3), RNG.uniform(2, 3, 3)]),
    ("Exponential", lambda D, a, b: (D.Exponential(a), D.Exponential(b)), lambda: [_positive(3), _positive(3)]),
    ("Laplace", lambda D, a, b, c, d: (D.Laplace(a, b), D.Laplace(c, d)),
     lambda: [RNG.normal(size=3), _positive(3), RNG.normal(size=3), _positive(3)]),
    ("Normal-Laplace", lambda D, a, b, c, d: (D.Normal(a, b), D.Laplace(c, d)),
     lambda: [RNG.normal(size=3), _positive(3), RNG.normal(size=3), _positive(3)]),
    ("Uniform-Normal", lambda D, a, b, c, d: (D.Uniform(a, b), D.Normal(c, d)),
     lambda: [RNG.uniform(-1, 0, 3), RNG.uniform(1, 2, 3), RNG.normal(size=3), _positive(3)]),
    ("MVN", lambda D, a, b, c, d: (D.MultivariateNormal(a, covariance_matrix=b), D.MultivariateNormal(c, scale_tril=d)),
     lambda: [RNG.normal(size=(2, 3)), _spd(2), RNG.normal(size=3), _tril()]),
    ("MVN scale_tril-precision", lambda D, a, b, c, d: (D.MultivariateNormal(a, scale_tril=b),
                                                        D.MultivariateNormal(c, precision_matrix=d)),
     lambda: [RNG.normal(size=3), _tril(2), RNG.normal(size=(2, 3)), _spd()]),
    ("Gamma", lambda D, a, b, c, d: (D.Gamma(a, b), D.Gamma(c, d)),
     lambda: [_positive(3), _positive(3), _positive(2, 3), _positive(3)]),
    ("Beta", lambda D, a, b, c, d: (D.Beta(a, b), D.Beta(c, d)),
     lambda: [_positive(3), _positive(3), _positive(3), _positive(2, 3)]),
    ("Dirichlet", lambda D, a, b: (D.Dirichlet(a), D.Dirichlet(b)), lambda: [_positive(2, 4), _positive(4)]),
    ("Independent", lambda D, a, b, c, d: (D.Independent(D.Normal(a, b), 1), D.Independent(D.Normal(c, d), 1)),
     lambda: [RNG.normal(size=(2, 3)), _positive(2, 3), RNG.normal(size=(2, 3)), _positive(2, 3)]),
]


@pytest.mark.parametrize("name, build, params", KL_CASES, ids=[c[0] for c in KL_CASES])
def test_kl_divergence_matches_torch(name, build, params):
    _compare(build, params(), [], lambda pq: _lib(ember if isinstance(pq[0], ember.distributions.Distribution)
                                                    else torch).kl_divergence(*pq))


def test_kl_of_uniforms_outside_the_support_is_infinite_as_torch():
    p, q = (ember.distributions.Uniform(ember.tensor([0.0, 0.0]), ember.tensor([1.0, 1.0])),
            ember.distributions.Uniform(ember.tensor([0.5, -1.0]), ember.tensor([2.0, 2.0])))
    expected = torch.distributions.kl_divergence(torch.distributions.Uniform(torch.tensor([0.0, 0.0]), 1.0),
                                                 torch.distributions.Uniform(torch.tensor([0.5, -1.0]), 2.0))
    np.testing.assert_allclose(ember.distributions.kl_divergence(p, q).numpy(), expected.numpy())


# --- rsample: the same noise through both libraries' parameters ----------------------------------------------


def _noise(draw, shape, seed=7):
    ember.manual_seed(seed)
    return draw(shape, dtype=ember.float64).numpy()


RSAMPLE_CASES = [
    ("Normal", lambda D, loc, scale: D.Normal(loc, scale), lambda: [RNG.normal(size=(2, 3)), _positive(3)],
     ember.randn, lambda eps, loc, scale: loc + eps * scale),
    ("Uniform", lambda D, low, high: D.Uniform(low, high), lambda: [RNG.uniform(-2, -1, 3), RNG.uniform(1, 2, 3)],
     ember.rand, lambda u, low, high: low + u * (high - low)),
    ("Exponential", lambda D, rate: D.Exponential(rate), lambda: [_positive(2, 3)],
     ember.rand, lambda u, rate: -torch.log1p(-u) / rate),
    ("Laplace", lambda D, loc, scale: D.Laplace(loc, scale), lambda: [RNG.normal(size=3), _positive(3)],
     ember.rand, lambda u, loc, scale: loc - scale * torch.sign(v := u * (2 - 2.0 ** -52) + 2.0 ** -52 - 1)
     * torch.log1p(-v.abs())),
]


@pytest.mark.parametrize("name, build, params, draw, torch_rsample", RSAMPLE_CASES, ids=[c[0] for c in RSAMPLE_CASES])
def test_rsample_and_its_gradients_match_torch_with_the_same_noise(name, build, params, draw, torch_rsample):
    ps = params()
    ours = _tensors(ps, ember, grad=True)
    theirs = _tensors(ps, torch, grad=True)
    d = build(ember.distributions, *ours)
    ember.manual_seed(7)
    x = d.rsample((5,))
    noise = torch.tensor(_noise(draw, (5,) + d.batch_shape))
    y = torch_rsample(noise, *theirs)
    # torch's own rsample has the same form: its gradients are those of torch_rsample for its own noise
    assert build(torch.distributions, *theirs).has_rsample and d.has_rsample
    np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = RNG.normal(size=x.shape)
    g_ours = ember.grad((x * x * ember.tensor(w)).sum(), ours)
    g_theirs = torch.autograd.grad((y * y * torch.tensor(w)).sum(), theirs)
    for a, b in zip(g_ours, g_theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("given", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_mvn_rsample_and_its_gradients_match_torch_with_the_same_noise(given):
    loc, matrix = RNG.normal(size=(2, 3)), (_tril() if given == "scale_tril" else _spd())
    ours = _tensors([loc, matrix], ember, grad=True)
    theirs = _tensors([loc, matrix], torch, grad=True)
    d = ember.distributions.MultivariateNormal(ours[0], **{given: ours[1]})
    ember.manual_seed(3)
    x = d.rsample((4,))
    eps = torch.tensor(_noise(ember.randn, (4, 2, 3), seed=3))
    t = torch.distributions.MultivariateNormal(theirs[0], **{given: theirs[1]})
    y = t.loc + (t._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
    np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.normal(size=x.shape)
    g_ours = ember.grad((x * x * ember.tensor(w)).sum(), ours)
    g_theirs = torch.autograd.grad((y * y * torch.tensor(w)).sum(), theirs)
    for a, b in zip(g_ours, g_theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)


def test_shapes_dtypes_and_support_flags_match_torch():
    for build in [lambda D, m: D.Normal(m.zeros(2, 1), m.ones(3)),
                  lambda D, m: D.Bernoulli(logits=m.zeros(2, 3)),
                  lambda D, m: D.Categorical(logits=m.zeros(2, 3)),
                  lambda D, m: D.OneHotCategorical(probs=m.ones(2, 3)),
                  lambda D, m: D.MultivariateNormal(m.zeros(4, 1, 3), scale_tril=m.eye(3)),
                  lambda D, m: D.Independent(D.Exponential(m.ones(2, 3, 4)), 2),
                  lambda D, m: D.Independent(D.Bernoulli(probs=m.ones(2, 3) / 2), 0),  # enumerate_support raised
                  lambda D, m: D.Uniform(m.zeros(2), 1.0).expand((5, 2)),
                  lambda D, m: D.Categorical(probs=m.ones(3)).expand((2, 4))]:
        ours, theirs = build(ember.distributions, ember), build(torch.distributions, torch)
        assert ours.batch_shape == tuple(theirs.batch_shape) and ours.event_shape == tuple(theirs.event_shape)
        assert ours.has_rsample == theirs.has_rsample
        assert ours.has_enumerate_support == theirs.has_enumerate_support
        a, b = ours.sample((6,)), theirs.sample((6,))
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype) == str(b.dtype).replace("torch.", "")
        if ours.has_enumerate_support:
            e, f = ours.enumerate_support(), theirs.enumerate_support()
            np.testing.assert_array_equal(e.numpy(), f.numpy())
            assert str(e.dtype) == str(f.dtype).replace("torch.", "")


def test_gamma_rsample_gradient_is_torchs_implicit_gradient_at_the_same_samples():
    # the same sample x of Gamma(alpha, rate): x = g / rate with g ~ Gamma(alpha, 1); torch's gradient in alpha is
    # _standard_gamma_grad(alpha, g) / rate (its approximation: within 2e-3 of the exact one, which Ember computes)
    alpha_np, rate_np = _positive(400) * 3, _positive(400)
    alpha, rate = ember.tensor(alpha_np, requires_grad=True), ember.tensor(rate_np, requires_grad=True)
    ember.manual_seed(11)
    x = ember.distributions.Gamma(alpha, rate).rsample()
    g_alpha, g_rate = ember.grad(x.sum(), [alpha, rate])
    g = torch.tensor(x.detach().numpy() * rate_np)
    expected = torch._standard_gamma_grad(torch.tensor(alpha_np), g).numpy() / rate_np
    np.testing.assert_allclose(g_alpha.numpy(), expected, rtol=2e-3)
    np.testing.assert_allclose(g_rate.numpy(), -x.detach().numpy() / rate_np, rtol=1e-12)
    assert torch.distributions.Gamma(1.0, 1.0).has_rsample and torch.distributions.Dirichlet(torch.ones(2)).has_rsample


@pytest.mark.parametrize("make", [
    lambda D, c: D.Gamma(c, 1.5),
    lambda D, c: D.Beta(c, 2.0),
    lambda D, c: D.Dirichlet(ember.stack([c, 2 * c], -1)),
], ids=["Gamma", "Beta", "Dirichlet"])
def test_rsample_second_derivative_in_the_concentration_is_refused_by_name(make):
    # the slope standard_gamma_grad has no derivative (torch's _standard_gamma_grad raises NotImplementedError);
    # held constant, the Gamma gradient did not require grad and Beta's second derivative came out -0.05 silently
    c = ember.tensor([2.0, 0.7], requires_grad=True)
    x = make(ember.distributions, c).rsample((3,))
    (g,) = ember.grad((x * x).sum(), c, create_graph=True)
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="standard_gamma_grad"):
        ember.grad(g.sum(), c)
    a = torch.tensor([2.0, 0.7], requires_grad=True)
    (h,) = torch.autograd.grad(torch.distributions.Gamma(a, 1.5).rsample().sum(), a, create_graph=True)
    with pytest.raises(NotImplementedError):
        torch.autograd.grad(h.sum(), a)


def test_gamma_rsample_second_derivative_in_the_rate_alone_is_kept():
    alpha, rate = ember.tensor([2.0, 0.7], requires_grad=True), ember.tensor(1.5, requires_grad=True)
    x = ember.distributions.Gamma(alpha, rate).rsample()
    (g,) = ember.grad(x.sum(), rate, create_graph=True)
    (h,) = ember.grad(g, rate)
    np.testing.assert_allclose(h.numpy(), (2 * x.detach().numpy() / 1.5 ** 2).sum(), rtol=1e-5)


@pytest.mark.parametrize("make, mean", [
    (lambda D, c: D.Gamma(c[0], 1.5), lambda c: c[0] / 1.5),
    (lambda D, c: D.Beta(c[0], c[1]), lambda c: c[0] / (c[0] + c[1])),
    (lambda D, c: D.Dirichlet(c), lambda c: c / c.sum()),
], ids=["Gamma", "Beta", "Dirichlet"])
def test_rsample_gradients_of_the_mean_estimate_agree_with_torch_and_the_closed_form(make, mean):
    # the noise differs (each library draws its own), so compare the Monte Carlo gradient of E[x . w] in the
    # concentrations with torch's estimate and with the closed form's gradient
    c_np, w = np.array([1.5, 2.5, 0.7]), np.array([1.0, -2.0, 0.5])
    n = 100_000
    ember.manual_seed(0)
    torch.manual_seed(0)
    c, t = ember.tensor(c_np, requires_grad=True), torch.tensor(c_np, requires_grad=True)
    x = make(ember.distributions, c).rsample((n,))
    y = make(torch.distributions, t).rsample((n,))
    weights = w if x.ndim == 2 else w[0]
    (ours,) = ember.grad((x * ember.tensor(weights)).sum() / n, c)
    (theirs,) = torch.autograd.grad((y * torch.tensor(weights)).sum() / n, t)
    exact_t = torch.tensor(c_np, requires_grad=True)
    (exact,) = torch.autograd.grad((mean(exact_t) * torch.tensor(weights)).sum(), exact_t)
    np.testing.assert_allclose(ours.numpy(), exact.numpy(), atol=0.01)
    np.testing.assert_allclose(theirs.numpy(), exact.numpy(), atol=0.01)


def test_gamma_cdf_and_its_gradients_match_torch():
    concentration, rate = _positive(2, 3) * 3, _positive(3) * 2
    value = RNG.gamma(concentration, 1 / rate, (4, 2, 3))
    results = []
    for m in (ember, torch):
        c = m.tensor(concentration)
        r, v = m.tensor(rate, requires_grad=True), m.tensor(value, requires_grad=True)
        d = _lib(m).Gamma(c, r)
        cdf = d.cdf(v)
        (cdf * m.tensor(np.linspace(-1.0, 1.0, cdf.numel()).reshape(tuple(cdf.shape)))).sum().backward()
        results.append((cdf.detach().numpy(), r.grad.numpy(), v.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert np.all((results[0][0] > 0) & (results[0][0] < 1))
    c = ember.tensor(concentration, requires_grad=True)  # as PyTorch, no gradient for the concentration
    with pytest.raises(NotImplementedError, match=r"igamma: the gradient for a \(the first input\)"):
        ember.distributions.Gamma(c, ember.tensor(rate)).cdf(ember.tensor(value)).sum().backward()
    with pytest.raises(ValueError):
        ember.distributions.Gamma(ember.tensor(concentration), ember.tensor(rate), validate_args=True).cdf(
            ember.tensor(-np.ones((2, 3))))


def test_dirichlet_and_beta_modes_with_concentrations_below_one_match_torch():
    # some below one: the others' (c - 1) normalized; all below one: the first vertex
    concentration = np.array([[0.5, 0.3, 2.9], [2.0, 3.0, 0.2], [0.5, 0.3, 0.9], [1.5, 2.5, 4.0]])
    _compare(lambda D, c: D.Dirichlet(c), [concentration], [], lambda d: d.mode)
    _compare(lambda D, a, b: D.Beta(a, b), [concentration[:, 0], concentration[:, 1]], [], lambda d: d.mode)


def test_uniform_support_is_closed_and_has_a_bijection_as_torch():
    low, high = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    _compare(lambda D, a, b: D.Uniform(a, b), [low, high], [high], lambda d, v: d.log_prob(v))
    _compare(lambda D, a, b: D.Uniform(a, b), [low, high], [high], lambda d, v: d.cdf(v))
    x = RNG.normal(size=(4, 2))
    lib = {ember.distributions.Uniform: ember.distributions, torch.distributions.Uniform: torch.distributions}
    _compare(lambda D, a, b: D.Uniform(a, b), [low, high], [x], lambda d, v: lib[type(d)].biject_to(d.support)(v))


@pytest.mark.parametrize("name, build, params, values", [
    ("Gamma", lambda D, c, r: D.Gamma(c, r, validate_args=False), [np.array([1.0, 2.0]), np.array([2.0, 0.5])],
     [np.array([0.0, 0.0])]),
    ("Beta", lambda D, a, b: D.Beta(a, b, validate_args=False), [np.array([1.0, 2.0]), np.array([2.0, 1.0])],
     [np.array([0.0, 1.0])]),
    ("Dirichlet", lambda D, c: D.Dirichlet(c, validate_args=False), [np.array([[1.0, 2.0, 3.0]])],
     [np.array([[0.0, 0.4, 0.6]])]),
], ids=["Gamma", "Beta", "Dirichlet"])
def test_log_prob_at_the_support_edge_with_a_concentration_of_one_has_torchs_parameter_gradients(name, build, params,
                                                                                                 values):
    # (c - 1) log(value) is 0 there; the gradient of the branch where() dropped was 0 * log(0), NaN
    _compare(build, params, values, lambda d, v: d.log_prob(v))


@pytest.mark.parametrize("name, build, params, values", [
    ("Gamma", lambda D, c, r: D.Gamma(c, r), [np.array([1.0, 2.0]), np.array([2.0, 0.5])], [np.array([0.3, 4.0])]),
    ("Beta", lambda D, a, b: D.Beta(a, b), [np.array([1.0, 1.0]), np.array([1.0, 3.0])], [np.array([0.2, 0.7])]),
    ("Dirichlet", lambda D, c: D.Dirichlet(c), [np.ones((2, 3))], [np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])]),
], ids=["Gamma", "Beta", "Dirichlet"])
def test_log_prob_gradient_in_a_concentration_of_exactly_one_keeps_the_log_value_term(name, build, params, values):
    # d/dc (c - 1) log(value) is log(value) at c = 1 too; xlogy's where(x == 0, 0, ...) dropped it (Dirichlet(ones))
    _compare(build, params, values, lambda d, v: d.log_prob(v))
