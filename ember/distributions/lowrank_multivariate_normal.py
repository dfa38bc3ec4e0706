"""The multivariate normal distribution with a low-rank-plus-diagonal covariance."""

from __future__ import annotations

import math

import numpy as np

from ember import creation, linalg, ops
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.multivariate_normal import _batch_mahalanobis
from ember.distributions.utils import as_parameter


def _capacitance_tril(w, d):
    """The Cholesky factor of ``I + W^T D^-1 W`` (m x m for a rank-m ``W``)."""
    m = w.shape[-1]
    return linalg.cholesky(ops.matmul(w.mT / d.unsqueeze(-2), w) + creation.eye(m, dtype=w.dtype))


def _lowrank_logdet(w, d, capacitance_tril):
    """``log |W W^T + D| = log |C| + log |D|`` (the matrix determinant lemma)."""
    return 2 * ops.log(ops.diagonal(capacitance_tril, 0, -2, -1)).sum(-1) + ops.log(d).sum(-1)


def _lowrank_mahalanobis(w, d, x, capacitance_tril):
    """``x^T (W W^T + D)^-1 x`` by the Woodbury identity, with no k x k matrix."""
    wt_dinv_x = ops.matmul(w.mT / d.unsqueeze(-2), x.unsqueeze(-1)).squeeze(-1)
    return (x ** 2 / d).sum(-1) - _batch_mahalanobis(capacitance_tril, wt_dinv_x)


class LowRankMultivariateNormal(Distribution):
    """The normal distribution over vectors of length k with mean ``loc`` and covariance
    ``cov_factor @ cov_factor.mT + diag(cov_diag)`` (``cov_factor`` k x m), as
    ``torch.distributions.LowRankMultivariateNormal``: ``log_prob`` and ``entropy`` cost O(k m^2), not O(k^3);
    ``rsample`` is ``loc + W eps_m + sqrt(D) eps_k``.

    >>> d = ember.distributions.LowRankMultivariateNormal(ember.zeros(3), ember.ones(3, 1), ember.ones(3))
    >>> d.covariance_matrix   # ones + identity
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args: bool | None = None):
        loc, cov_factor, cov_diag = as_parameter(loc), as_parameter(cov_factor), as_parameter(cov_diag)
        if loc.ndim < 1:
            raise ValueError(f"LowRankMultivariateNormal: loc must have at least one dimension, got shape "
                             f"{tuple(loc.shape)}")
        k = loc.shape[-1]
        if cov_factor.ndim < 2 or cov_factor.shape[-2] != k:
            raise ValueError(f"LowRankMultivariateNormal: cov_factor must be a batch of {k} x m matrices (k, loc's "
                             f"last dimension), got shape {tuple(cov_factor.shape)}")
        if cov_diag.ndim < 1 or cov_diag.shape[-1] != k:
            raise ValueError(f"LowRankMultivariateNormal: cov_diag must end in loc's event size {k}, got shape "
                             f"{tuple(cov_diag.shape)}")
        m = cov_factor.shape[-1]
        batch = np.broadcast_shapes(tuple(loc.shape[:-1]), tuple(cov_factor.shape[:-2]), tuple(cov_diag.shape[:-1]))
        self.loc = ops.broadcast_to(loc, batch + (k,))
        self.cov_factor = ops.broadcast_to(cov_factor, batch + (k, m))
        self.cov_diag = ops.broadcast_to(cov_diag, batch + (k,))
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        super().__init__(batch, (k,), validate_args=validate_args)
        self._capacitance_tril = _capacitance_tril(cov_factor, cov_diag)  # after validation: cov_diag > 0

    def expand(self, batch_shape, _instance=None) -> LowRankMultivariateNormal:
        new = self._get_checked_instance(LowRankMultivariateNormal, _instance)
        shape = tuple(batch_shape) + self.event_shape
        new.loc = ops.broadcast_to(self.loc, shape)
        new.cov_diag = ops.broadcast_to(self.cov_diag, shape)
        new.cov_factor = ops.broadcast_to(self.cov_factor, shape + tuple(self.cov_factor.shape[-1:]))
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        Distribution.__init__(new, tuple(batch_shape), self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        value = (self._unbroadcasted_cov_factor ** 2).sum(-1) + self._unbroadcasted_cov_diag
        return ops.broadcast_to(value, self._batch_shape + self._event_shape)

    @property
    def covariance_matrix(self):
        """``W W^T + diag(D)``."""
        w = self._unbroadcasted_cov_factor
        value = ops.matmul(w, w.mT) + ops.diag_embed(self._unbroadcasted_cov_diag)
        return ops.broadcast_to(value, self._batch_shape + self._event_shape * 2)

    @property
    def scale_tril(self):
        """The lower Cholesky factor of the covariance."""
        return linalg.cholesky(self.covariance_matrix)

    @property
    def precision_matrix(self):
        """The inverse covariance, ``D^-1 - D^-1 W C^-1 W^T D^-1`` (Woodbury)."""
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        wt_dinv = w.mT / d.unsqueeze(-2)
        a = linalg.solve_triangular(self._capacitance_tril, wt_dinv, upper=False)
        value = ops.diag_embed(1 / d) - ops.matmul(a.mT, a)
        return ops.broadcast_to(value, self._batch_shape + self._event_shape * 2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps_w = creation.randn(shape[:-1] + tuple(self.cov_factor.shape[-1:]), dtype=self.loc.dtype)
        eps_d = creation.randn(shape, dtype=self.loc.dtype)
        return (self.loc + ops.matmul(self._unbroadcasted_cov_factor, eps_w.unsqueeze(-1)).squeeze(-1)
                + ops.sqrt(self._unbroadcasted_cov_diag) * eps_d)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        m = _lowrank_mahalanobis(w, d, value - self.loc, self._capacitance_tril)
        log_det = _lowrank_logdet(w, d, self._capacitance_tril)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + log_det + m)

    def entropy(self):
        log_det = _lowrank_logdet(self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag,
                                  self._capacitance_tril)
        h = 0.5 * (self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + log_det)
        return ops.broadcast_to(h, self._batch_shape)
