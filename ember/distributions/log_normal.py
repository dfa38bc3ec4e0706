"""The log-normal distribution."""

from __future__ import annotations

from ember import ops
from ember.distributions import constraints
from ember.distributions.normal import Normal
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import ExpTransform


class LogNormal(TransformedDistribution):
    """``exp(x)`` for ``x`` from ``Normal(loc, scale)``, as ``torch.distributions.LogNormal``.

    >>> ember.distributions.LogNormal(0.0, 1.0).mean   # exp(0.5)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None):
        super().__init__(Normal(loc, scale, validate_args=validate_args), ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> LogNormal:
        return super().expand(batch_shape, _instance=self._get_checked_instance(LogNormal, _instance))

    @property
    def loc(self):
        return self.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mean(self):
        return ops.exp(self.loc + self.scale ** 2 / 2)

    @property
    def mode(self):
        return ops.exp(self.loc - self.scale ** 2)

    @property
    def variance(self):
        scale2 = self.scale ** 2
        return ops.expm1(scale2) * ops.exp(2 * self.loc + scale2)

    def entropy(self):
        return self.base_dist.entropy() + self.loc
