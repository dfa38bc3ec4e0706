"""KL divergences between distributions of different families, and the full normal against the low-rank one,
against torch.distributions: values and parameter gradients on random parameters with batch shapes, the pairs
of disjoint supports infinite, the registry covering every pair PyTorch registers for Ember's classes."""

import numpy as np
import pytest
from test_torch_distributions import _compare, _positive

import ember

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)


def _reals(*shape):
    return RNG.normal(size=shape)


def _unit(*shape):
    return RNG.uniform(0.1, 0.9, shape)


def _tril(*batch, k=3):
    a = np.tril(RNG.normal(size=batch + (k, k)) * 0.3)
    idx = np.arange(k)
    a[..., idx, idx] = RNG.uniform(0.5, 1.5, batch + (k,))
    return a


# (PyTorch marks the infinite entries of the pairs whose support depends on the parameters by a mask of one
# distribution's batch shape, so there the other's broadcasts into it)
CASES = [
    ("Bernoulli-Poisson", lambda D, a, b: (D.Bernoulli(probs=a), D.Poisson(b)), lambda: [_unit(2, 3), _positive(3)]),
    ("Beta-Exponential", lambda D, a, b, c: (D.Beta(a, b), D.Exponential(c)),
     lambda: [_positive(2, 3), _positive(3), _positive(2, 1)]),
    ("Beta-Gamma", lambda D, a, b, c, d: (D.Beta(a, b), D.Gamma(c, d)),
     lambda: [_positive(3), _positive(3), _positive(2, 3), _positive(3)]),
    ("Beta-Normal", lambda D, a, b, c, d: (D.Beta(a, b), D.Normal(c, d)),
     lambda: [_positive(2, 3), _positive(2, 3), _reals(3), _positive(3)]),
    ("Beta-Uniform", lambda D, a, b, c, d: (D.Beta(a, b), D.Uniform(c, d)),
     lambda: [_positive(3), _positive(3), RNG.uniform(-2, -0.1, (2, 3)), RNG.uniform(1.1, 2, 3)]),
    ("Exponential-Gamma", lambda D, a, b, c: (D.Exponential(a), D.Gamma(b, c)),
     lambda: [_positive(2, 3), _positive(3), _positive(3)]),
    ("Exponential-Gumbel", lambda D, a, b, c: (D.Exponential(a), D.Gumbel(b, c)),
     lambda: [_positive(3), _reals(2, 3), _positive(3)]),
    ("Gamma-Exponential", lambda D, a, b, c: (D.Gamma(a, b), D.Exponential(c)),
     lambda: [_positive(2, 3), _positive(3), _positive(3)]),
    ("Gamma-Gumbel", lambda D, a, b, c, d: (D.Gamma(a, b), D.Gumbel(c, d)),
     lambda: [_positive(3), _positive(3), _reals(2, 3), _positive(3)]),
    ("Gamma-Normal", lambda D, a, b, c, d: (D.Gamma(a, b), D.Normal(c, d)),
     lambda: [_positive(2, 3), _positive(3), _reals(3), _positive(3)]),
    ("Chi2-Normal", lambda D, a, c, d: (D.Chi2(a), D.Normal(c, d)),
     lambda: [_positive(3) * 2, _reals(3), _positive(3)]),
    ("Pareto-Exponential", lambda D, a, b, c: (D.Pareto(a, b), D.Exponential(c)),
     lambda: [_positive(2, 3), 1.5 + _positive(3), _positive(3)]),
    ("Pareto-Gamma", lambda D, a, b, c, d: (D.Pareto(a, b), D.Gamma(c, d)),
     lambda: [_positive(3), 1.5 + _positive(2, 3), _positive(3), _positive(3)]),
    ("Pareto-Normal", lambda D, a, b, c, d: (D.Pareto(a, b), D.Normal(c, d)),
     lambda: [_positive(3), 2.5 + _positive(2, 3), _reals(3), _positive(3)]),
    ("Uniform-Beta", lambda D, a, b, c, d: (D.Uniform(a, b), D.Beta(c, d)),
     lambda: [RNG.uniform(0.05, 0.4, (2, 3)), RNG.uniform(0.5, 0.95, 3), _positive(3), _positive(3)]),
    ("Uniform-Exponential", lambda D, a, b, c: (D.Uniform(a, b), D.Exponential(c)),
     lambda: [RNG.uniform(0.1, 1, 3), RNG.uniform(1.5, 3, (2, 3)), _positive(3)]),
    ("Uniform-Gamma", lambda D, a, b, c, d: (D.Uniform(a, b), D.Gamma(c, d)),
     lambda: [RNG.uniform(0.1, 1, (2, 3)), RNG.uniform(1.5, 3, 3), _positive(3), _positive(3)]),
    ("Uniform-Pareto", lambda D, a, b, c, d: (D.Uniform(a, b), D.Pareto(c, d)),
     lambda: [RNG.uniform(1, 2, (2, 3)), RNG.uniform(2.5, 3, 3), RNG.uniform(0.2, 0.9, 3), _positive(3)]),
    ("LowRankMultivariateNormal-MultivariateNormal",
     lambda D, a, b, c, d, e: (D.LowRankMultivariateNormal(a, b, c), D.MultivariateNormal(d, scale_tril=e)),
     lambda: [_reals(2, 3), _reals(3, 2), _positive(3), _reals(3), _tril(2)]),
    ("MultivariateNormal-LowRankMultivariateNormal",
     lambda D, a, b, c, d, e: (D.MultivariateNormal(a, scale_tril=b), D.LowRankMultivariateNormal(c, d, e)),
     lambda: [_reals(3), _tril(2), _reals(2, 3), _reals(2, 3, 2), _positive(3)]),
]


@pytest.mark.parametrize("name, build, params", CASES, ids=[c[0] for c in CASES])
def test_kl_divergence_across_families_matches_torch(name, build, params):
    _compare(build, params(), [], lambda pq: (ember if isinstance(pq[0], ember.distributions.Distribution)
                                              else torch).distributions.kl_divergence(*pq), atol=1e-8)


def _kl_both(build, params):
    """KL of the pair ``build`` makes in each library, with parameters that require gradients, and the gradients
    of its finite entries' sum."""
    results = []
    for m in (ember, torch):
        tensors = [m.tensor(a, dtype=m.float64).requires_grad_() for a in params]
        default = m.get_default_dtype()
        m.set_default_dtype(m.float64)  # the parameters given as Python floats
        try:
            kl = m.distributions.kl_divergence(*build(m.distributions, *tensors))
        finally:
            m.set_default_dtype(default)
        grad = ember.grad if m is ember else torch.autograd.grad
        results.append((kl, [g.numpy() for g in grad(kl[m.isfinite(kl)].sum(), tensors)]))
    return results


SUPPORT_EDGES = [  # parameters putting some of p's mass outside q's support in some entries, not in others
    ("Beta-Uniform", lambda D, c, d: (D.Beta(2.0, 3.0), D.Uniform(c, d)),
     [np.array([-1.0, 0.2, 0.0, -0.5]), np.array([2.0, 2.0, 1.0, 0.9])]),
    ("Uniform-Beta", lambda D, a, b: (D.Uniform(a, b), D.Beta(2.0, 3.0)),
     [np.array([-0.1, 0.2, 0.0, 0.5]), np.array([0.5, 0.8, 1.0, 1.2])]),
    ("Uniform-Exponential", lambda D, a, b: (D.Uniform(a, b), D.Exponential(2.0)),
     [np.array([-1.0, 0.0, 0.5]), np.array([1.0, 1.0, 2.0])]),
    ("Uniform-Gamma", lambda D, a, b: (D.Uniform(a, b), D.Gamma(2.0, 3.0)),
     [np.array([-1.0, 0.0, 0.5]), np.array([1.0, 1.0, 2.0])]),
    ("Uniform-Pareto", lambda D, a, b: (D.Uniform(a, b), D.Pareto(1.0, 2.0)),
     [np.array([0.5, 1.0, 1.5]), np.array([2.0, 2.0, 3.0])]),
    ("Pareto-Exponential", lambda D, a: (D.Pareto(1.0, a), D.Exponential(2.0)), [np.array([0.5, 1.0, 1.5])]),
    ("Pareto-Gamma", lambda D, a: (D.Pareto(1.0, a), D.Gamma(2.0, 1.0)), [np.array([0.5, 1.0, 1.5])]),
    ("Pareto-Normal", lambda D, a: (D.Pareto(1.0, a), D.Normal(0.0, 1.0)), [np.array([1.5, 2.0, 2.5])]),
]


@pytest.mark.parametrize("name, build, params", SUPPORT_EDGES, ids=[c[0] for c in SUPPORT_EDGES])
def test_kl_is_infinite_where_the_parameters_leave_qs_support_as_torch(name, build, params):
    (ours, our_grads), (theirs, their_grads) = _kl_both(build, params)
    expected = theirs.detach().numpy()
    assert np.isinf(expected).any() and np.isfinite(expected).any()  # the case holds both kinds of entries
    np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=1e-7)
    for ours_g, theirs_g in zip(our_grads, their_grads):  # ours are 0 at the infinite entries, PyTorch's may be NaN
        assert np.isfinite(ours_g).all()
        np.testing.assert_allclose(ours_g[np.isfinite(theirs_g)], theirs_g[np.isfinite(theirs_g)], rtol=1e-7)


def _sample_distribution(D, name):
    """A distribution of the family ``name`` with batch shape (2, 3), the same parameters in both libraries."""
    builders = {
        "Bernoulli": lambda: D.Bernoulli(probs=D_tensor(D, np.full((2, 3), 0.3))),
        "Beta": lambda: D.Beta(D_tensor(D, np.full((2, 3), 2.0)), 3.0),
        "Binomial": lambda: D.Binomial(5, probs=D_tensor(D, np.full((2, 3), 0.4))),
        "Exponential": lambda: D.Exponential(D_tensor(D, np.full((2, 3), 1.5))),
        "Gamma": lambda: D.Gamma(D_tensor(D, np.full((2, 3), 2.0)), 1.0),
        "Gumbel": lambda: D.Gumbel(D_tensor(D, np.zeros((2, 3))), 1.0),
        "Laplace": lambda: D.Laplace(D_tensor(D, np.zeros((2, 3))), 1.0),
        "Normal": lambda: D.Normal(D_tensor(D, np.zeros((2, 3))), 1.0),
        "Pareto": lambda: D.Pareto(D_tensor(D, np.ones((2, 3))), 2.0),
        "Poisson": lambda: D.Poisson(D_tensor(D, np.full((2, 3), 2.0))),
        "Uniform": lambda: D.Uniform(D_tensor(D, np.full((2, 3), 0.2)), 0.7),
    }
    return builders[name]()


def D_tensor(D, array):  # noqa: N802  (the library's tensor for its distributions module)
    return (ember if D is ember.distributions else torch).tensor(array)


DISJOINT = [("Beta", "Pareto")] + [(p, q) for p in ("Exponential", "Gamma") for q in ("Beta", "Pareto", "Uniform")] \
    + [(p, q) for p in ("Gumbel", "Laplace", "Normal") for q in ("Beta", "Exponential", "Gamma", "Pareto", "Uniform")] \
    + [("Pareto", "Beta"), ("Pareto", "Uniform"), ("Poisson", "Bernoulli"), ("Poisson", "Binomial")]


@pytest.mark.parametrize("p_name, q_name", DISJOINT, ids=[f"{p}-{q}" for p, q in DISJOINT])
def test_kl_of_disjoint_supports_is_infinite_as_torch(p_name, q_name):
    ours = ember.distributions.kl_divergence(_sample_distribution(ember.distributions, p_name),
                                             _sample_distribution(ember.distributions, q_name))
    theirs = torch.distributions.kl_divergence(_sample_distribution(torch.distributions, p_name),
                                               _sample_distribution(torch.distributions, q_name))
    assert tuple(ours.shape) == tuple(theirs.shape) == (2, 3)
    assert np.isposinf(ours.numpy()).all() and np.isposinf(theirs.numpy()).all()


def test_every_pair_torch_registers_for_embers_classes_is_registered():
    from torch.distributions.kl import _KL_REGISTRY as torch_registry

    from ember.distributions.kl import _KL_REGISTRY as ember_registry

    ours = {(p.__name__, q.__name__) for p, q in ember_registry}
    names = {name for name in dir(ember.distributions) if isinstance(getattr(ember.distributions, name), type)}
    theirs = {(p.__name__, q.__name__) for p, q in torch_registry if p.__name__ in names and q.__name__ in names}
    assert sorted(theirs - ours) == []


def test_unregistered_pair_names_both_classes():
    D = ember.distributions
    with pytest.raises(NotImplementedError, match="Cauchy and Poisson"):
        D.kl_divergence(D.Cauchy(0.0, 1.0), D.Poisson(2.0))
    with pytest.raises(NotImplementedError):
        torch.distributions.kl_divergence(torch.distributions.Cauchy(0.0, 1.0), torch.distributions.Poisson(2.0))


def test_kl_between_normals_of_different_event_shapes_is_refused():
    D = ember.distributions
    with pytest.raises(ValueError, match="event shapes"):
        D.kl_divergence(D.LowRankMultivariateNormal(ember.zeros(3), ember.ones(3, 1), ember.ones(3)),
                        D.MultivariateNormal(ember.zeros(2), scale_tril=ember.eye(2)))


def test_under_jit_kls_and_their_gradients_equal_eager():
    D = ember.distributions
    low = np.array([-0.5, 0.2, 0.4])

    def step(low, concentration, loc):
        kl = D.kl_divergence(D.Uniform(low, 1.5), D.Gamma(concentration, 2.0))
        loss = ember.where(ember.isfinite(kl), kl, 0.0).sum()
        loss = loss + D.kl_divergence(D.MultivariateNormal(loc, scale_tril=ember.eye(3)),
                                      D.LowRankMultivariateNormal(ember.zeros(3), ember.ones(3, 1), ember.ones(3)))
        loss.backward()
        return loss

    results = []
    for fn in (step, ember.jit(step), ember.jit(step)):
        params = [ember.tensor(low, requires_grad=True), ember.tensor([1.5, 2.0, 2.5], requires_grad=True),
                  ember.tensor([0.1, -0.2, 0.3], requires_grad=True)]
        loss = fn(*params)
        results.append([loss.item()] + [p.grad.numpy().copy() for p in params])
    assert all(np.isfinite(value).all() for value in results[0])
    for result in results[1:]:
        for a, b in zip(result, results[0]):
            np.testing.assert_allclose(a, b, rtol=1e-12)
