"""The normal distribution."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions.distribution import LocScale


class Normal(LocScale):
    """The normal distribution N(loc, scale^2), as ``torch.distributions.Normal``; ``rsample`` is
    ``loc + scale * eps`` with ``eps`` from ``ember.randn``.

    >>> d = ember.distributions.Normal(ember.tensor([0.0, 1.0]), ember.tensor([1.0, 2.0]))
    >>> d.log_prob(ember.tensor([0.5, 0.5]))
    """

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def sample(self, sample_shape=()):
        # torch.normal refuses a negative or NaN std, so PyTorch's sample does (its rsample draws, as this one)
        valid = ops.all(self.scale >= 0)  # False for NaN
        if not valid.symbolic and not bool(valid):  # symbolic while ember.jit traces
            raise ValueError(f"Normal.sample: the scale must be non-negative (LogNormal's and HalfNormal's too), "
                             f"got {self.scale}")
        return super().sample(sample_shape)

    def rsample(self, sample_shape=()):
        eps = creation.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -((value - self.loc) ** 2) / (2 * self.variance) - ops.log(self.scale) - math.log(
            math.sqrt(2 * math.pi))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + ops.erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        return self.loc + self.scale * ops.erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + ops.log(self.scale)
