"""The multinomial distribution."""

from __future__ import annotations

from ember import creation, ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.binomial import Binomial
from ember.distributions.categorical import Categorical, CategoricalParams
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all


class _Multinomial(constraints.Constraint):
    """Vectors of nonnegative integer counts summing to at most ``upper_bound``."""

    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound: int):
        self.upper_bound = upper_bound

    def check(self, value):
        return ops.all((value >= 0) & (value % 1 == 0), axis=-1) & (value.sum(-1) <= self.upper_bound)

    def __repr__(self) -> str:
        return f"Multinomial(upper_bound={self.upper_bound})"


class Multinomial(CategoricalParams, Distribution):
    """The counts of each category in ``total_count`` draws of a Categorical of ``probs`` (or ``logits``), as
    ``torch.distributions.Multinomial``; samples are float counts. ``log_prob`` does not need ``total_count``.

    >>> ember.distributions.Multinomial(10, probs=ember.tensor([0.2, 0.8])).mean   # [2, 8]
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}

    def __init__(self, total_count: int = 1, probs=None, logits=None, validate_args: bool | None = None):
        if not isinstance(total_count, int) or isinstance(total_count, bool):
            raise NotImplementedError(f"Multinomial: total_count must be an int (one count for the whole batch), "
                                      f"got {total_count!r}")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits, validate_args=validate_args)
        self._binomial = Binomial(total_count=total_count, probs=self.probs, validate_args=False)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)
        if self._validate_args and total_count < 0:  # (PyTorch's inner Binomial refuses it)
            raise ValueError(f"Multinomial: total_count must be nonnegative, got {total_count}")

    def _checked_arguments(self) -> dict:
        return {}  # the Categorical checked them

    def expand(self, batch_shape, _instance=None) -> Multinomial:
        new = self._get_checked_instance(Multinomial, _instance)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = Binomial(total_count=self.total_count, probs=new.probs, validate_args=False)
        Distribution.__init__(new, tuple(batch_shape), self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def support(self):
        return _Multinomial(self.total_count)

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        with no_grad():
            draws = self._categorical.sample((self.total_count,) + tuple(sample_shape))
            counts = ops.one_hot(draws, self._categorical._num_events).sum(0)
            return ops.cast(counts, self.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = ops.lgamma(value.sum(-1) + 1)
        log_factorial_xs = ops.lgamma(value + 1).sum(-1)
        # a category of probability 0 drawn 0 times adds nothing (not 0 * -inf)
        logits = ops.where((value == 0) & (logits == float("-inf")), creation.zeros_like(logits), logits)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)

    def entropy(self):
        n = float(self.total_count)
        term1 = n * self._categorical.entropy() - float(ops.lgamma(creation.tensor(n + 1.0)).item())
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = ops.exp(self._binomial.log_prob(support))
        weights = ops.lgamma(support + 1)
        return term1 + (binomial_probs * weights).sum((0, -1))
