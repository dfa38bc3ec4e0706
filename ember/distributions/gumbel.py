"""The Gumbel distribution."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import AffineTransform, ExpTransform
from ember.distributions.uniform import Uniform
from ember.distributions.utils import broadcast_all, finfo

EULER_GAMMA = 0.57721566490153286060


class Gumbel(TransformedDistribution):
    """The Gumbel (type-I extreme value) distribution of location ``loc`` and scale ``scale``, as
    ``torch.distributions.Gumbel``: ``loc - scale * log(-log(u))`` for ``u`` uniform in (0, 1).

    >>> ember.distributions.Gumbel(0.0, 1.0).mean   # Euler's constant
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None):
        self.loc, self.scale = broadcast_all(loc, scale)
        info = finfo(self.loc.dtype)
        base = Uniform(creation.full_like(self.loc, float(info.tiny)),
                       creation.full_like(self.loc, 1 - float(info.eps)), validate_args=validate_args)
        transforms = [ExpTransform().inv, AffineTransform(0, -creation.ones_like(self.scale)), ExpTransform().inv,
                      AffineTransform(self.loc, -self.scale)]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Gumbel:
        new = self._get_checked_instance(Gumbel, _instance)
        new.loc = ops.broadcast_to(self.loc, tuple(batch_shape))
        new.scale = ops.broadcast_to(self.scale, tuple(batch_shape))
        return super().expand(batch_shape, _instance=new)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (self.loc - value) / self.scale
        return (z - ops.exp(z)) - ops.log(self.scale)

    @property
    def mean(self):
        return self.loc + self.scale * EULER_GAMMA

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self):
        return self.stddev ** 2

    def entropy(self):
        return ops.log(self.scale) + (1 + EULER_GAMMA)
