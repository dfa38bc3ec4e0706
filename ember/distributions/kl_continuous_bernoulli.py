"""KL divergences with the continuous Bernoulli distribution, registered with ``register_kl`` for the pairs PyTorch
registers. A distribution over all the reals (or the positive ones) against one on [0, 1] has an infinite KL."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions.continuous_bernoulli import ContinuousBernoulli
from ember.distributions.dirichlet import Beta
from ember.distributions.exponential import Exponential
from ember.distributions.gamma import Gamma
from ember.distributions.gumbel import Gumbel
from ember.distributions.kl import register_kl
from ember.distributions.laplace import Laplace
from ember.distributions.normal import Normal
from ember.distributions.pareto import Pareto
from ember.distributions.uniform import Uniform


def _infinite_like(value):
    return creation.full_like(value, math.inf)


def _minus_expected_log_density(q: ContinuousBernoulli, mean):
    """-E[log q(x)] for x of mean ``mean``: log q(x) = x logit(p) + log(1 - p) + log C(p)."""
    return -mean * q.logits - ops.log1p(-q.probs) - q._log_normalizer()


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    return (p.mean * (p.logits - q.logits) + p._log_normalizer() + ops.log1p(-p.probs) - q._log_normalizer()
            - ops.log1p(-q.probs))


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return -p.entropy() + _minus_expected_log_density(q, p.mean)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    result = -p.entropy() + _minus_expected_log_density(q, p.mean)
    outside = (p.high >= 1.0) | (p.low <= 0.0)  # PyTorch's test: the bounds themselves count as outside
    return ops.where(outside, _infinite_like(result), result)


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() - ops.log(q.rate) + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    second_moment = p.variance + p.mean ** 2
    return (-p.entropy() + 0.5 * (math.log(2.0 * math.pi) + (q.loc / q.scale) ** 2) + ops.log(q.scale)
            + (second_moment - 2.0 * q.loc * p.mean) / (2.0 * q.scale ** 2))


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    result = -p.entropy() + ops.log(q.high - q.low)
    uncovered = (q.low >= 0.0) | (q.high <= 1.0)  # as PyTorch: a bound on 0 or 1 counts as not covering
    return ops.where(uncovered, _infinite_like(result), result)


@register_kl(ContinuousBernoulli, Pareto)
def _kl_continuous_bernoulli_pareto(p, q):
    return _infinite_like(p.probs)


def _infinite_against_continuous_bernoulli(cls, parameter: str):
    @register_kl(cls, ContinuousBernoulli)
    def kl(p, q):
        return _infinite_like(getattr(p, parameter))

    kl.__name__ = f"_kl_{cls.__name__.lower()}_continuous_bernoulli"
    return kl


for _cls, _parameter in ((Exponential, "rate"), (Gamma, "concentration"), (Gumbel, "loc"), (Laplace, "loc"),
                         (Normal, "loc"), (Pareto, "scale")):
    _infinite_against_continuous_bernoulli(_cls, _parameter)
