"""The continuous Bernoulli distribution."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.bernoulli import SuccessProbs, probs_or_logits
from ember.distributions.distribution import Distribution, lazy_property
from ember.distributions.utils import broadcast_all, clamp_probs, logits_to_probs
from ember.nn import functional as F


class ContinuousBernoulli(SuccessProbs, Distribution):
    """The continuous Bernoulli distribution on [0, 1] (Loaiza-Ganem and Cunningham, 2019), density proportional to
    ``p^x (1 - p)^(1 - x)``, of ``probs`` p or ``logits``, as ``torch.distributions.ContinuousBernoulli``. Near
    p = 1/2 (inside ``lims``), where the closed forms divide 0 by 0, the normalizer and the moments come from
    their Taylor series; draws come from the inverse CDF (``rsample``).

    >>> ember.distributions.ContinuousBernoulli(probs=ember.tensor([0.5])).mean   # [0.5]
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args: bool | None = None):
        given = probs_or_logits("ContinuousBernoulli", probs, logits)
        (param,) = broadcast_all(probs if given == "probs" else logits)
        setattr(self, given, param)
        self._lims = lims
        super().__init__(param.shape, validate_args=validate_args)  # checks probs before they are clamped
        if given == "probs":
            param = self.probs = clamp_probs(param)
        self._param, self._given = param, given

    def expand(self, batch_shape, _instance=None) -> ContinuousBernoulli:
        new = super().expand(batch_shape, _instance)
        new._lims = self._lims
        return new

    @lazy_property
    def probs(self):
        """The parameter p, clamped away from 0 and 1."""
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        """p where the closed forms are stable, the lower limit elsewhere (replaced by the Taylor series)."""
        return ops.where(self._outside_unstable_region(), self.probs,
                         creation.full_like(self.probs, self._lims[0]))

    def _log_normalizer(self):
        """log C(p), C(p) = 2 atanh(1 - 2p) / (1 - 2p)."""
        p = self._cut_probs()
        below = ops.where(p <= 0.5, p, creation.zeros_like(p))
        above = ops.where(p >= 0.5, p, creation.ones_like(p))
        log_norm = ops.log(ops.abs(ops.log1p(-p) - ops.log(p))) - ops.where(
            p <= 0.5, ops.log1p(-2.0 * below), ops.log(2.0 * above - 1.0))
        x = (self.probs - 0.5) ** 2
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return ops.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        p = self._cut_probs()
        closed = p / (2.0 * p - 1.0) + 1.0 / (ops.log1p(-p) - ops.log(p))
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x ** 2) * x
        return ops.where(self._outside_unstable_region(), closed, taylor)

    @property
    def variance(self):
        p = self._cut_probs()
        closed = p * (p - 1.0) / (1.0 - 2.0 * p) ** 2 + 1.0 / (ops.log1p(-p) - ops.log(p)) ** 2
        x = (self.probs - 0.5) ** 2
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return ops.where(self._outside_unstable_region(), closed, taylor)

    def rsample(self, sample_shape=()):
        u = creation.rand(self._extended_shape(sample_shape), dtype=self.probs.dtype)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none") + self._log_normalizer()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        p = self._cut_probs()
        closed = (p ** value * (1.0 - p) ** (1.0 - value) + p - 1.0) / (2.0 * p - 1.0)
        inside = ops.where(self._outside_unstable_region(), closed, value)
        zeros, ones = creation.zeros_like(inside), creation.ones_like(inside)
        return ops.where(value <= 0.0, zeros, ops.where(value >= 1.0, ones, inside))

    def icdf(self, value):
        p = self._cut_probs()
        closed = (ops.log1p(-p + value * (2.0 * p - 1.0)) - ops.log1p(-p)) / (ops.log(p) - ops.log1p(-p))
        return ops.where(self._outside_unstable_region(), closed, value)

    def entropy(self):
        log_q, log_p = ops.log1p(-self.probs), ops.log(self.probs)
        return self.mean * (log_q - log_p) - self._log_normalizer() - log_q
