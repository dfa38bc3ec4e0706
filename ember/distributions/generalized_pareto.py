"""The generalized Pareto distribution."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.distribution import Distribution, expanded
from ember.distributions.utils import broadcast_all


class GeneralizedPareto(Distribution):
    """The generalized Pareto distribution of ``loc``, ``scale`` and shape ``concentration`` (xi), as
    ``torch.distributions.GeneralizedPareto``: exponential tails at xi = 0, heavy ones for xi > 0 and a bounded
    support [loc, loc - scale / xi] for xi < 0. Draws by the inverse CDF (``rsample``). The mean is NaN for
    xi >= 1, the variance for xi >= 1/2.

    >>> ember.distributions.GeneralizedPareto(0.0, 1.0, 0.0).mean   # 1.0 (the exponential distribution)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args: bool | None = None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> GeneralizedPareto:
        return expanded(self, GeneralizedPareto, batch_shape, ("loc", "scale", "concentration"), _instance)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        negative = self.concentration < 0
        xi = ops.where(negative, self.concentration, -creation.ones_like(self.concentration))
        upper = ops.where(negative, self.loc - self.scale / xi, creation.full_like(self.loc, math.inf))
        return constraints.interval(self.loc, upper)

    def _shape_parts(self):
        """Where xi is (close to) 0, and xi with 1 in those places (its formulas divide by xi)."""
        near_zero = ops.isclose(self.concentration, creation.zeros_like(self.concentration))
        return near_zero, ops.where(near_zero, creation.ones_like(self.concentration), self.concentration)

    def rsample(self, sample_shape=()):
        u = creation.rand(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        near_zero, xi = self._shape_parts()
        power = 1 / xi + 1
        tail = ops.where(power == 0, power, power * ops.log1p(xi * z))
        return -ops.log(self.scale) - ops.where(near_zero, z, tail)

    def log_survival_function(self, value):
        """log P(X > value)."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        near_zero, xi = self._shape_parts()
        return ops.where(near_zero, -z, -ops.log1p(xi * z) / xi)

    def log_cdf(self, value):
        """log P(X <= value)."""
        return ops.log1p(-ops.exp(self.log_survival_function(value)))

    def cdf(self, value):
        return ops.exp(self.log_cdf(value))

    def icdf(self, value):
        near_zero, xi = self._shape_parts()
        log_u = ops.log1p(-value)
        return ops.where(near_zero, self.loc - self.scale * log_u,
                         self.loc + self.scale / xi * ops.expm1(-xi * log_u))

    @property
    def mean(self):
        valid = self.concentration < 1
        xi = ops.where(valid, self.concentration, creation.full_like(self.concentration, 0.5))
        return ops.where(valid, self.loc + self.scale / (1 - xi), creation.full_like(self.loc, math.nan))

    @property
    def variance(self):
        valid = self.concentration < 0.5
        xi = ops.where(valid, self.concentration, creation.full_like(self.concentration, 0.25))
        variance = self.scale ** 2 / ((1 - xi) ** 2 * (1 - 2 * xi))
        return ops.where(valid, variance, creation.full_like(variance, math.nan))

    @property
    def mode(self):
        return self.loc

    def entropy(self):
        return ops.broadcast_to(ops.log(self.scale) + self.concentration + 1, self._batch_shape)
