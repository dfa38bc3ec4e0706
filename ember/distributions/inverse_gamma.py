"""The inverse Gamma distribution."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.gamma import Gamma
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import PowerTransform


class InverseGamma(TransformedDistribution):
    """``1 / X`` for ``X`` from ``Gamma(concentration, rate)``, as ``torch.distributions.InverseGamma``: ``rate`` is
    the scale of the result. The mean is infinite for ``concentration <= 1``, the variance for ``<= 2``.

    >>> ember.distributions.InverseGamma(ember.tensor([3.0]), ember.tensor([4.0])).mean   # [2.0]
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args: bool | None = None):
        base = Gamma(concentration, rate, validate_args=validate_args)
        negative_one = creation.tensor(-1.0, dtype=base.rate.dtype)
        super().__init__(base, PowerTransform(negative_one), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> InverseGamma:
        new = self._get_checked_instance(InverseGamma, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def concentration(self):
        return self.base_dist.concentration

    @property
    def rate(self):
        return self.base_dist.rate

    @property
    def mean(self):
        mean = self.rate / (self.concentration - 1)
        return ops.where(self.concentration > 1, mean, creation.full_like(mean, math.inf))

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        variance = self.rate ** 2 / ((self.concentration - 1) ** 2 * (self.concentration - 2))
        return ops.where(self.concentration > 2, variance, creation.full_like(variance, math.inf))

    def entropy(self):
        a = self.concentration
        return a + ops.log(self.rate) + ops.lgamma(a) - (1 + a) * ops.digamma(a)
