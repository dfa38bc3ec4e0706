"""Relaxed (Concrete, Gumbel-softmax) Bernoulli and one-hot categorical distributions: reparameterized
continuous stand-ins for discrete draws, sharper as ``temperature`` goes to 0."""

from __future__ import annotations

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.bernoulli import SuccessProbs, probs_or_logits
from ember.distributions.categorical import Categorical, CategoricalParams
from ember.distributions.distribution import Distribution
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import ExpTransform, SigmoidTransform
from ember.distributions.utils import as_parameter, broadcast_all, clamp_probs


class LogitRelaxedBernoulli(SuccessProbs, Distribution):
    """The logit of a RelaxedBernoulli draw, as ``torch.distributions.relaxed_bernoulli.LogitRelaxedBernoulli``:
    ``(logit(u) + logit(p)) / temperature`` for ``u`` from ``ember.rand``."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args: bool | None = None):
        given = probs_or_logits(type(self).__name__, probs, logits)
        (param,) = broadcast_all(probs if given == "probs" else logits)
        self.temperature = as_parameter(temperature, param.dtype)
        setattr(self, given, param)
        self._param, self._given = param, given
        super().__init__(param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> LogitRelaxedBernoulli:
        new = self._get_checked_instance(LogitRelaxedBernoulli, _instance)
        batch_shape = tuple(batch_shape)
        new.temperature = self.temperature
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, ops.broadcast_to(self.__dict__[name], batch_shape))
        new._param, new._given = new.__dict__[self._given], self._given
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        probs = clamp_probs(ops.broadcast_to(self.probs, shape))
        u = clamp_probs(creation.rand(shape, dtype=probs.dtype))
        return (ops.log(u) - ops.log1p(-u) + ops.log(probs) - ops.log1p(-probs)) / self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value * self.temperature
        return ops.log(self.temperature) + diff - 2 * ops.log1p(ops.exp(diff))


class _RelaxedParams:
    """``temperature``, ``logits`` and ``probs`` of a relaxed distribution, read from its base distribution (which
    checked the arguments already)."""

    def _checked_arguments(self) -> dict:
        return {}

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs


class RelaxedBernoulli(_RelaxedParams, TransformedDistribution):
    """A draw in (0, 1) that tends to Bernoulli(``probs``) as ``temperature`` goes to 0, as
    ``torch.distributions.RelaxedBernoulli``: ``sigmoid`` of a LogitRelaxedBernoulli draw, reparameterized.

    >>> d = ember.distributions.RelaxedBernoulli(ember.tensor(0.5), probs=ember.tensor([0.2, 0.9]))
    >>> d.rsample((4,))   # (4, 2) in (0, 1), differentiable in probs
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args: bool | None = None):
        base = LogitRelaxedBernoulli(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> RelaxedBernoulli:
        return super().expand(batch_shape, _instance=self._get_checked_instance(RelaxedBernoulli, _instance))


class ExpRelaxedCategorical(CategoricalParams, Distribution):
    """The log of a RelaxedOneHotCategorical draw, as
    ``torch.distributions.relaxed_categorical.ExpRelaxedCategorical``: ``log_softmax((logits + g) / temperature)``
    for Gumbel noise ``g``."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector  # the true support is the log-simplex, a submanifold of it
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args: bool | None = None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        self.temperature = as_parameter(temperature, self._categorical._param.dtype)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def _checked_arguments(self) -> dict:
        return {}  # the Categorical checked them

    def expand(self, batch_shape, _instance=None) -> ExpRelaxedCategorical:
        new = self._get_checked_instance(ExpRelaxedCategorical, _instance)
        new.temperature = self.temperature
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, tuple(batch_shape), self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = clamp_probs(creation.rand(shape, dtype=self.logits.dtype))
        gumbels = -ops.log(-ops.log(u))
        scores = (self.logits + gumbels) / self.temperature
        return scores - ops.logsumexp(scores, -1, keepdims=True)

    def log_prob(self, value):
        k = self._categorical._num_events
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_scale = ops.lgamma(creation.full_like(self.temperature, float(k))) + (k - 1) * ops.log(self.temperature)
        score = logits - value * self.temperature
        score = (score - ops.logsumexp(score, -1, keepdims=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(_RelaxedParams, TransformedDistribution):
    """A point of the simplex that tends to a one-hot draw of ``OneHotCategorical(probs)`` as ``temperature``
    goes to 0 (the Gumbel-softmax), as ``torch.distributions.RelaxedOneHotCategorical``; reparameterized.

    >>> d = ember.distributions.RelaxedOneHotCategorical(ember.tensor(0.5), logits=ember.zeros(3))
    >>> d.rsample()   # (3,), sums to 1
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args: bool | None = None):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> RelaxedOneHotCategorical:
        return super().expand(batch_shape, _instance=self._get_checked_instance(RelaxedOneHotCategorical,
                                                                                _instance))

