"""The Wishart distribution over positive definite matrices."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember import creation, linalg, ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.chi2 import Chi2
from ember.distributions.distribution import Distribution, lazy_property
from ember.distributions.matrix_transforms import vec_to_tril_matrix
from ember.distributions.multivariate_normal import one_matrix
from ember.distributions.utils import as_parameter, finfo

_LOG_2 = math.log(2.0)


def _multivariate_digamma(x, p: int):
    """sum_j digamma(x - j / 2), j = 0..p-1: the derivative of the multivariate log-gamma function."""
    offsets = creation.tensor(np.arange(p) / 2.0, dtype=x.dtype)
    return ops.digamma(x.unsqueeze(-1) - offsets).sum(-1)


class Wishart(Distribution):
    """The Wishart distribution of ``df`` degrees of freedom and scale matrix given as one of ``covariance_matrix``,
    ``precision_matrix`` (its inverse) or ``scale_tril`` (its Cholesky factor), as ``torch.distributions.Wishart``:
    the distribution of ``sum_i x_i x_i^T`` for ``df`` draws ``x_i`` of ``N(0, covariance)``. ``df`` must exceed the
    dimension minus 1. ``rsample`` is Bartlett's decomposition (chi-squared diagonal, normal lower triangle),
    differentiable in the scale and, by implicit reparameterization, in ``df``.

    >>> ember.distributions.Wishart(ember.tensor(4.0), covariance_matrix=ember.eye(2)).mean   # 4 I
    """

    arg_constraints = {"covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite, "scale_tril": constraints.lower_cholesky,
                       "df": constraints.greater_than(0)}
    support = constraints.positive_definite
    has_rsample = True

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args: bool | None = None):
        name, matrix = one_matrix("Wishart", covariance_matrix, precision_matrix, scale_tril)
        if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
            raise ValueError(f"Wishart: {name} must be a batch of square matrices, got shape {tuple(matrix.shape)}")
        df = as_parameter(df, matrix.dtype)
        df = df if df.dtype == matrix.dtype else df.to(matrix.dtype)
        try:
            batch_shape = tuple(np.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(df.shape)))
        except ValueError:
            raise ValueError(f"Wishart: df of shape {tuple(df.shape)} and {name} of shape {tuple(matrix.shape)} "
                             "have batch shapes that do not broadcast") from None
        p = matrix.shape[-1]
        self.df = ops.broadcast_to(df, batch_shape)
        if bool((self.df <= p - 1).any()):
            raise ValueError(f"Wishart: df must be greater than the dimension minus 1 ({p - 1}), got {df}")
        if bool((self.df < p).any()):
            warnings.warn("Wishart: df below the dimension; singular samples are likely for p - 1 < df < p",
                          stacklevel=2)
        self.__dict__[name] = ops.broadcast_to(matrix, batch_shape + (p, p))
        self._given = name
        super().__init__(batch_shape, (p, p), validate_args=validate_args)
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = matrix
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = linalg.cholesky(matrix)
        else:
            self._unbroadcasted_scale_tril = linalg.cholesky(linalg.inv(matrix))
        # Bartlett's decomposition: the i-th diagonal element of the factor is a chi variable of df - i
        offsets = creation.tensor(np.arange(p, dtype=np.float64), dtype=self.df.dtype)
        self._dist_chi2 = Chi2(self.df.unsqueeze(-1) - offsets, validate_args=False)

    def _checked_arguments(self) -> dict:
        return {k: v for k, v in self.arg_constraints.items() if k in ("df", self._given)}

    def expand(self, batch_shape, _instance=None) -> Wishart:
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = tuple(batch_shape)
        p = self.event_shape[-1]
        new.df = ops.broadcast_to(self.df, batch_shape)
        new._given = self._given
        new.__dict__[self._given] = ops.broadcast_to(self.__dict__[self._given], batch_shape + (p, p))
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        offsets = creation.tensor(np.arange(p, dtype=np.float64), dtype=new.df.dtype)
        new._dist_chi2 = Chi2(new.df.unsqueeze(-1) - offsets, validate_args=False)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _full(self, matrix):
        return ops.broadcast_to(matrix, self._batch_shape + self._event_shape)

    @lazy_property
    def scale_tril(self):
        return self._full(self._unbroadcasted_scale_tril)

    @lazy_property
    def covariance_matrix(self):
        factor = self._unbroadcasted_scale_tril
        return self._full(factor @ factor.mT)

    @lazy_property
    def precision_matrix(self):
        identity = creation.eye(self._event_shape[-1], dtype=self.df.dtype)
        return self._full(ops.cholesky_solve(identity, self._unbroadcasted_scale_tril))

    def _df_matrix(self, df):
        return df.reshape(self._batch_shape + (1, 1))

    @property
    def mean(self):
        return self._df_matrix(self.df) * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self._event_shape[-1] - 1
        factor = ops.where(factor > 0, factor, creation.full_like(factor, math.nan))
        return self._df_matrix(factor) * self.covariance_matrix

    @property
    def variance(self):
        v = self.covariance_matrix
        diagonal = ops.diagonal(v, 0, -2, -1)
        return self._df_matrix(self.df) * (v ** 2 + diagonal.unsqueeze(-1) * diagonal.unsqueeze(-2))

    def rsample(self, sample_shape=(), max_try_correction: int | None = None):
        """Bartlett draws; a draw that comes out singular in floating point (df close to p - 1) is drawn again, up
        to ``max_try_correction`` times (10 by default), as PyTorch intends."""
        shape = tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,)
        sample = self._bartlett_sampling(shape)
        for _ in range(10 if max_try_correction is None else int(max_try_correction)):
            with no_grad():
                singular = ~self.support.check(sample)
            if not bool(singular.any()):
                break
            sample = ops.where(singular.unsqueeze(-1).unsqueeze(-1), self._bartlett_sampling(shape), sample)
        return sample

    def _bartlett_sampling(self, shape: tuple):
        p = self._event_shape[-1]
        eps = float(finfo(self.df.dtype).eps)
        chi = ops.sqrt(ops.clamp(self._dist_chi2.rsample(shape), eps, None))
        below = creation.randn(shape + self._batch_shape + (p * (p - 1) // 2,), dtype=self.df.dtype)
        noise = ops.diag_embed(chi) + vec_to_tril_matrix(below, diag=-1)
        factor = self._unbroadcasted_scale_tril @ noise
        return factor @ factor.mT

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        nu, p = self.df, self._event_shape[-1]
        half_log_det = ops.log(ops.diagonal(self._unbroadcasted_scale_tril, 0, -2, -1)).sum(-1)
        trace = ops.diagonal(ops.cholesky_solve(value, self._unbroadcasted_scale_tril), 0, -2, -1).sum(-1)
        return (-nu * (p * _LOG_2 / 2 + half_log_det) - ops.multigammaln(nu / 2, p)
                + (nu - p - 1) / 2 * ops.slogdet(value)[1] - trace / 2)

    def entropy(self):
        nu, p = self.df, self._event_shape[-1]
        half_log_det = ops.log(ops.diagonal(self._unbroadcasted_scale_tril, 0, -2, -1)).sum(-1)
        return ((p + 1) * (p * _LOG_2 / 2 + half_log_det) + ops.multigammaln(nu / 2, p)
                - (nu - p - 1) / 2 * _multivariate_digamma(nu / 2, p) + nu * p / 2)
