"""The logistic-normal distribution on the simplex."""

from __future__ import annotations

from ember.distributions import constraints
from ember.distributions.normal import Normal
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import StickBreakingTransform


class LogisticNormal(TransformedDistribution):
    """A normal vector of length K - 1 mapped onto the K-simplex by stick breaking, as
    ``torch.distributions.LogisticNormal``; ``loc`` and ``scale`` are the normal's (their last dimension is the
    event).

    >>> ember.distributions.LogisticNormal(ember.zeros(2), ember.ones(2)).sample()   # (3,), sums to 1
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None):
        base = Normal(loc, scale, validate_args=validate_args)
        if not base.batch_shape:
            base = base.expand((1,))
        super().__init__(base, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> LogisticNormal:
        return super().expand(batch_shape, _instance=self._get_checked_instance(LogisticNormal, _instance))

    @property
    def loc(self):
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.base_dist.scale
