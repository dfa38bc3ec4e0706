"""The negative binomial distribution."""

from __future__ import annotations

from ember import creation, ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.bernoulli import SuccessProbs, probs_or_logits
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all
from ember.nn import functional as F


def _log_sigmoid(x):
    return -F.softplus(-x)


class NegativeBinomial(SuccessProbs, Distribution):
    """The number of successes before ``total_count`` failures of Bernoulli trials of success probability
    ``probs`` (or ``sigmoid(logits)``), as ``torch.distributions.NegativeBinomial``; samples are floats drawn as a
    Gamma-Poisson mixture (the ``random_sample`` op's draws: ``ember.jit`` draws afresh on every call).

    >>> ember.distributions.NegativeBinomial(4.0, probs=ember.tensor([0.5])).mean   # [4]
    """

    arg_constraints = {"total_count": constraints.greater_than_eq(0), "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    _expanded_too = ("total_count",)
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args: bool | None = None):
        given = probs_or_logits("NegativeBinomial", probs, logits)
        self.total_count, param = broadcast_all(total_count, probs if given == "probs" else logits)
        setattr(self, given, param)
        self._param, self._given = param, given
        super().__init__(param.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.total_count * ops.exp(self.logits)

    @property
    def mode(self):
        return ops.clamp(ops.floor((self.total_count - 1) * ops.exp(self.logits)), 0, None)

    @property
    def variance(self):
        return self.mean / ops.sigmoid(-self.logits)

    def sample(self, sample_shape=()):
        with no_grad():
            valid = ops.all((self.total_count >= 0) & ~ops.isnan(self.logits))
            if not valid.symbolic and not bool(valid):  # symbolic while ember.jit traces
                raise ValueError(f"NegativeBinomial.sample: total_count must be non-negative and the probabilities "
                                 f"not NaN, got total_count={self.total_count}, logits={self.logits}")
            shape = self._extended_shape(sample_shape)
            n, odds = ops.broadcast_to(self.total_count, shape), ops.broadcast_to(ops.exp(self.logits), shape)
            return ops.random_sample("poisson", (), ops.random_sample("gamma", (), n) * ops.cast(odds, n.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_unnormalized = self.total_count * _log_sigmoid(-self.logits) + value * _log_sigmoid(self.logits)
        log_normalization = (-ops.lgamma(self.total_count + value) + ops.lgamma(1.0 + value)
                             + ops.lgamma(self.total_count))
        # a total_count of 0 puts all mass at 0 (lgamma(0) is inf there)
        log_normalization = ops.where(self.total_count + value == 0, creation.zeros_like(log_normalization),
                                      log_normalization)
        return log_unnormalized - log_normalization
