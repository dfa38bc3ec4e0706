"""The Dirichlet and Beta distributions."""

from __future__ import annotations

from ember import creation, ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.distribution import Distribution, expanded
from ember.distributions.gamma import check_concentration, standard_gamma
from ember.distributions.utils import as_parameter, broadcast_all, finfo


class Dirichlet(Distribution):
    """The Dirichlet distribution over the probability simplex of ``concentration``'s last dimension, as
    ``torch.distributions.Dirichlet``; ``rsample`` normalizes Gamma samples, differentiable in the concentration
    through their implicit reparameterization.

    >>> ember.distributions.Dirichlet(ember.tensor([1.0, 2.0, 3.0])).mean   # [1/6, 1/3, 1/2]
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args: bool | None = None):
        concentration = as_parameter(concentration)
        if concentration.ndim < 1:
            raise ValueError("Dirichlet: concentration must have at least one dimension, got shape "
                             f"{tuple(concentration.shape)}")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Dirichlet:
        return expanded(self, Dirichlet, batch_shape, ("concentration",), _instance, event_dims=1)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdims=True)

    @property
    def mode(self):
        # the concentrations above one, normalized; where all are below one (no interior mode, the density
        # unbounded at every vertex) the first vertex, as PyTorch's
        mode = ops.clamp(self.concentration - 1, 0, None)
        mode = mode / mode.sum(-1, keepdims=True)
        all_below_one = ops.broadcast_to((self.concentration < 1).all(-1, keepdims=True), mode.shape)
        first = ops.cast(ops.one_hot(creation.zeros_like(mode[..., 0], dtype="int64"), self.event_shape[0]), mode.dtype)
        return ops.where(all_below_one, first, mode)

    @property
    def variance(self):
        total = self.concentration.sum(-1, keepdims=True)
        return self.concentration * (total - self.concentration) / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=()):
        check_concentration("Dirichlet", self.concentration)
        shape = self._extended_shape(sample_shape)
        # drawn and normalized in float64 as PyTorch's sampler, the normalization in log space: float32 draws
        # underflowed to tiny at small concentrations (a gradient 15 times too large at 0.01), and dividing by a
        # sum of underflowed draws made it inf or NaN
        concentration = ops.cast(ops.broadcast_to(self.concentration, shape), "float64")
        x = ops.cast(ops.softmax(ops.log(standard_gamma(concentration)), -1), self.concentration.dtype)
        # kept in [tiny, 1 - ulp] as PyTorch's sampler keeps it (a Beta draw of exactly 1 has an infinite log
        # density); the shift is a constant, so the gradient stays the unclamped one
        info = finfo(x.dtype)
        with no_grad():
            shift = ops.clamp(x, float(info.tiny), 1.0 - float(info.epsneg)) - x
        return x + shift

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return ops.xlogy(c - 1.0, value).sum(-1) + ops.lgamma(c.sum(-1)) - ops.lgamma(c).sum(-1)

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        total = c.sum(-1)
        return (ops.lgamma(c).sum(-1) - ops.lgamma(total) - (k - total) * ops.digamma(total)
                - ((c - 1.0) * ops.digamma(c)).sum(-1))


class Beta(Distribution):
    """The Beta distribution on [0, 1] of ``concentration1`` (alpha) and ``concentration0`` (beta), as
    ``torch.distributions.Beta``: the first coordinate of a two-category Dirichlet.

    >>> ember.distributions.Beta(2.0, 3.0).mean   # 0.4
    """

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args: bool | None = None):
        c1, c0 = broadcast_all(concentration1, concentration0)
        self._dirichlet = Dirichlet(ops.stack([c1, c0], -1), validate_args=validate_args)
        super().__init__(self._dirichlet.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Beta:
        new = self._get_checked_instance(Beta, _instance)
        new._dirichlet = self._dirichlet.expand(batch_shape)
        Distribution.__init__(new, tuple(batch_shape), validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def concentration1(self):
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self):
        return self._dirichlet.concentration[..., 1]

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=()):
        return self._dirichlet.rsample(sample_shape)[..., 0]

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._dirichlet.log_prob(ops.stack([value, 1.0 - value], -1))

    def entropy(self):
        return self._dirichlet.entropy()
