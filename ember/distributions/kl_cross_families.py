"""KL divergences between distributions of different families, registered with ``register_kl`` for the pairs
PyTorch registers in closed form. Each is ``-H(p) - E_p[log q(x)]``: ``q``'s log-density is linear in a few
expectations under ``p`` (the mean, E[x^2], E[log x], E[exp(-x / scale)]), which ``p``'s parameters give.

Where ``p`` puts mass outside ``q``'s support the divergence is infinite: always, for the pairs listed in
``_DISJOINT`` (a distribution over all the reals against one on the positive reals or on an interval), and for
the entries whose parameters say so (a Uniform reaching below zero against an Exponential), as PyTorch's. A Pareto
whose moment the expectation needs is infinite (alpha <= 1 for the mean, <= 2 for E[x^2]) gives inf too.
"""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions.bernoulli import Bernoulli
from ember.distributions.binomial import Binomial
from ember.distributions.dirichlet import Beta
from ember.distributions.exponential import Exponential
from ember.distributions.gamma import Gamma
from ember.distributions.gumbel import EULER_GAMMA, Gumbel
from ember.distributions.kl import _infinite_where, register_kl
from ember.distributions.laplace import Laplace
from ember.distributions.normal import Normal
from ember.distributions.pareto import Pareto
from ember.distributions.poisson import Poisson
from ember.distributions.uniform import Uniform

# --- -E_p[log q(x)] for each q, from the expectations under p that it needs ------------------------------------


def _exponential_cross_entropy(q: Exponential, mean):
    return q.rate * mean - ops.log(q.rate)


def _gamma_cross_entropy(q: Gamma, mean, mean_log):
    c, r = q.concentration, q.rate
    return ops.lgamma(c) - c * ops.log(r) - (c - 1) * mean_log + r * mean


def _normal_cross_entropy(q: Normal, mean, second_moment):
    variance = q.scale ** 2
    return 0.5 * ops.log(2 * math.pi * variance) + (second_moment - 2 * q.loc * mean + q.loc ** 2) / (2 * variance)


def _gumbel_cross_entropy(q: Gumbel, mean, laplace):
    """``laplace``: E[exp(-x / q.scale)]; log q(x) = -log scale - z - exp(-z) with z = (x - loc) / scale."""
    return ops.log(q.scale) + (mean - q.loc) / q.scale + ops.exp(q.loc / q.scale) * laplace


def _pareto_cross_entropy(q: Pareto, mean_log):
    return (q.alpha + 1) * mean_log - ops.log(q.alpha) - q.alpha * ops.log(q.scale)


def _beta_cross_entropy(q: Beta, mean_log, mean_log1m):
    a, b = q.concentration1, q.concentration0
    log_beta = ops.lgamma(a) + ops.lgamma(b) - ops.lgamma(a + b)
    return log_beta - (a - 1) * mean_log - (b - 1) * mean_log1m


# --- expectations under p --------------------------------------------------------------------------------------


def _beta_mean_log(p: Beta):
    return ops.digamma(p.concentration1) - ops.digamma(p.concentration1 + p.concentration0)


def _uniform_mean_log(low, high):
    """E[log x] for x uniform on [low, high] (0 <= low): the integral of log is x log x - x."""
    return (ops.xlogy(high, high) - ops.xlogy(low, low)) / (high - low) - 1


def _pareto_mean(p: Pareto, alpha):
    return alpha * p.scale / (alpha - 1)


def _pareto_mean_log(p: Pareto):
    return ops.log(p.scale) + 1 / p.alpha


def _away_from(outside, value, safe: float):
    """``value`` with ``safe`` where ``outside``: the entries whose result is inf anyway then compute no log of a
    negative number or division by zero (no warnings, and no NaN in the other entries' gradients)."""
    return ops.where(outside, safe, value)


# --- the pairs -------------------------------------------------------------------------------------------------


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() + q.rate - p.probs * ops.log(q.rate)  # log x! is 0 on {0, 1}


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() + _exponential_cross_entropy(q, p.mean)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    return -p.entropy() + _gamma_cross_entropy(q, p.mean, _beta_mean_log(p))


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    return -p.entropy() + _normal_cross_entropy(q, p.mean, p.variance + p.mean ** 2)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + ops.log(q.high - q.low)
    return _infinite_where((q.low > 0) | (q.high < 1), result)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    return -p.entropy() + _gamma_cross_entropy(q, 1 / p.rate, -EULER_GAMMA - ops.log(p.rate))


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    rate_scale = p.rate * q.scale
    return -p.entropy() + _gumbel_cross_entropy(q, 1 / p.rate, rate_scale / (rate_scale + 1))


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() + _exponential_cross_entropy(q, p.concentration / p.rate)


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    laplace = (1 + 1 / (p.rate * q.scale)) ** -p.concentration
    return -p.entropy() + _gumbel_cross_entropy(q, p.concentration / p.rate, laplace)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    c, r = p.concentration, p.rate
    return -p.entropy() + _normal_cross_entropy(q, c / r, c * (c + 1) / r ** 2)


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    infinite = p.alpha <= 1
    result = -p.entropy() + _exponential_cross_entropy(q, _pareto_mean(p, _away_from(infinite, p.alpha, 2.0)))
    return _infinite_where(infinite, result)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    infinite = p.alpha <= 1
    mean = _pareto_mean(p, _away_from(infinite, p.alpha, 2.0))
    return _infinite_where(infinite, -p.entropy() + _gamma_cross_entropy(q, mean, _pareto_mean_log(p)))


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    infinite = p.alpha <= 2
    alpha = _away_from(infinite, p.alpha, 3.0)
    second_moment = alpha * p.scale ** 2 / (alpha - 2)
    result = -p.entropy() + _normal_cross_entropy(q, _pareto_mean(p, alpha), second_moment)
    return _infinite_where(infinite, result)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    infinite = (p.high > 1) | (p.low < 0)
    low, high = _away_from(infinite, p.low, 0.25), _away_from(infinite, p.high, 0.75)
    mean_log1m = _uniform_mean_log(1 - high, 1 - low)  # E[log(1 - x)]: 1 - x is uniform on [1 - high, 1 - low]
    result = -p.entropy() + _beta_cross_entropy(q, _uniform_mean_log(low, high), mean_log1m)
    return _infinite_where(infinite, result)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    return _infinite_where(p.low < 0, -p.entropy() + _exponential_cross_entropy(q, p.mean))


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    infinite = p.low < 0
    mean_log = _uniform_mean_log(_away_from(infinite, p.low, 1.0), _away_from(infinite, p.high, 2.0))
    return _infinite_where(infinite, -p.entropy() + _gamma_cross_entropy(q, p.mean, mean_log))


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    infinite = p.low < q.scale
    mean_log = _uniform_mean_log(_away_from(infinite, p.low, 1.0), _away_from(infinite, p.high, 2.0))
    return _infinite_where(infinite, -p.entropy() + _pareto_cross_entropy(q, mean_log))


# --- disjoint supports: p of the first family has mass where no q of the second has density ---------------------

_DISJOINT = {  # p's family: (its parameter of p's batch shape, the q families)
    Beta: ("concentration1", (Pareto,)),
    Exponential: ("rate", (Beta, Pareto, Uniform)),
    Gamma: ("concentration", (Beta, Pareto, Uniform)),
    Gumbel: ("loc", (Beta, Exponential, Gamma, Pareto, Uniform)),
    Laplace: ("loc", (Beta, Exponential, Gamma, Pareto, Uniform)),
    Normal: ("loc", (Beta, Exponential, Gamma, Pareto, Uniform)),
    Pareto: ("scale", (Beta, Uniform)),
    Poisson: ("rate", (Bernoulli, Binomial)),
}


def _register_infinite(type_p: type, type_q: type, parameter: str) -> None:
    def kl(p, q):
        return creation.full_like(getattr(p, parameter), math.inf)

    kl.__name__ = f"_kl_{type_p.__name__.lower()}_{type_q.__name__.lower()}"
    register_kl(type_p, type_q)(kl)


for _type_p, (_parameter, _types_q) in _DISJOINT.items():
    for _type_q in _types_q:
        _register_infinite(_type_p, _type_q, _parameter)
