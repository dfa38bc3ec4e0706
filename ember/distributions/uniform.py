"""The continuous uniform distribution."""

from __future__ import annotations

from ember import creation, ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.distribution import Distribution, expanded
from ember.distributions.utils import broadcast_all


class Uniform(Distribution):
    """Uniform on the half-open interval [low, high), as ``torch.distributions.Uniform``; ``rsample`` is
    ``low + (high - low) * u`` with ``u`` from ``ember.rand``.

    >>> ember.distributions.Uniform(0.0, 2.0).sample((4,))
    """

    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    has_rsample = True

    def __init__(self, low, high, validate_args: bool | None = None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, validate_args=validate_args)
        if self._validate_args and not self.low.symbolic and not self.high.symbolic:
            with no_grad():
                valid = self.low < self.high
                if not valid.symbolic and not bool(valid.all()):
                    raise ValueError(f"Uniform: parameters low and high (shape {self.low.shape}) must satisfy "
                                     f"low < high elementwise, got low={self.low} and high={self.high}")

    def expand(self, batch_shape, _instance=None) -> Uniform:
        return expanded(self, Uniform, batch_shape, ("low", "high"), _instance)

    @property
    def support(self):
        # closed, as PyTorch's: high itself is a value of log-density -inf and cdf 1, not an error
        return constraints.interval(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return creation.full_like(self.high, float("nan"))

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()):
        u = creation.rand(self._extended_shape(sample_shape), dtype=self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        inside = ops.cast((self.low <= value) & (value < self.high), self.low.dtype)
        return ops.log(inside) - ops.log(self.high - self.low)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ops.clamp((value - self.low) / (self.high - self.low), 0, 1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return ops.log(self.high - self.low)
