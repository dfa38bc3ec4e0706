"""The binomial distribution."""

from __future__ import annotations

from ember import creation, ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.bernoulli import SuccessProbs, probs_or_logits
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all


def _clamp_by_zero(x):
    """``max(x, 0)`` whose gradient at 0 is 1/2, as PyTorch's."""
    return (ops.clamp(x, 0, None) + x - ops.clamp(x, None, 0)) / 2


class Binomial(SuccessProbs, Distribution):
    """The number of successes in ``total_count`` Bernoulli trials of probability ``probs`` (or
    ``sigmoid(logits)``), as ``torch.distributions.Binomial``; samples are floats drawn by the ``random_sample`` op
    (NumPy's binomial sampler on Ember's generator state: ``ember.jit`` draws afresh on every call).

    >>> ember.distributions.Binomial(10, probs=ember.tensor([0.3])).mean   # [3]
    """

    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    _expanded_too = ("total_count",)
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args: bool | None = None):
        given = probs_or_logits("Binomial", probs, logits)
        self.total_count, param = broadcast_all(total_count, probs if given == "probs" else logits)
        setattr(self, given, param)
        self._param, self._given = param, given
        super().__init__(param.shape, validate_args=validate_args)

    @property
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        # an integer: no gradient (not even through total_count where the two tie)
        return ops.minimum(ops.floor((self.total_count + 1) * self.probs), ops.stop_gradient(self.total_count))

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        with no_grad():
            valid = ops.all((self.total_count >= 0) & (self.probs >= 0) & (self.probs <= 1))  # False for NaN
            if not valid.symbolic and not bool(valid):  # symbolic while ember.jit traces
                raise ValueError(f"Binomial.sample: total_count must be non-negative and probs in [0, 1], got "
                                 f"total_count={self.total_count}, probs={self.probs}")
            shape = self._extended_shape(sample_shape)
            n, p = ops.broadcast_to(self.total_count, shape), ops.broadcast_to(self.probs, shape)
            return ops.random_sample("binomial", (), n, dtype=self.probs.dtype, probs=ops.cast(p, n.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        log_factorial_n = ops.lgamma(n + 1)
        log_factorial_k = ops.lgamma(value + 1)
        log_factorial_nmk = ops.lgamma(n - value + 1)
        # n * log(1 + exp(logits)) in a form that does not overflow
        normalize = n * _clamp_by_zero(self.logits) + n * ops.log1p(ops.exp(-ops.abs(self.logits))) - log_factorial_n
        return value * self.logits - log_factorial_k - log_factorial_nmk - normalize

    def entropy(self):
        with no_grad():
            total = int(ops.max(self.total_count).item())
            if int(ops.min(self.total_count).item()) != total:
                raise NotImplementedError("Binomial.entropy: needs the same total_count for the whole batch, got "
                                          f"{self.total_count}")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(ops.exp(log_prob) * log_prob).sum(0)

    def enumerate_support(self, expand: bool = True):
        with no_grad():
            total = int(ops.max(self.total_count).item())
            if int(ops.min(self.total_count).item()) != total:
                raise NotImplementedError("Binomial.enumerate_support: needs the same total_count for the whole "
                                          f"batch, got {self.total_count}")
        values = creation.arange(1 + total, dtype=self._param.dtype).reshape((-1,) + (1,) * len(self._batch_shape))
        return ops.broadcast_to(values, (1 + total,) + self._batch_shape) if expand else values
