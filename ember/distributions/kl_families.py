"""KL divergences for the distributions beyond kl.py's first families (Gumbel, Cauchy, Poisson, Binomial,
Geometric, Pareto, HalfNormal, the low-rank normal against itself and the full one, Wishart, transformed distributions),
registered with ``register_kl`` as PyTorch registers them."""

from __future__ import annotations

import math

import numpy as np

from ember import creation, linalg, ops
from ember.distributions.binomial import Binomial
from ember.distributions.cauchy import Cauchy
from ember.distributions.exponential import Exponential
from ember.distributions.geometric import Geometric
from ember.distributions.gumbel import EULER_GAMMA, Gumbel
from ember.distributions.half import HalfNormal
from ember.distributions.kl import _kl_normal_normal, kl_divergence, register_kl
from ember.distributions.laplace import Laplace
from ember.distributions.lowrank_multivariate_normal import (
    LowRankMultivariateNormal,
    _lowrank_logdet,
    _lowrank_mahalanobis,
)
from ember.distributions.multivariate_normal import MultivariateNormal, _batch_mahalanobis, _half_log_det
from ember.distributions.normal import Normal
from ember.distributions.pareto import Pareto
from ember.distributions.poisson import Poisson
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.uniform import Uniform
from ember.distributions.wishart import Wishart, _multivariate_digamma


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ct1 = p.scale / q.scale
    ct2 = q.loc / q.scale
    ct3 = p.loc / q.scale
    t1 = -ops.log(ct1) - ct2 + ct3
    t2 = ct1 * EULER_GAMMA
    t3 = ops.exp(ct2 + ops.lgamma(1 + ct1) - ct3)
    return t1 + t2 + t3 - (1 + EULER_GAMMA)


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    param_ratio = p.scale / q.scale
    t1 = ops.log(param_ratio / math.sqrt(2 * math.pi))
    t2 = (math.pi * param_ratio * 0.5) ** 2 / 3
    t3 = ((p.loc + p.scale * EULER_GAMMA - q.loc) / q.scale) ** 2 * 0.5
    return -t1 + t2 + t3 - (EULER_GAMMA + 1)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mean_scale_ratio = p.loc / q.scale
    var_scale_sqr_ratio = (p.scale / q.scale) ** 2
    loc_scale_ratio = q.loc / q.scale
    t1 = ops.log(var_scale_sqr_ratio) * 0.5
    t2 = mean_scale_ratio - loc_scale_ratio
    t3 = ops.exp(-mean_scale_ratio + 0.5 * var_scale_sqr_ratio + loc_scale_ratio)
    return -t1 + t2 + t3 - (0.5 * (1 + math.log(2 * math.pi)))


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    var_normal = q.scale ** 2
    scale_sqr_var_ratio = p.scale ** 2 / var_normal
    t1 = 0.5 * ops.log(2 * scale_sqr_var_ratio / math.pi)
    t2 = 0.5 * p.loc ** 2
    t3 = p.loc * q.loc
    t4 = 0.5 * q.loc ** 2
    return -t1 + scale_sqr_var_ratio + (t2 - t3 + t4) / var_normal - 1


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    var_normal = q.scale ** 2
    rate_sqr = p.rate ** 2
    t1 = 0.5 * ops.log(rate_sqr * var_normal * 2 * math.pi)
    t2 = 1 / rate_sqr
    t3 = q.loc / p.rate
    t4 = q.loc ** 2 * 0.5
    return t1 - 1 + (t2 - t3 + t4) / var_normal


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    common_term = q.scale / (p.high - p.low)
    high_loc_diff = (p.high - q.loc) / q.scale
    low_loc_diff = (p.low - q.loc) / q.scale
    t1 = ops.log(common_term) + 0.5 * (high_loc_diff + low_loc_diff)
    t2 = common_term * (ops.exp(-high_loc_diff) - ops.exp(-low_loc_diff))
    return t1 - t2


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    return ops.log((p.scale + q.scale) ** 2 + (p.loc - q.loc) ** 2) - ops.log(4 * p.scale * q.scale)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (ops.log(p.rate) - ops.log(q.rate)) - (p.rate - q.rate)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - ops.log1p(-q.probs) / p.probs - q.logits


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool(ops.any(p.total_count < q.total_count)):
        raise NotImplementedError("kl_divergence: Binomials where q.total_count > p.total_count are not supported "
                                  f"(p.total_count {p.total_count}, q.total_count {q.total_count})")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + ops.log1p(-p.probs) - ops.log1p(-q.probs))
    return ops.where(p.total_count > q.total_count, creation.full_like(kl, float("inf")), kl)


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    scale_ratio = p.scale / q.scale
    alpha_ratio = q.alpha / p.alpha
    result = q.alpha * ops.log(scale_ratio) - ops.log(alpha_ratio) + alpha_ratio - 1
    return ops.where(p.scale < q.scale, creation.full_like(result, float("inf")), result)


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: LowRankMultivariateNormals of different event shapes {p.event_shape} and "
                         f"{q.event_shape}")
    pw, pd = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag
    qw, qd = q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag
    term1 = _lowrank_logdet(qw, qd, q._capacitance_tril) - _lowrank_logdet(pw, pd, p._capacitance_tril)
    term3 = _lowrank_mahalanobis(qw, qd, q.loc - p.loc, q._capacitance_tril)
    # trace(Sigma_q^-1 Sigma_p) with Sigma_q^-1 = D_q^-1 - A^T A (Woodbury), Sigma_p = D_p + W_p W_p^T
    a = linalg.solve_triangular(q._capacitance_tril, qw.mT / qd.unsqueeze(-2), upper=False)
    term21 = (pd / qd).sum(-1)
    term22 = ((pw * ops.rsqrt(qd).unsqueeze(-1)) ** 2).sum((-2, -1))
    term23 = ((a * ops.sqrt(pd).unsqueeze(-2)) ** 2).sum((-2, -1))
    term24 = (ops.matmul(a, pw) ** 2).sum((-2, -1))
    return 0.5 * (term1 + term21 + term22 - term23 - term24 + term3 - p.event_shape[0])


def _check_event_shapes(p, q) -> None:
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: {type(p).__name__} and {type(q).__name__} of different event shapes "
                         f"{p.event_shape} and {q.event_shape}")


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_mvn(p, q):
    _check_event_shapes(p, q)
    pw, pd = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag
    q_tril = q._unbroadcasted_scale_tril
    term1 = 2 * _half_log_det(q_tril) - _lowrank_logdet(pw, pd, p._capacitance_tril)
    term3 = _batch_mahalanobis(q_tril, q.loc - p.loc)
    # trace(Sigma_q^-1 Sigma_p) = |L_q^-1 W_p|^2 + |L_q^-1 D_p^1/2|^2 (Frobenius norms), Sigma_q = L_q L_q^T
    k, rank = p.event_shape[0], pw.shape[-1]
    batch = np.broadcast_shapes(tuple(q_tril.shape[:-2]), tuple(pw.shape[:-2]), tuple(pd.shape[:-1]))
    q_tril = ops.broadcast_to(q_tril, batch + (k, k))
    term21 = (linalg.solve_triangular(q_tril, ops.broadcast_to(pw, batch + (k, rank)), upper=False) ** 2).sum((-2, -1))
    p_root = ops.broadcast_to(ops.diag_embed(ops.sqrt(pd)), batch + (k, k))
    term22 = (linalg.solve_triangular(q_tril, p_root, upper=False) ** 2).sum((-2, -1))
    return 0.5 * (term1 + term21 + term22 + term3 - k)


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_mvn_lowrank(p, q):
    _check_event_shapes(p, q)
    qw, qd = q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag
    p_tril = p._unbroadcasted_scale_tril
    term1 = _lowrank_logdet(qw, qd, q._capacitance_tril) - 2 * _half_log_det(p_tril)
    term3 = _lowrank_mahalanobis(qw, qd, q.loc - p.loc, q._capacitance_tril)
    # trace(Sigma_q^-1 L_p L_p^T) with Sigma_q^-1 = D_q^-1 - A^T A (Woodbury), A = C^-1 W_q^T D_q^-1
    a = linalg.solve_triangular(q._capacitance_tril, qw.mT / qd.unsqueeze(-2), upper=False)
    term21 = ((p_tril * ops.rsqrt(qd).unsqueeze(-1)) ** 2).sum((-2, -1))
    term22 = (ops.matmul(a, p_tril) ** 2).sum((-2, -1))
    return 0.5 * (term1 + term21 - term22 + term3 - p.event_shape[0])


@register_kl(Wishart, Wishart)
def _kl_wishart_wishart(p, q):
    # the closed form of PyTorch's Bregman divergence of the log-normalizers: with S = Sigma_q^-1 Sigma_p,
    # (n_q log det(S^-1) + n_p (tr S - d)) / 2 + log Gamma_d(n_q / 2) - log Gamma_d(n_p / 2)
    # + (n_p - n_q) / 2 psi_d(n_p / 2)
    d = p.event_shape[-1]
    low_p, low_q = p.scale_tril, q.scale_tril
    half_log_det = (ops.log(ops.diagonal(low_q, 0, -2, -1)).sum(-1)
                    - ops.log(ops.diagonal(low_p, 0, -2, -1)).sum(-1))
    trace = (linalg.solve_triangular(low_q, low_p, upper=False) ** 2).sum((-2, -1))
    return (q.df * half_log_det + p.df * (trace - d) / 2 + ops.multigammaln(q.df / 2, d)
            - ops.multigammaln(p.df / 2, d) + (p.df - q.df) / 2 * _multivariate_digamma(p.df / 2, d))


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms:
        raise NotImplementedError("kl_divergence: TransformedDistributions with different transforms "
                                  f"({p.transforms} and {q.transforms})")
    if p.event_shape != q.event_shape:
        raise NotImplementedError("kl_divergence: TransformedDistributions with different event shapes "
                                  f"({p.event_shape} and {q.event_shape})")
    return kl_divergence(p.base_dist, q.base_dist)
