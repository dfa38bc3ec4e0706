"""Student's t distribution."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.chi2 import Chi2
from ember.distributions.distribution import Distribution, expanded
from ember.distributions.utils import broadcast_all


class StudentT(Distribution):
    """Student's t distribution of ``df`` degrees of freedom, location ``loc`` and scale ``scale``, as
    ``torch.distributions.StudentT``; ``rsample`` is ``loc + scale * x / sqrt(z / df)`` for ``x`` standard
    normal and ``z`` from ``Chi2(df)`` (differentiable in ``df`` through the Gamma's implicit gradient).

    >>> ember.distributions.StudentT(3.0).variance   # 3
    """

    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args: bool | None = None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df, validate_args=False)
        super().__init__(self.df.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> StudentT:
        new = expanded(self, StudentT, batch_shape, ("df", "loc", "scale"), _instance)
        new._chi2 = self._chi2.expand(batch_shape)
        return new

    @property
    def mean(self):
        return ops.where(self.df > 1, self.loc, creation.full_like(self.loc, float("nan")))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        finite = self.scale ** 2 * self.df / (self.df - 2)
        infinite = ops.where(self.df > 1, creation.full_like(finite, float("inf")),
                             creation.full_like(finite, float("nan")))
        return ops.where(self.df > 2, finite, infinite)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = creation.randn(shape, dtype=self.df.dtype)
        z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * x * ops.rsqrt(z / self.df)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        z = (ops.log(self.scale) + 0.5 * ops.log(self.df) + 0.5 * math.log(math.pi) + ops.lgamma(0.5 * self.df)
             - ops.lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * ops.log1p(y ** 2 / self.df) - z

    def entropy(self):
        lbeta = ops.lgamma(0.5 * self.df) + math.lgamma(0.5) - ops.lgamma(0.5 * (self.df + 1))
        return (ops.log(self.scale) + 0.5 * (self.df + 1) * (ops.digamma(0.5 * (self.df + 1))
                                                              - ops.digamma(0.5 * self.df))
                + 0.5 * ops.log(self.df) + lbeta)
