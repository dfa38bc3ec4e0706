"""Probability distributions for sampling, likelihoods and KL divergences, as ``torch.distributions``.

Samples draw from Ember's global generator (``ember.manual_seed`` repeats them); ``rsample`` is
differentiable with respect to the parameters (the reparameterization trick).

>>> from ember.distributions import Normal, kl_divergence
>>> p = Normal(ember.zeros(3, requires_grad=True), ember.ones(3))
>>> z = p.rsample((8,))                       # (8, 3), differentiable in p.loc
>>> kl_divergence(p, Normal(1.0, 2.0)).sum()
"""

from ember.distributions import constraints
from ember.distributions.bernoulli import Bernoulli
from ember.distributions.categorical import Categorical, OneHotCategorical
from ember.distributions.dirichlet import Beta, Dirichlet
from ember.distributions.distribution import Distribution
from ember.distributions.exponential import Exponential
from ember.distributions.gamma import Gamma
from ember.distributions.independent import Independent
from ember.distributions.kl import kl_divergence, register_kl
from ember.distributions.laplace import Laplace
from ember.distributions.multivariate_normal import MultivariateNormal
from ember.distributions.normal import Normal
from ember.distributions.uniform import Uniform

__all__ = [
    "Bernoulli", "Beta", "Categorical", "Dirichlet", "Distribution", "Exponential", "Gamma", "Independent", "Laplace",
    "MultivariateNormal", "Normal", "OneHotCategorical", "Uniform", "constraints", "kl_divergence", "register_kl",
]
