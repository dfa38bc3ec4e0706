"""Constraints on parameters and values, as ``torch.distributions.constraints``.

``constraint.check(value)`` is a bool Tensor: True where ``value`` satisfies it, reduced over the
constraint's ``event_dim`` rightmost dimensions (a simplex is checked per vector).

>>> constraints.positive.check(ember.tensor([1.0, -1.0]))   # [True, False]
"""

from __future__ import annotations

from ember import creation, linalg, ops
from ember.autograd import no_grad
from ember.backend import bool_
from ember.backend.dtypes import FLOATING
from ember.distributions.utils import finfo


class Constraint:
    """A region of values; ``check`` says which elements lie inside."""

    is_discrete = False
    event_dim = 0

    def check(self, value):
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_") + "()"


class _Dependent(Constraint):
    """A support or parameter whose region depends on other parameters (Uniform's ``low`` and ``high``);
    ``dependent(is_discrete=..., event_dim=...)`` makes one with those attributes."""

    def __init__(self, *, is_discrete: bool = False, event_dim: int = 0):
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def __call__(self, *, is_discrete: bool | None = None, event_dim: int | None = None) -> _Dependent:
        return _Dependent(is_discrete=self.is_discrete if is_discrete is None else is_discrete,
                          event_dim=self.event_dim if event_dim is None else event_dim)

    def check(self, value):
        raise ValueError("a dependent constraint cannot be checked on its own")


class _DependentProperty(property, _Dependent):
    """A property that is a dependent constraint on the class (``Uniform.support``) and computes the actual
    constraint on an instance, as ``torch.distributions.constraints.dependent_property``.

    >>> @constraints.dependent_property(is_discrete=False, event_dim=0)
    ... def support(self): return constraints.interval(self.low, self.high)
    """

    def __init__(self, fn=None, *, is_discrete: bool = False, event_dim: int = 0):
        property.__init__(self, fn)
        _Dependent.__init__(self, is_discrete=is_discrete, event_dim=event_dim)

    def __call__(self, fn) -> _DependentProperty:
        return _DependentProperty(fn, is_discrete=self.is_discrete, event_dim=self.event_dim)


def is_dependent(constraint) -> bool:
    """Whether ``constraint`` depends on other parameters (``dependent`` or a ``dependent_property``)."""
    return isinstance(constraint, _Dependent)


class _Real(Constraint):
    def check(self, value):
        return value == value  # False only at NaN


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        return (value == 0) | (value == 1)


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound: int, upper_bound: int):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        return (value % 1 == 0) & (value >= self.lower_bound) & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerGreaterThan(Constraint):
    is_discrete = True

    def __init__(self, lower_bound: int):
        self.lower_bound = lower_bound

    def check(self, value):
        return (value % 1 == 0) & (value >= self.lower_bound)

    def __repr__(self) -> str:
        return f"IntegerGreaterThan(lower_bound={self.lower_bound})"


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        return value > self.lower_bound

    def __repr__(self) -> str:
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(_GreaterThan):
    def check(self, value):
        return value >= self.lower_bound

    def __repr__(self) -> str:
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _LessThan(Constraint):
    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        return value < self.upper_bound

    def __repr__(self) -> str:
        return f"LessThan(upper_bound={self.upper_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        return (value >= self.lower_bound) & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _HalfOpenInterval(_Interval):
    def check(self, value):
        return (value >= self.lower_bound) & (value < self.upper_bound)

    def __repr__(self) -> str:
        return f"HalfOpenInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Simplex(Constraint):
    event_dim = 1

    def check(self, value):
        # summed in float64 and rounded to the value's dtype, as PyTorch's accurate sum: a float32 sum over a short
        # last axis (BLAS) is 1.3e-6 off for 1000 equal probabilities, past the tolerance
        total = ops.cast(value, "float64").sum(-1)
        if value.dtype in FLOATING:
            total = ops.cast(total, value.dtype)
        return ops.all(value >= 0, axis=-1) & (ops.abs(total - 1) < 1e-6)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def check(self, value):
        return ops.all((value == 0) | (value == 1), axis=-1) & (value.sum(-1) == 1)


class _Multinomial(Constraint):
    """Vectors of non-negative counts summing to at most ``upper_bound``."""

    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        return ops.all(value >= 0, axis=-1) & (value.sum(-1) <= self.upper_bound)

    def __repr__(self) -> str:
        return f"Multinomial(upper_bound={self.upper_bound})"


def _all_of_matrix(condition):
    return ops.all(ops.all(condition, axis=-1), axis=-1)


class _LowerTriangular(Constraint):
    event_dim = 2

    def check(self, value):
        return _all_of_matrix(ops.tril(value) == value)


class _Square(Constraint):
    event_dim = 2

    def check(self, value):
        shape = tuple(value.shape)
        return creation.full(shape[:-2], shape[-2] == shape[-1], dtype=bool_)


class _Symmetric(_Square):
    def check(self, value):
        square = super().check(value)
        if not bool(square.all()):
            return square
        return _all_of_matrix(ops.isclose(value, value.mT, atol=1e-6))


class _PositiveSemidefinite(_Symmetric):
    def check(self, value):
        symmetric = super().check(value)
        if not bool(symmetric.all()):
            return symmetric
        with no_grad():
            return ops.all(linalg.eigvalsh(value) >= 0, axis=-1)


class _CorrCholesky(Constraint):
    """Lower Cholesky factors of correlation matrices: positive diagonals and rows of unit norm."""

    event_dim = 2

    def check(self, value):
        tolerance = float(finfo(value.dtype).eps) * value.shape[-1] * 10
        with no_grad():
            row_norm = linalg.vector_norm(value, dim=-1)
        unit_rows = ops.all(ops.abs(row_norm - 1.0) <= tolerance, axis=-1)
        return lower_cholesky.check(value) & unit_rows


class _LowerCholesky(Constraint):
    event_dim = 2

    def check(self, value):
        lower = ops.all(ops.all(ops.tril(value) == value, axis=-1), axis=-1)
        return lower & ops.all(ops.diagonal(value, 0, -2, -1) > 0, axis=-1)


class _PositiveDefinite(_Symmetric):
    """Symmetric to ``_Symmetric``'s tolerance (PyTorch's), finite, with positive eigenvalues; False for a
    non-square."""

    def check(self, value):
        candidate = super().check(value)
        if value.shape[-2] != value.shape[-1]:
            return candidate
        candidate = candidate & _all_of_matrix(ops.isfinite(value))
        with no_grad():  # the others stand in the identity's place: eigvalsh fails on NaN or infinity
            safe = ops.where(candidate[..., None, None], value, creation.eye(value.shape[-1], dtype=value.dtype))
            smallest = linalg.eigvalsh(safe)[..., 0]
        return candidate & (smallest > 0)


class _Independent(Constraint):
    """A constraint whose ``reinterpreted_batch_ndims`` rightmost dimensions are one event."""

    def __init__(self, base: Constraint, reinterpreted_batch_ndims: int):
        self.base, self.reinterpreted_batch_ndims = base, reinterpreted_batch_ndims
        self.is_discrete = base.is_discrete
        self.event_dim = base.event_dim + reinterpreted_batch_ndims

    def check(self, value):
        result = self.base.check(value)
        for _ in range(self.reinterpreted_batch_ndims):
            result = ops.all(result, axis=-1)
        return result

    def __repr__(self) -> str:
        return f"IndependentConstraint({self.base!r}, {self.reinterpreted_batch_ndims})"


class _Cat(Constraint):
    """``cseq[i]`` on the i-th piece (of ``lengths[i]``, 1 each by default) of a value cut along ``dim``."""

    def __init__(self, cseq, dim: int = 0, lengths=None):
        self.cseq = list(cseq)
        self.lengths = [1] * len(self.cseq) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.cseq):
            raise ValueError(f"constraints.cat: {len(self.cseq)} constraints but {len(self.lengths)} lengths")
        self.dim = dim

    @property
    def is_discrete(self) -> bool:
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self) -> int:
        return max(c.event_dim for c in self.cseq)

    def check(self, value):
        checks, start = [], 0
        for constraint, length in zip(self.cseq, self.lengths):
            checks.append(constraint.check(value.narrow(self.dim, start, length)))
            start += length
        return ops.cat(checks, self.dim)

    def __repr__(self) -> str:
        return f"Cat({self.cseq!r}, dim={self.dim}, lengths={self.lengths})"


class _Stack(Constraint):
    """``cseq[i]`` on the i-th slice of a value along ``dim``."""

    def __init__(self, cseq, dim: int = 0):
        self.cseq, self.dim = list(cseq), dim

    @property
    def is_discrete(self) -> bool:
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self) -> int:
        dim = max(c.event_dim for c in self.cseq)
        return dim + 1 if self.dim + dim < 0 else dim

    def check(self, value):
        if value.shape[self.dim] != len(self.cseq):
            raise ValueError(f"constraints.stack: the value's shape {tuple(value.shape)} has {value.shape[self.dim]} "
                             f"slices along dim {self.dim}, but there are {len(self.cseq)} constraints")
        return ops.stack([c.check(value.select(self.dim, i)) for i, c in enumerate(self.cseq)], self.dim)

    def __repr__(self) -> str:
        return f"Stack({self.cseq!r}, dim={self.dim})"


dependent = _Dependent()
dependent_property = _DependentProperty
real = _Real()
real_vector = _Independent(real, 1)
boolean = _Boolean()
nonnegative_integer = _IntegerGreaterThan(0)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
one_hot = _OneHot()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
positive_semidefinite = _PositiveSemidefinite()
positive_integer = _IntegerGreaterThan(1)
lower_triangular = _LowerTriangular()
corr_cholesky = _CorrCholesky()
square = _Square()
symmetric = _Symmetric()
less_than = _LessThan
multinomial = _Multinomial
cat = _Cat
stack = _Stack
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
interval = _Interval
half_open_interval = _HalfOpenInterval
integer_interval = _IntegerInterval
independent = _Independent

__all__ = [
    "Constraint", "boolean", "cat", "corr_cholesky", "dependent", "dependent_property", "greater_than",
    "greater_than_eq", "half_open_interval", "independent", "integer_interval", "interval", "is_dependent",
    "less_than", "lower_cholesky", "lower_triangular", "multinomial", "nonnegative", "nonnegative_integer", "one_hot",
    "positive", "positive_definite", "positive_integer", "positive_semidefinite", "real", "real_vector", "simplex",
    "square", "stack", "symmetric", "unit_interval",
]
