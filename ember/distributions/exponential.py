"""The exponential distribution."""

from __future__ import annotations

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.distribution import Distribution, expanded
from ember.distributions.utils import broadcast_all


class Exponential(Distribution):
    """The exponential distribution of rate ``rate`` (mean ``1 / rate``), as
    ``torch.distributions.Exponential``; ``rsample`` is ``-log(1 - u) / rate`` with ``u`` from ``ember.rand``.

    >>> ember.distributions.Exponential(ember.tensor([0.5, 2.0])).mean   # [2.0, 0.5]
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args: bool | None = None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Exponential:
        return expanded(self, Exponential, batch_shape, ("rate",), _instance)

    @property
    def mean(self):
        return 1 / self.rate

    @property
    def mode(self):
        return creation.zeros_like(self.rate)

    @property
    def stddev(self):
        return 1 / self.rate

    @property
    def variance(self):
        return self.rate ** -2

    def rsample(self, sample_shape=()):
        u = creation.rand(self._extended_shape(sample_shape), dtype=self.rate.dtype)
        return -ops.log1p(-u) / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ops.log(self.rate) - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - ops.exp(-self.rate * value)

    def icdf(self, value):
        return -ops.log1p(-value) / self.rate

    def entropy(self):
        return 1.0 - ops.log(self.rate)
