"""The categorical distribution and its one-hot form."""

from __future__ import annotations

import numpy as np

from ember import creation, ops
from ember.autograd import no_grad
from ember.backend import int64
from ember.distributions import constraints
from ember.distributions.bernoulli import probs_or_logits
from ember.distributions.distribution import Distribution, expanded, lazy_property
from ember.distributions.utils import as_parameter, finfo, logits_to_probs, probs_to_logits


class Categorical(Distribution):
    """A category index in ``[0, K)`` with probabilities ``probs`` (normalized along the last dimension) or
    ``softmax(logits)``, as ``torch.distributions.Categorical``; the last dimension of the parameter is the
    categories, the others the batch. Samples are int64.

    >>> d = ember.distributions.Categorical(probs=ember.tensor([0.2, 0.3, 0.5]))
    >>> d.log_prob(ember.tensor(2))   # log(0.5)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None):
        given = probs_or_logits(type(self).__name__, probs, logits)
        param = as_parameter(probs if given == "probs" else logits)
        if param.ndim < 1:
            raise ValueError(f"{type(self).__name__}: {given} must have at least one dimension (the categories), "
                             f"got shape {tuple(param.shape)}")
        if given == "probs":
            self.probs = param / param.sum(-1, keepdims=True)
        else:
            self.logits = param - ops.logsumexp(param, -1, keepdims=True)
        self._param, self._given = param, given
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Categorical:
        names = [n for n in ("probs", "logits") if n in self.__dict__]
        new = expanded(self, Categorical, batch_shape, names, _instance, event_dims=1)
        new._param, new._given = new.__dict__[self._given], self._given
        new._num_events = self._num_events
        return new

    @lazy_property
    def logits(self):
        """Normalized log-probabilities (``log(probs)``, clamped away from -inf)."""
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        """The probabilities of the categories, summing to 1 along the last dimension."""
        return logits_to_probs(self.logits)

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self) -> tuple:
        return tuple(self._param.shape)

    @property
    def mean(self):
        return creation.full(self._extended_shape(), float("nan"), dtype=self.probs.dtype)

    @property
    def mode(self):
        return ops.argmax(self.probs, -1)

    @property
    def variance(self):
        return creation.full(self._extended_shape(), float("nan"), dtype=self.probs.dtype)

    def sample(self, sample_shape=()):
        # inverse CDF: the number of cumulative probabilities at or below u (from creation.rand, so a traced
        # function draws anew on each call), in float64: a half-precision cumulative sum drops a small category
        # and a half-precision u rounds up to the total, past the last category of nonzero probability
        with no_grad():
            shape = self._extended_shape(sample_shape)
            probs = ops.cast(self.probs, "float64")
            valid = ops.all(probs >= 0)  # False for NaN: all-zero probabilities, infinite logits
            if not valid.symbolic and not bool(valid):  # symbolic while ember.jit traces
                raise ValueError("Categorical.sample: the probabilities must be finite and non-negative with a "
                                 f"positive sum, got {self.probs}")
            cdf = ops.cumsum(probs, -1)
            u = creation.rand(shape + (1,), dtype="float64") * cdf[..., -1:]
            index = ops.cast(u >= cdf, int64).sum(-1)
            return ops.clamp(index, 0, self._num_events - 1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = ops.cast(value, int64)
        shape = np.broadcast_shapes(tuple(value.shape), self._batch_shape)
        index = ops.broadcast_to(value, shape).unsqueeze(-1)
        logits = ops.broadcast_to(self.logits, shape + (self._num_events,))
        return ops.gather(logits, -1, index).squeeze(-1)

    def entropy(self):
        logits = ops.clamp(self.logits, float(finfo(self.logits.dtype).min), None)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True):
        values = creation.arange(self._num_events).reshape((-1,) + (1,) * len(self._batch_shape))
        return ops.broadcast_to(values, (self._num_events,) + self._batch_shape) if expand else values


class CategoricalParams:
    """``probs``, ``logits`` and ``param_shape`` read from the ``Categorical`` a distribution keeps as
    ``_categorical`` (mixed in before ``Distribution``)."""

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self) -> tuple:
        return self._categorical.param_shape


class OneHotCategorical(CategoricalParams, Distribution):
    """A one-hot vector of length K, its 1 at a category drawn from ``probs`` or ``softmax(logits)``, as
    ``torch.distributions.OneHotCategorical``. Samples have the parameter's floating dtype.

    >>> ember.distributions.OneHotCategorical(logits=ember.zeros(3)).sample()   # e.g. [0., 1., 0.]
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def _check_parameters(self) -> None:
        pass  # the inner Categorical checked them

    def expand(self, batch_shape, _instance=None) -> OneHotCategorical:
        new = self._get_checked_instance(OneHotCategorical, _instance)
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, new._categorical.batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return ops.cast(ops.one_hot(self._categorical.mode, self.event_shape[0]), self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        index = self._categorical.sample(sample_shape)
        return ops.cast(ops.one_hot(index, self.event_shape[0]), self.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(ops.argmax(value, -1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand: bool = True):
        n = self.event_shape[0]
        values = creation.eye(n, dtype=self.probs.dtype).reshape((n,) + (1,) * len(self._batch_shape) + (n,))
        return ops.broadcast_to(values, (n,) + self._batch_shape + (n,)) if expand else values

    def __repr__(self) -> str:
        return repr(self._categorical).replace("Categorical", "OneHotCategorical", 1)


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """``OneHotCategorical`` whose ``rsample`` is the one-hot draw with the straight-through gradient of the
    probabilities (Bengio et al., 2013): the value is the draw, its gradient that of ``probs``, as
    ``torch.distributions.OneHotCategoricalStraightThrough``.

    >>> d = ember.distributions.OneHotCategoricalStraightThrough(logits=ember.zeros(3, requires_grad=True))
    >>> d.rsample()   # e.g. [0., 1., 0.], differentiable in the logits
    """

    has_rsample = True

    def expand(self, batch_shape, _instance=None) -> OneHotCategoricalStraightThrough:
        new = self._get_checked_instance(OneHotCategoricalStraightThrough, _instance)
        return super().expand(batch_shape, _instance=new)

    def rsample(self, sample_shape=()):
        draw = self.sample(sample_shape)
        probs = self.probs
        return draw + (probs - ops.stop_gradient(probs))
