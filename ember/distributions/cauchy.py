"""The Cauchy distribution."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions.distribution import LocScale


class Cauchy(LocScale):
    """The Cauchy (Lorentz) distribution of location ``loc`` and half width ``scale``, as
    ``torch.distributions.Cauchy``; ``rsample`` is ``loc + scale * tan(pi * (u - 1/2))`` with ``u`` from
    ``ember.rand``. Its mean and variance do not exist (NaN and inf, as PyTorch's).

    >>> ember.distributions.Cauchy(0.0, 1.0).cdf(ember.tensor(1.0))   # 0.75
    """

    @property
    def mean(self):
        return creation.full_like(self.loc, float("nan"))

    @property
    def variance(self):
        return creation.full_like(self.loc, float("inf"))

    def rsample(self, sample_shape=()):
        u = creation.rand(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        angle = math.pi * (u - 0.5)
        return self.loc + self.scale * ops.sin(angle) / ops.cos(angle)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - ops.log(self.scale) - ops.log1p(((value - self.loc) / self.scale) ** 2)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ops.atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        angle = math.pi * (value - 0.5)
        return self.loc + self.scale * ops.sin(angle) / ops.cos(angle)

    def entropy(self):
        return math.log(4 * math.pi) + ops.log(self.scale)
