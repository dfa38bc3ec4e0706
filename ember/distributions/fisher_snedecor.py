"""The Fisher-Snedecor (F) distribution."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.distribution import Distribution, expanded
from ember.distributions.gamma import Gamma
from ember.distributions.utils import broadcast_all, finfo


class FisherSnedecor(Distribution):
    """The F distribution of ``df1`` and ``df2`` degrees of freedom, as ``torch.distributions.FisherSnedecor``: the
    ratio of two scaled chi-squared draws, ``rsample`` differentiable in both (through Gamma's). The mean is NaN for
    ``df2 <= 2``, the variance for ``df2 <= 4``, the mode for ``df1 <= 2``.

    >>> ember.distributions.FisherSnedecor(ember.tensor([4.0]), ember.tensor([6.0])).mean   # [1.5]
    """

    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args: bool | None = None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        super().__init__(self.df1.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> FisherSnedecor:
        return expanded(self, FisherSnedecor, batch_shape, ("df1", "df2"), _instance)

    def _nan_unless(self, valid, value):
        return ops.where(valid, value, creation.full_like(value, math.nan))

    @property
    def mean(self):
        return self._nan_unless(self.df2 > 2, self.df2 / (self.df2 - 2))

    @property
    def mode(self):
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return self._nan_unless(self.df1 > 2, mode)

    @property
    def variance(self):
        d1, d2 = self.df1, self.df2
        variance = 2 * d2 ** 2 * (d1 + d2 - 2) / (d1 * (d2 - 2) ** 2 * (d2 - 4))
        return self._nan_unless(d2 > 4, variance)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x1 = Gamma(self.df1 * 0.5, self.df1, validate_args=False).rsample(sample_shape)
        x2 = Gamma(self.df2 * 0.5, self.df2, validate_args=False).rsample(sample_shape)
        tiny = float(finfo(x2.dtype).tiny)  # a ratio of underflowed draws would be 0 / 0
        return ops.broadcast_to(ops.clamp(x1 / ops.clamp(x2, tiny, None), tiny, None), shape)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        half1, half2 = self.df1 * 0.5, self.df2 * 0.5
        ratio = self.df1 / self.df2
        norm = ops.lgamma(half1 + half2) - ops.lgamma(half1) - ops.lgamma(half2)
        return norm + half1 * ops.log(ratio) + (half1 - 1) * ops.log(value) - (half1 + half2) * ops.log1p(ratio * value)
