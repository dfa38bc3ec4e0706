"""The Poisson distribution."""

from __future__ import annotations

from ember import ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.distribution import Distribution, expanded
from ember.distributions.utils import broadcast_all


class Poisson(Distribution):
    """The number of events of a Poisson process of rate ``rate``, as ``torch.distributions.Poisson``. Samples
    are floats in the rate's dtype (the ``random_sample`` op: drawn afresh by every call of an ``ember.jit``
    function too); there is no ``rsample``.

    >>> ember.distributions.Poisson(ember.tensor([4.0])).log_prob(ember.tensor([2.0]))
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args: bool | None = None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Poisson:
        return expanded(self, Poisson, batch_shape, ("rate",), _instance)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return ops.floor(self.rate)

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        with no_grad():
            valid = ops.all(self.rate >= 0)  # False for NaN
            if not valid.symbolic and not bool(valid):  # symbolic while ember.jit traces
                raise ValueError(f"Poisson.sample: the rate must be non-negative, got {self.rate}")
            rate = ops.broadcast_to(self.rate, self._extended_shape(sample_shape))
            return ops.random_sample("poisson", (), rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return ops.xlogy(value, rate) - rate - ops.lgamma(value + 1)
