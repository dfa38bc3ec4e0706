"""The multivariate normal distribution, parameterized by a covariance, precision or Cholesky factor."""

from __future__ import annotations

import math

import numpy as np

from ember import creation, linalg, ops
from ember.distributions import constraints
from ember.distributions.distribution import Distribution, lazy_property
from ember.distributions.utils import as_parameter


def solve_lower(scale_tril, b):
    """``L^-1 b`` reading only L's lower triangle (a triangular solve: the upper triangle gets no gradient)."""
    return linalg.solve(ops.tril(scale_tril), b)


def _batch_mahalanobis(scale_tril, diff):
    """``|L^-1 diff|^2`` over the last dimension, the batch dimensions of ``L`` and ``diff`` broadcast."""
    solved = solve_lower(scale_tril, diff.unsqueeze(-1)).squeeze(-1)
    return (solved ** 2).sum(-1)


def _half_log_det(scale_tril):
    return ops.log(ops.diagonal(scale_tril, 0, -2, -1)).sum(-1)


def one_matrix(owner: str, covariance_matrix, precision_matrix, scale_tril) -> tuple:
    """(name, Tensor) of the one matrix argument given of the three that describe a covariance; a ValueError
    naming ``owner`` otherwise."""
    given = [(n, v) for n, v in (("covariance_matrix", covariance_matrix), ("precision_matrix", precision_matrix),
                                 ("scale_tril", scale_tril)) if v is not None]
    if len(given) != 1:
        raise ValueError(f"{owner}: give exactly one of covariance_matrix, precision_matrix or scale_tril, got "
                         f"{', '.join(n for n, _ in given) if given else 'none'}")
    (name, value), = given
    return name, as_parameter(value)


class MultivariateNormal(Distribution):
    """The normal distribution over vectors of length k with mean ``loc`` and one of ``covariance_matrix``,
    ``precision_matrix`` (its inverse) or ``scale_tril`` (the lower-triangular Cholesky factor of the
    covariance, positive diagonal), as ``torch.distributions.MultivariateNormal``. ``rsample`` is
    ``loc + L @ eps`` with ``eps`` from ``ember.randn``; gradients flow through the Cholesky factorization.

    >>> d = ember.distributions.MultivariateNormal(ember.zeros(2), covariance_matrix=ember.eye(2))
    >>> d.log_prob(ember.zeros(2))   # -log(2 pi)
    """

    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args: bool | None = None):
        name, matrix = one_matrix("MultivariateNormal", covariance_matrix, precision_matrix, scale_tril)
        loc = as_parameter(loc, matrix.dtype)
        if loc.ndim < 1:
            raise ValueError(f"MultivariateNormal: loc must be at least one-dimensional, got shape {loc.shape}")
        if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2] or matrix.shape[-1] != loc.shape[-1]:
            raise ValueError(f"MultivariateNormal: {name} must be a batch of square matrices of size "
                             f"{loc.shape[-1]} (loc's last dimension), got shape {tuple(matrix.shape)}")
        try:
            batch_shape = np.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        except ValueError:
            raise ValueError(f"MultivariateNormal: loc of shape {tuple(loc.shape)} and {name} of shape "
                             f"{tuple(matrix.shape)} have batch shapes that do not broadcast") from None
        k = loc.shape[-1]
        self.loc = ops.broadcast_to(loc, batch_shape + (k,))
        self.__dict__[name] = ops.broadcast_to(matrix, batch_shape + (k, k))
        self._given = name
        # the factor over the matrix's own batch (broadcast only where used), as PyTorch keeps it
        self._unbroadcasted_scale_tril = None
        super().__init__(batch_shape, (k,), validate_args=validate_args)
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = matrix
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = linalg.cholesky(matrix)
        else:
            self._unbroadcasted_scale_tril = linalg.cholesky(linalg.inv(matrix))

    def expand(self, batch_shape, _instance=None) -> MultivariateNormal:
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = tuple(batch_shape)
        k = self.event_shape[0]
        new.loc = ops.broadcast_to(self.loc, batch_shape + (k,))
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        new._given = self._given
        for name in ("covariance_matrix", "precision_matrix", "scale_tril"):
            if name in self.__dict__:
                new.__dict__[name] = ops.broadcast_to(self.__dict__[name], batch_shape + (k, k))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _full(self, matrix):
        return ops.broadcast_to(matrix, self._batch_shape + self._event_shape + self._event_shape)

    @lazy_property
    def scale_tril(self):
        """The lower-triangular Cholesky factor L of the covariance (``L @ L.mT``)."""
        return self._full(self._unbroadcasted_scale_tril)

    @lazy_property
    def covariance_matrix(self):
        """The covariance matrix."""
        tril = self._unbroadcasted_scale_tril
        return self._full(tril @ tril.mT)

    @lazy_property
    def precision_matrix(self):
        """The inverse of the covariance matrix."""
        return self._full(linalg.inv(self._unbroadcasted_scale_tril @ self._unbroadcasted_scale_tril.mT))

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        tril = self._unbroadcasted_scale_tril
        return ops.broadcast_to((tril ** 2).sum(-1), self._batch_shape + self._event_shape)

    def rsample(self, sample_shape=()):
        eps = creation.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        m = _batch_mahalanobis(self._unbroadcasted_scale_tril, diff)
        k = self._event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + m) - _half_log_det(self._unbroadcasted_scale_tril)

    def entropy(self):
        k = self._event_shape[0]
        h = 0.5 * k * (1.0 + math.log(2 * math.pi)) + _half_log_det(self._unbroadcasted_scale_tril)
        return h if tuple(h.shape) == self._batch_shape else ops.broadcast_to(h, self._batch_shape)

    def _checked_arguments(self) -> dict:
        return {"loc": constraints.real_vector, self._given: self.arg_constraints[self._given]}

    def __repr__(self) -> str:
        matrix = tuple(self.__dict__[self._given].shape)
        return f"MultivariateNormal(loc: {tuple(self.loc.shape)}, {self._given}: {matrix})"
