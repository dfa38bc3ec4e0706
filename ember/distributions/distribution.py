"""The ``Distribution`` base class: shapes, sampling, validation of parameters and values."""

from __future__ import annotations

import math
import operator

from ember import ops
from ember.autograd import enable_grad, no_grad
from ember.distributions import constraints
from ember.distributions.utils import broadcast_all
from ember.tensor import Tensor

_validate_default = True


def _shape(shape) -> tuple:
    """``shape`` as a tuple of ints; a TypeError for a size that is no integer (2.5 is not truncated to 2)."""
    if isinstance(shape, int):
        return (shape,)
    try:
        return tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"distributions: a shape must be a sequence of integers, got {shape!r}") from None


class Distribution:
    """A batch of probability distributions, as ``torch.distributions.Distribution``.

    ``batch_shape`` indexes independent distributions, ``event_shape`` is the shape of one draw; a sample of
    ``sample_shape`` has shape ``sample_shape + batch_shape + event_shape``. With ``validate_args`` (the default,
    as in PyTorch) parameters are checked against ``arg_constraints`` when the distribution is made and values
    against ``support`` in ``log_prob``/``cdf``, raising a ValueError that names the argument and the constraint.

    >>> d = ember.distributions.Normal(0.0, 1.0)
    >>> d.sample((3,)).shape     # (3,)
    """

    has_rsample = False
    has_enumerate_support = False
    arg_constraints: dict = {}
    support: constraints.Constraint | None = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Whether distributions made from now on validate their arguments by default."""
        global _validate_default
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected True or False, got {value!r}")
        _validate_default = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args: bool | None = None):
        self._batch_shape = _shape(batch_shape)
        self._event_shape = _shape(event_shape)
        self._validate_args = _validate_default if validate_args is None else bool(validate_args)
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self) -> None:
        for name, constraint in self._checked_arguments().items():
            if constraints.is_dependent(constraint) or name not in self.__dict__ and _lazy(type(self), name):
                continue  # a lazily computed form of a given parameter (probs from logits) or a dependent one
            value = getattr(self, name)
            if getattr(value, "symbolic", False):
                continue  # a graph's value is not known while the graph is built
            with no_grad():
                valid = constraint.check(value)
            if not valid.symbolic and not bool(valid.all()):  # symbolic while ember.jit traces
                raise ValueError(
                    f"{type(self).__name__}: parameter {name} (shape {tuple(value.shape)}, {value.dtype}) must "
                    f"satisfy the constraint {constraint!r}, but found invalid values:\n{value}")

    def _checked_arguments(self) -> dict:
        """The parameters ``validate_args`` checks, with their constraints."""
        return self.arg_constraints

    @property
    def batch_shape(self) -> tuple:
        """The shape over which the distributions are independent (not identically distributed)."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        """The shape of a single draw."""
        return self._event_shape

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} has no mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    @property
    def stddev(self):
        """The standard deviation, the square root of the variance."""
        return ops.sqrt(self.variance)

    def expand(self, batch_shape, _instance=None) -> Distribution:
        """A distribution of the same kind with its parameters broadcast to ``batch_shape`` (no copy)."""
        raise NotImplementedError(f"{type(self).__name__}.expand is not implemented")

    def sample(self, sample_shape=()):
        """A draw of shape ``sample_shape + batch_shape + event_shape`` from Ember's global generator, with no
        gradient (``ember.manual_seed`` repeats it)."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        """A reparameterized draw: differentiable with respect to the parameters."""
        raise NotImplementedError(f"{type(self).__name__} has no rsample (has_rsample is False); use sample")

    def sample_n(self, n: int):
        return self.sample((n,))

    def log_prob(self, value):
        """The log of the density (or mass) at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} has no log_prob")

    def cdf(self, value):
        """The cumulative distribution function at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} has no cdf")

    def icdf(self, value):
        """The inverse of the cumulative distribution function at probabilities ``value``."""
        raise NotImplementedError(f"{type(self).__name__} has no icdf")

    def entropy(self):
        """The entropy of each distribution of the batch."""
        raise NotImplementedError(f"{type(self).__name__} has no entropy")

    def enumerate_support(self, expand: bool = True):
        raise NotImplementedError(f"{type(self).__name__} cannot enumerate its support")

    def perplexity(self):
        """``exp(entropy)``."""
        return ops.exp(self.entropy())

    def _extended_shape(self, sample_shape=()) -> tuple:
        return _shape(sample_shape) + self._batch_shape + self._event_shape

    def _validate_sample(self, value) -> None:
        """A ValueError naming the method's distribution unless ``value`` broadcasts with the batch and event
        shapes and lies in the support."""
        name = type(self).__name__
        if not (isinstance(value, Tensor) or getattr(value, "symbolic", False)):
            raise TypeError(f"{name}: the value must be a Tensor, got {type(value).__name__}")
        event = len(self._event_shape)
        shape = tuple(value.shape)
        if len(shape) < event or shape[len(shape) - event:] != self._event_shape:
            raise ValueError(f"{name}: the value's shape {shape} must end in the event shape {self._event_shape}")
        batch = shape[:len(shape) - event]
        for got, want in zip(reversed(batch), reversed(self._batch_shape)):
            if got != 1 and want != 1 and got != want:
                raise ValueError(f"{name}: the value's shape {shape} does not broadcast with the batch shape "
                                 f"{self._batch_shape} and event shape {self._event_shape}")
        if value.symbolic:
            return
        with no_grad():
            valid = self.support.check(value)
        if not valid.symbolic and not bool(valid.all()):  # symbolic while ember.jit traces
            raise ValueError(f"{name}: the value (shape {shape}, {value.dtype}) must be within the support "
                             f"{self.support!r}, but found invalid values:\n{value}")

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(f"{type(self).__name__} must implement expand (its __init__ differs from "
                                      f"{cls.__name__}'s)")
        return self.__new__(type(self)) if _instance is None else _instance

    def __repr__(self) -> str:
        given = getattr(self, "_given", None)  # of probs and logits, the one given (the other is derived)
        names = [k for k in self.arg_constraints if not _lazy(type(self), k) or k == given]
        parts = []
        for name in names:
            value = getattr(self, name)
            size = math.prod(value.shape)
            parts.append(f"{name}: {value.reshape(()).item() if size == 1 else tuple(value.shape)}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _lazy(cls, name: str) -> bool:
    """Whether ``name`` is a lazily computed property (Bernoulli's probs when made from logits)."""
    return isinstance(getattr(cls, name, None), lazy_property)


class lazy_property:  # noqa: N801  (used as a decorator, like property)
    """A property computed on first use and kept in the instance (probs from logits and the reverse), with
    gradients recorded even when the first use is under ``no_grad`` (``sample``'s), as PyTorch's: the kept value
    serves every later use."""

    def __init__(self, method):
        self.method = method
        self.__doc__ = method.__doc__
        self.name = method.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with enable_grad():
            value = self.method(instance)
        instance.__dict__[self.name] = value
        return value


def expanded(dist: Distribution, cls, batch_shape, names, _instance=None, event_dims: int = 0) -> Distribution:
    """``dist`` as a ``cls`` over ``batch_shape``: each parameter in ``names`` broadcast (its last
    ``event_dims`` dimensions kept), the shapes and the validation flag carried over, nothing checked again."""
    new = dist._get_checked_instance(cls, _instance)
    batch_shape = _shape(batch_shape)
    for name in names:
        value = getattr(dist, name)
        tail = tuple(value.shape[len(value.shape) - event_dims:]) if event_dims else ()
        setattr(new, name, ops.broadcast_to(value, batch_shape + tail))
    Distribution.__init__(new, batch_shape, dist.event_shape, validate_args=False)
    new._validate_args = dist._validate_args
    return new


class LocScale(Distribution):
    """A distribution over the reals with a location ``loc`` and a positive ``scale`` (broadcast together), whose
    mean and mode are ``loc`` and which draws by reparameterization (``rsample``): Normal's and Laplace's base."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Distribution:
        return expanded(self, type(self), batch_shape, ("loc", "scale"), _instance)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

