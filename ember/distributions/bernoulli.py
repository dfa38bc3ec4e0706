"""The Bernoulli distribution."""

from __future__ import annotations

from ember import creation, ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.distribution import Distribution, expanded, lazy_property
from ember.distributions.utils import broadcast_all, logits_to_probs, probs_to_logits
from ember.nn import functional as F


def probs_or_logits(name: str, probs, logits) -> str:
    """Which of the two was given; a ValueError naming the distribution unless exactly one was."""
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: give either probs or logits, not {'both' if probs is not None else 'neither'}")
    return "probs" if probs is not None else "logits"


class SuccessProbs:
    """The ``probs``/``logits`` pair of a distribution over Bernoulli trials (mixed in before ``Distribution``): the
    constructor stores the one given as ``_param`` (``_given`` names it); the other is computed when first read.
    ``expand`` broadcasts the given one and the parameters named in ``_expanded_too``."""

    _expanded_too: tuple = ()

    def expand(self, batch_shape, _instance=None):
        names = [*self._expanded_too, *(n for n in ("probs", "logits") if n in self.__dict__)]
        new = expanded(self, type(self), batch_shape, names, _instance)
        new._param, new._given = new.__dict__[self._given], self._given
        return new

    @lazy_property
    def logits(self):
        """The log-odds of a success, ``log(p / (1 - p))``."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        """The probability of a success."""
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> tuple:
        return tuple(self._param.shape)


class Bernoulli(SuccessProbs, Distribution):
    """1 with probability ``probs`` (or ``sigmoid(logits)``), else 0, as ``torch.distributions.Bernoulli``.
    Samples are floats in the parameter's dtype; there is no ``rsample``.

    >>> d = ember.distributions.Bernoulli(logits=ember.tensor([0.0, 2.0]))
    >>> d.log_prob(ember.tensor([1.0, 0.0]))
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None):
        given = probs_or_logits("Bernoulli", probs, logits)
        (param,) = broadcast_all(probs if given == "probs" else logits)
        setattr(self, given, param)
        self._param, self._given = param, given
        super().__init__(param.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = ops.cast(self.probs >= 0.5, self.probs.dtype)
        return ops.where(self.probs == 0.5, creation.full_like(mode, float("nan")), mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        with no_grad():
            shape = self._extended_shape(sample_shape)
            # compared in float64, as torch.bernoulli draws: a half-precision u is too coarse (and rounds up to 1,
            # so that probability 1 gave zeros)
            probs = ops.cast(self.probs, "float64")
            valid = ops.all((probs >= 0) & (probs <= 1))  # False for NaN
            if not valid.symbolic and not bool(valid):  # symbolic while ember.jit traces
                raise ValueError(f"Bernoulli.sample: the probabilities must be in [0, 1], got {self.probs}")
            u = creation.rand(shape, dtype="float64")
            return ops.cast(u < ops.broadcast_to(probs, shape), self.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand: bool = True):
        values = creation.tensor([0.0, 1.0], dtype=self._param.dtype).reshape((2,) + (1,) * len(self._batch_shape))
        return ops.broadcast_to(values, (2,) + self._batch_shape) if expand else values
