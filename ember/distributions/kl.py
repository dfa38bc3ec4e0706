"""KL divergences between pairs of distributions, found by type in a registry, as ``torch.distributions.kl``."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember import creation, ops
from ember.distributions.bernoulli import Bernoulli
from ember.distributions.categorical import Categorical, OneHotCategorical
from ember.distributions.dirichlet import Beta, Dirichlet
from ember.distributions.distribution import Distribution
from ember.distributions.exponential import Exponential
from ember.distributions.gamma import Gamma
from ember.distributions.independent import Independent
from ember.distributions.laplace import Laplace
from ember.distributions.multivariate_normal import MultivariateNormal, _batch_mahalanobis, _half_log_det, solve_lower
from ember.distributions.normal import Normal
from ember.distributions.uniform import Uniform
from ember.distributions.utils import sum_rightmost
from ember.nn import functional as F

_KL_REGISTRY: dict = {}


def register_kl(type_p: type, type_q: type):
    """A decorator registering ``fn(p, q)`` as ``kl_divergence`` for ``p`` of ``type_p`` and ``q`` of ``type_q``
    (or their subclasses: the most specific registered pair wins, as in PyTorch).

    >>> @ember.distributions.register_kl(MyDist, ember.distributions.Normal)
    ... def kl_mine_normal(p, q): ...
    """
    for t in (type_p, type_q):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TypeError(f"register_kl: expected subclasses of Distribution, got {t!r}")

    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        return fn

    return decorator


def _lookup(type_p: type, type_q: type):
    """The function of the registered pair most specific in ``p``'s type, then in ``q``'s, as PyTorch's; a
    RuntimeWarning where the pair most specific in ``q``'s type first has another function (an ambiguity)."""
    matches = [(type_p.__mro__.index(p), type_q.__mro__.index(q), fn)
               for (p, q), fn in _KL_REGISTRY.items() if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return None
    left = min(matches, key=lambda m: (m[0], m[1]))[2]
    right = min(matches, key=lambda m: (m[1], m[0]))[2]
    if left is not right:
        warnings.warn(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}): the pair most specific in "
                      f"p's type is used; register_kl({type_p.__name__}, {type_q.__name__}) to choose",
                      RuntimeWarning, stacklevel=3)
    return left


def kl_divergence(p: Distribution, q: Distribution):
    """KL(p || q) for each distribution of the batch, from the function ``register_kl`` holds for their types;
    NotImplementedError naming both types when there is none."""
    fn = _lookup(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"kl_divergence: no KL divergence registered for {type(p).__name__} and "
                                  f"{type(q).__name__} (register one with register_kl)")
    return fn(p, q)


def _infinite_where(condition, value):
    return ops.where(condition, creation.full_like(value, float("inf")), value)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - ops.log(var_ratio))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (F.softplus(-q.logits) - F.softplus(-p.logits))
    t1 = ops.where(q.probs == 0, creation.full_like(t1, float("inf")), t1)
    t1 = ops.where(p.probs == 0, creation.zeros_like(t1), t1)
    t2 = (1 - p.probs) * (F.softplus(q.logits) - F.softplus(p.logits))
    t2 = ops.where(q.probs == 1, creation.full_like(t2, float("inf")), t2)
    t2 = ops.where(p.probs == 1, creation.zeros_like(t2), t2)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = ops.where(ops.broadcast_to(q.probs == 0, t.shape), creation.full_like(t, float("inf")), t)
    t = ops.where(ops.broadcast_to(p.probs == 0, t.shape), creation.zeros_like(t), t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ops.log((q.high - q.low) / (p.high - p.low))
    return _infinite_where((q.low > p.low) | (q.high < p.high), result)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return rate_ratio - 1 - ops.log(rate_ratio)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = ops.abs(p.loc - q.loc)
    t1 = -ops.log(scale_ratio)
    t2 = loc_abs_diff / q.scale
    t3 = scale_ratio * ops.exp(-loc_abs_diff / p.scale)
    return t1 + t2 + t3 - 1


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    loc_diff = p.loc - q.loc
    scale_ratio = p.scale / q.scale
    loc_diff_scale_ratio = loc_diff / p.scale
    t1 = ops.log(scale_ratio)
    t2 = math.sqrt(2 / math.pi) * p.scale * ops.exp(-0.5 * loc_diff_scale_ratio ** 2)
    t3 = loc_diff * ops.erf(math.sqrt(0.5) * loc_diff_scale_ratio)
    return -t1 + (t2 + t3) / q.scale - (0.5 * (1 + math.log(0.5 * math.pi)))


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    common_term = p.high - p.low
    t1 = ops.log(math.sqrt(math.pi * 2) * q.scale / common_term)
    t2 = common_term ** 2 / 12
    t3 = ((p.high + p.low - 2 * q.loc) / 2) ** 2
    return t1 + 0.5 * (t2 + t3) / q.scale ** 2


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: MultivariateNormals of different event shapes {p.event_shape} and "
                         f"{q.event_shape}")
    k = p.event_shape[0]
    half_term1 = _half_log_det(q._unbroadcasted_scale_tril) - _half_log_det(p._unbroadcasted_scale_tril)
    batch = np.broadcast_shapes(tuple(q._unbroadcasted_scale_tril.shape[:-2]),
                                tuple(p._unbroadcasted_scale_tril.shape[:-2]))
    q_tril = ops.broadcast_to(q._unbroadcasted_scale_tril, batch + (k, k))
    p_tril = ops.broadcast_to(p._unbroadcasted_scale_tril, batch + (k, k))
    term2 = (solve_lower(q_tril, p_tril) ** 2).sum((-2, -1))  # trace(Sigma_q^-1 Sigma_p)
    term3 = _batch_mahalanobis(q._unbroadcasted_scale_tril, q.loc - p.loc)
    return half_term1 + 0.5 * (term2 + term3 - k)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    t1 = q.concentration * ops.log(p.rate / q.rate)
    t2 = ops.lgamma(q.concentration) - ops.lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * ops.digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    return _kl_dirichlet_dirichlet(p._dirichlet, q._dirichlet)


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    sum_p, sum_q = p.concentration.sum(-1), q.concentration.sum(-1)
    t1 = ops.lgamma(sum_p) - ops.lgamma(sum_q)
    t2 = (ops.lgamma(p.concentration) - ops.lgamma(q.concentration)).sum(-1)
    t3 = p.concentration - q.concentration
    t4 = ops.digamma(p.concentration) - ops.digamma(sum_p).unsqueeze(-1)
    return t1 - t2 + (t3 * t4).sum(-1)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("kl_divergence: Independent distributions with different "
                                  f"reinterpreted_batch_ndims ({p.reinterpreted_batch_ndims} and "
                                  f"{q.reinterpreted_batch_ndims})")
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)
