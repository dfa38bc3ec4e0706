"""The half-normal and half-Cauchy distributions: |x| for a centred Normal or Cauchy."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.cauchy import Cauchy
from ember.distributions.normal import Normal
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import AbsTransform


class _Half(TransformedDistribution):
    """``|x|`` for ``x`` from a distribution symmetric about 0 of scale ``scale``."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _base: type

    def __init__(self, scale, validate_args: bool | None = None):
        super().__init__(self._base(0.0, scale, validate_args=False), AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return super().expand(batch_shape, _instance=self._get_checked_instance(type(self), _instance))

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mode(self):
        return creation.zeros_like(self.scale)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.base_dist.log_prob(value) + math.log(2)
        return ops.where(value >= 0, log_prob, creation.full_like(log_prob, float("-inf")))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)


class HalfNormal(_Half):
    """``|x|`` for ``x`` from ``Normal(0, scale)``, as ``torch.distributions.HalfNormal``.

    >>> ember.distributions.HalfNormal(1.0).mean   # sqrt(2 / pi)
    """

    _base = Normal

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale ** 2 * (1 - 2 / math.pi)


class HalfCauchy(_Half):
    """``|x|`` for ``x`` from ``Cauchy(0, scale)``, as ``torch.distributions.HalfCauchy`` (no finite mean).

    >>> ember.distributions.HalfCauchy(1.0).cdf(ember.tensor(1.0))   # 0.5
    """

    _base = Cauchy

    @property
    def mean(self):
        return creation.full_like(self.scale, float("inf"))

    @property
    def variance(self):
        return creation.full_like(self.scale, float("inf"))
