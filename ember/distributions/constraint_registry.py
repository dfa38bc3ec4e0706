"""``biject_to`` and ``transform_to``: from a constraint to a transform whose codomain it is, as
``torch.distributions.constraint_registry`` (to optimize a constrained parameter as an unconstrained one).

>>> t = biject_to(constraints.positive)        # ExpTransform
>>> scale = t(ember.zeros(3, requires_grad=True))
"""

from __future__ import annotations

from ember.distributions import constraints
from ember.distributions import matrix_transforms as M
from ember.distributions import structured_transforms as S
from ember.distributions import transforms as T

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    """Factories from constraint types to transforms: ``registry(constraint)`` calls the one registered for the
    constraint's type (or a base type), ``registry.register(constraint, factory)`` adds one."""

    def __init__(self, name: str):
        self._name = name
        self._registry: dict = {}

    def register(self, constraint, factory=None):
        """Register ``factory(constraint) -> Transform`` for ``constraint`` (a Constraint subclass or an instance,
        meaning its type); usable as a decorator."""
        if factory is None:
            return lambda f: self.register(constraint, f)
        if isinstance(constraint, constraints.Constraint):
            constraint = type(constraint)
        if not (isinstance(constraint, type) and issubclass(constraint, constraints.Constraint)):
            raise TypeError(f"{self._name}.register: expected a Constraint subclass or instance, got {constraint!r}")
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint) -> T.Transform:
        for cls in type(constraint).__mro__:
            if cls in self._registry:
                return self._registry[cls](constraint)
        raise NotImplementedError(f"{self._name}: no transform registered for the constraint {constraint!r} "
                                  f"({type(constraint).__name__})")


biject_to = ConstraintRegistry("biject_to")
transform_to = ConstraintRegistry("transform_to")


def _identity(constraint):
    return T.identity_transform


def _greater_than(constraint):
    if isinstance(constraint.lower_bound, (int, float)) and constraint.lower_bound == 0:
        return T.ExpTransform()
    return T.ComposeTransform([T.ExpTransform(), T.AffineTransform(constraint.lower_bound, 1)])


def _less_than(constraint):
    return T.ComposeTransform([T.ExpTransform(), T.AffineTransform(constraint.upper_bound, -1)])


def _interval(constraint):
    lower, upper = constraint.lower_bound, constraint.upper_bound
    if isinstance(lower, (int, float)) and isinstance(upper, (int, float)) and lower == 0 and upper == 1:
        return T.SigmoidTransform()
    return T.ComposeTransform([T.SigmoidTransform(), T.AffineTransform(lower, upper - lower)])


def _independent(registry):
    def factory(constraint):
        return T.IndependentTransform(registry(constraint.base), constraint.reinterpreted_batch_ndims)
    return factory


def _cat(registry):
    def factory(constraint):
        return S.CatTransform([registry(c) for c in constraint.cseq], constraint.dim, constraint.lengths)
    return factory


def _stack(registry):
    def factory(constraint):
        return S.StackTransform([registry(c) for c in constraint.cseq], constraint.dim)
    return factory


for _registry in (biject_to, transform_to):
    _registry.register(constraints.real, _identity)
    _registry.register(constraints.less_than, _less_than)
    _registry.register(constraints.corr_cholesky, lambda c: M.CorrCholeskyTransform())
    _registry.register(constraints.cat, _cat(_registry))
    _registry.register(constraints.stack, _stack(_registry))
    _registry.register(constraints.greater_than, _greater_than)  # positive, greater_than and greater_than_eq
    _registry.register(constraints.interval, _interval)  # unit_interval, interval and half_open_interval
    _registry.register(constraints.independent, _independent(_registry))
biject_to.register(constraints.simplex, lambda c: T.StickBreakingTransform())
transform_to.register(constraints.simplex, lambda c: T.SoftmaxTransform())
transform_to.register(constraints.lower_cholesky, lambda c: M.LowerCholeskyTransform())
transform_to.register(constraints.positive_definite, lambda c: M.PositiveDefiniteTransform())
transform_to.register(constraints.positive_semidefinite, lambda c: M.PositiveDefiniteTransform())
