"""The von Mises distribution on the circle."""

from __future__ import annotations

import math

from ember import creation, ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.distribution import Distribution, expanded
from ember.distributions.utils import broadcast_all


def _log_i0(x):
    """``log I0(x)`` from the scaled Bessel function (no overflow for large x)."""
    return ops.log(ops.i0e(x)) + x


class VonMises(Distribution):
    """The von Mises (circular normal) distribution of mean angle ``loc`` and ``concentration``, as
    ``torch.distributions.VonMises``; values are angles, taken modulo 2 pi. ``sample`` uses the rejection sampler
    of Best and Fisher (1979), as PyTorch's, in float64; there is no ``rsample``. ``mean`` and ``variance`` are the
    circular ones.

    >>> ember.distributions.VonMises(0.0, 2.0).sample((3,))   # angles in [-pi, pi)
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args: bool | None = None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> VonMises:
        return expanded(self, VonMises, batch_shape, ("loc", "concentration"), _instance)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 1 - ops.i1e(self.concentration) / ops.i0e(self.concentration)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (self.concentration * ops.cos(value - self.loc) - math.log(2 * math.pi)
                - _log_i0(self.concentration))

    def sample(self, sample_shape=()):
        with no_grad():
            shape = self._extended_shape(sample_shape)
            loc = ops.broadcast_to(self.loc, shape).double()
            kappa = ops.broadcast_to(self.concentration, shape).double()
            tau = 1 + ops.sqrt(1 + 4 * kappa ** 2)
            rho = (tau - ops.sqrt(2 * tau)) / (2 * kappa)
            # (1 + rho^2) / (2 rho), or its Taylor expansion 1/kappa + kappa where that loses all precision
            proposal_r = ops.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho ** 2) / (2 * rho))
            x = creation.zeros(shape, dtype=loc.dtype)
            done = creation.zeros(shape, dtype=bool)
            while not bool(done.all()):
                u1, u2, u3 = (creation.rand(shape, dtype=loc.dtype) for _ in range(3))
                z = ops.cos(math.pi * u1)
                f = (1 + proposal_r * z) / (proposal_r + z)
                c = kappa * (proposal_r - f)
                accept = ~done & (((c * (2 - c) - u2) > 0) | (ops.log(c / u2) + 1 - c >= 0))
                x = ops.where(accept, ops.sign(u3 - 0.5) * ops.acos(ops.clamp(f, -1.0, 1.0)), x)
                done = done | accept
            angle = ops.remainder(x + math.pi + loc, 2 * math.pi) - math.pi
            return angle.to(self.loc.dtype)
