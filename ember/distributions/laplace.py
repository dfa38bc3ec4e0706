"""The Laplace distribution."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions.distribution import LocScale
from ember.distributions.utils import eps


class Laplace(LocScale):
    """The Laplace distribution of location ``loc`` and scale ``scale``, as ``torch.distributions.Laplace``;
    ``rsample`` is ``loc - scale * sign(u) * log(1 - |u|)`` with ``u`` uniform in (-1, 1) from ``ember.rand``.

    >>> ember.distributions.Laplace(0.0, 1.0).cdf(ember.tensor(0.0))   # 0.5
    """

    @property
    def stddev(self):
        return math.sqrt(2) * self.scale

    @property
    def variance(self):
        return 2 * self.scale ** 2

    def rsample(self, sample_shape=()):
        low = eps(self.loc.dtype) - 1  # u in [eps - 1, 1): log1p(-|u|) stays finite, as in PyTorch
        u = low + creation.rand(self._extended_shape(sample_shape), dtype=self.loc.dtype) * (1 - low)
        return self.loc - self.scale * ops.sign(u) * ops.log1p(-ops.abs(u))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -ops.log(2 * self.scale) - ops.abs(value - self.loc) / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * ops.sign(value - self.loc) * ops.expm1(-ops.abs(value - self.loc) / self.scale)

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * ops.sign(term) * ops.log1p(-2 * ops.abs(term))

    def entropy(self):
        return 1 + ops.log(2 * self.scale)
