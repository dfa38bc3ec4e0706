"""The Kumaraswamy distribution."""

from __future__ import annotations

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.gumbel import EULER_GAMMA
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import AffineTransform, PowerTransform
from ember.distributions.uniform import Uniform
from ember.distributions.utils import broadcast_all


def _moments(a, b, n):
    """The n-th moment of Kumaraswamy(a, b): ``b * B(1 + n / a, b)``."""
    arg1 = 1 + n / a
    return b * ops.exp(ops.lgamma(arg1) + ops.lgamma(b) - ops.lgamma(arg1 + b))


class Kumaraswamy(TransformedDistribution):
    """The Kumaraswamy distribution on [0, 1] (a Beta-like law with a closed-form CDF), as
    ``torch.distributions.Kumaraswamy``: ``(1 - u ** (1 / concentration0)) ** (1 / concentration1)`` for ``u``
    uniform.

    >>> ember.distributions.Kumaraswamy(1.0, 1.0).mean   # 0.5 (uniform)
    """

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args: bool | None = None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        base = Uniform(creation.zeros_like(self.concentration0), creation.ones_like(self.concentration0),
                       validate_args=validate_args)
        transforms = [PowerTransform(1 / self.concentration0), AffineTransform(1.0, -1.0),
                      PowerTransform(1 / self.concentration1)]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Kumaraswamy:
        new = self._get_checked_instance(Kumaraswamy, _instance)
        new.concentration1 = ops.broadcast_to(self.concentration1, tuple(batch_shape))
        new.concentration0 = ops.broadcast_to(self.concentration0, tuple(batch_shape))
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        return _moments(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        # ((c1 - 1) / (c1 c0 - 1)) ** (1 / c1), the density's maximum; PyTorch's formula is NaN for c0 > 1
        c1, c0 = self.concentration1, self.concentration0
        log_mode = (ops.log(c1 - 1) - ops.log(c1 * c0 - 1)) / c1
        log_mode = ops.where((c0 < 1) | (c1 < 1), creation.full_like(log_mode, float("nan")), log_mode)
        return ops.exp(log_mode)

    @property
    def variance(self):
        return _moments(self.concentration1, self.concentration0, 2) - self.mean ** 2

    def entropy(self):
        t1 = 1 - 1 / self.concentration1
        t0 = 1 - 1 / self.concentration0
        h0 = ops.digamma(self.concentration0 + 1) + EULER_GAMMA
        return t0 + t1 * h0 - ops.log(self.concentration1) - ops.log(self.concentration0)
