"""The Weibull distribution."""

from __future__ import annotations

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.exponential import Exponential
from ember.distributions.gumbel import EULER_GAMMA
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import AffineTransform, PowerTransform
from ember.distributions.utils import broadcast_all


class Weibull(TransformedDistribution):
    """The two-parameter Weibull distribution, as ``torch.distributions.Weibull``: ``scale * e ** (1 / c)`` for
    ``e`` from ``Exponential(1)`` and ``c = concentration``.

    >>> ember.distributions.Weibull(1.0, 1.0).mean   # 1 (an Exponential(1))
    """

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, scale, concentration, validate_args: bool | None = None):
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = 1 / self.concentration
        base = Exponential(creation.ones_like(self.scale), validate_args=validate_args)
        transforms = [PowerTransform(self.concentration_reciprocal), AffineTransform(0, self.scale)]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Weibull:
        new = self._get_checked_instance(Weibull, _instance)
        batch_shape = tuple(batch_shape)
        new.scale = ops.broadcast_to(self.scale, batch_shape)
        new.concentration = ops.broadcast_to(self.concentration, batch_shape)
        new.concentration_reciprocal = 1 / new.concentration
        base = self.base_dist.expand(batch_shape)
        transforms = [PowerTransform(new.concentration_reciprocal), AffineTransform(0, new.scale)]
        TransformedDistribution.__init__(new, base, transforms, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.scale * ops.exp(ops.lgamma(1 + self.concentration_reciprocal))

    @property
    def mode(self):
        c = self.concentration
        return self.scale * ((c - 1) / c) ** self.concentration_reciprocal

    @property
    def variance(self):
        return self.scale ** 2 * (ops.exp(ops.lgamma(1 + 2 * self.concentration_reciprocal))
                                  - ops.exp(2 * ops.lgamma(1 + self.concentration_reciprocal)))

    def entropy(self):
        return (EULER_GAMMA * (1 - self.concentration_reciprocal) + ops.log(self.scale * self.concentration_reciprocal)
                + 1)
