"""The Pareto (type I) distribution."""

from __future__ import annotations

from ember import ops
from ember.distributions import constraints
from ember.distributions.exponential import Exponential
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import AffineTransform, ExpTransform
from ember.distributions.utils import broadcast_all


class Pareto(TransformedDistribution):
    """The Pareto distribution of minimum ``scale`` and tail index ``alpha``, as ``torch.distributions.Pareto``:
    ``scale * exp(e)`` for ``e`` from ``Exponential(alpha)``. The mean is infinite for ``alpha <= 1`` and the
    variance for ``alpha <= 2``.

    >>> ember.distributions.Pareto(1.0, 3.0).mean   # 1.5
    """

    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}
    has_rsample = True

    def __init__(self, scale, alpha, validate_args: bool | None = None):
        self.scale, self.alpha = broadcast_all(scale, alpha)
        base = Exponential(self.alpha, validate_args=validate_args)
        super().__init__(base, [ExpTransform(), AffineTransform(0, self.scale)], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Pareto:
        new = self._get_checked_instance(Pareto, _instance)
        new.scale = ops.broadcast_to(self.scale, tuple(batch_shape))
        new.alpha = ops.broadcast_to(self.alpha, tuple(batch_shape))
        return super().expand(batch_shape, _instance=new)

    @property
    def support(self):
        return constraints.greater_than_eq(self.scale)

    @property
    def mean(self):
        a = ops.clamp(self.alpha, 1, None)
        return a * self.scale / (a - 1)

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        a = ops.clamp(self.alpha, 2, None)
        return self.scale ** 2 * a / ((a - 1) ** 2 * (a - 2))

    def entropy(self):
        return ops.log(self.scale / self.alpha) + 1 / self.alpha + 1
