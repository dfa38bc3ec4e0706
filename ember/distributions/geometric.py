"""The geometric distribution."""

from __future__ import annotations

from ember import creation, ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.bernoulli import SuccessProbs, probs_or_logits
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all, finfo
from ember.nn import functional as F


class Geometric(SuccessProbs, Distribution):
    """The number of failures before the first success of Bernoulli trials of success probability ``probs`` (or
    ``sigmoid(logits)``), as ``torch.distributions.Geometric``; samples are floats.

    >>> ember.distributions.Geometric(probs=ember.tensor([0.25])).mean   # [3]
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None):
        given = probs_or_logits("Geometric", probs, logits)
        (param,) = broadcast_all(probs if given == "probs" else logits)
        setattr(self, given, param)
        self._param, self._given = param, given
        super().__init__(param.shape, validate_args=validate_args)
        if self._validate_args and given == "probs" and not param.symbolic:
            with no_grad():
                if bool(ops.any(param == 0)):
                    raise ValueError(f"Geometric: probs (shape {tuple(param.shape)}) must be in (0, 1], got "
                                     f"{param}")

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return creation.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        with no_grad():
            tiny = float(finfo(self.probs.dtype).tiny)
            u = ops.clamp(creation.rand(self._extended_shape(sample_shape), dtype=self.probs.dtype), tiny, None)
            return ops.floor(ops.log(u) / ops.log1p(-self.probs))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        probs = ops.where((probs == 1) & (value == 0), creation.zeros_like(probs), probs)  # 0 * log(0) is 0
        return value * ops.log1p(-probs) + ops.log(self.probs)

    def entropy(self):
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none") / self.probs
