"""The Gamma distribution, and Gamma samples with implicit reparameterization gradients."""

from __future__ import annotations

import numpy as np

from ember import creation, ops, random
from ember.autograd import Function, no_grad
from ember.backend.dtypes import FLOATING
from ember.distributions import constraints
from ember.distributions.distribution import Distribution, expanded
from ember.distributions.utils import broadcast_all, finfo
from ember.grad_mode import thread_mode


class _StandardGamma(Function):
    """A Gamma(alpha, 1) draw from a ``generator=``'s NumPy generator whose backward is
    ``grad * standard_gamma_grad(alpha, x)``, as ``torch._standard_gamma``'s: recorded under ``create_graph=True``,
    so that a second derivative reaches ``standard_gamma_grad`` and is refused there."""

    @staticmethod
    def forward(ctx, alpha, rng):
        tiny = float(finfo(alpha.dtype).tiny)  # a sample that underflows to 0 would have no log density
        draw = rng.standard_gamma(np.asarray(alpha.detach().numpy(), np.float64))
        x = creation.tensor(np.maximum(draw, tiny), dtype=alpha.dtype, device=alpha.device)
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        return grad * ops.standard_gamma_grad(alpha, x.detach()), None


def check_concentration(name: str, concentration) -> None:
    """Refuses a negative or NaN concentration before a draw (with validate_args=False): PyTorch's gamma sampler turns
    them into its smallest-number clamp by accident (NaN fails every comparison), NumPy's refuses them unnamed.
    Not checked while ember.jit traces."""
    valid = ops.all(concentration >= 0)  # False for NaN
    if not valid.symbolic and not bool(valid):
        raise ValueError(f"{name}.sample: the concentration must be non-negative, got {concentration}")


def standard_gamma(alpha, generator=None):
    """Gamma(alpha, 1) samples of ``alpha``'s shape (``torch._standard_gamma``), differentiable in ``alpha`` by
    implicit reparameterization: the gradient is dx/dalpha at the sample's CDF value (``standard_gamma_grad``),
    which has no derivative of its own (a second one is refused, as PyTorch's). Drawn by the ``random_sample`` op
    from Ember's generator state, so ``ember.jit`` and graphs draw afresh on every call; from ``generator`` (an
    ``ember.Generator``), eagerly."""
    alpha = ops.as_tensor(alpha)
    if alpha.dtype not in FLOATING:
        raise TypeError(f"_standard_gamma: alpha must be floating, got {alpha.dtype}")
    if generator is None:
        return ops.random_sample("gamma", (), alpha)
    if alpha.symbolic or thread_mode.builder is not None:
        raise TypeError("_standard_gamma: a draw from a generator= is made with its NumPy generator, which a graph "
                        "cannot hold; draw with generator=None (Ember's generator state) inside ember.jit")
    return _StandardGamma.apply(alpha, random.numpy_generator(generator))


class Gamma(Distribution):
    """The Gamma distribution of shape ``concentration`` and ``rate`` (mean ``concentration / rate``), as
    ``torch.distributions.Gamma``; ``rsample`` is differentiable in both (implicit reparameterization for the
    concentration, as PyTorch).

    >>> ember.distributions.Gamma(ember.tensor([2.0]), ember.tensor([4.0])).mean   # [0.5]
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args: bool | None = None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Gamma:
        return expanded(self, Gamma, batch_shape, ("concentration", "rate"), _instance)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ops.clamp((self.concentration - 1) / self.rate, 0, None)

    @property
    def variance(self):
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape=()):
        check_concentration("Gamma", self.concentration)
        shape = self._extended_shape(sample_shape)
        x = standard_gamma(ops.broadcast_to(self.concentration, shape)) / self.rate
        # a draw a large rate divides below tiny is kept at tiny, as PyTorch's (0 has an infinite log density);
        # the shift is a constant, so the gradient stays the unclamped one
        tiny = float(finfo(x.dtype).tiny)
        with no_grad():  # (only below tiny: inf - inf would turn an overflowed draw into NaN)
            shift = ops.where(x < tiny, tiny - x, creation.zeros_like(x))
        return x + shift

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (ops.xlogy(self.concentration, self.rate) + ops.xlogy(self.concentration - 1, value) - self.rate * value
                - ops.lgamma(self.concentration))

    def cdf(self, value):
        """P(X <= value): the regularized lower incomplete gamma function of the concentration at rate * value."""
        if self._validate_args:
            self._validate_sample(value)
        return ops.igamma(self.concentration, self.rate * value)

    def entropy(self):
        return (self.concentration - ops.log(self.rate) + ops.lgamma(self.concentration)
                + (1.0 - self.concentration) * ops.digamma(self.concentration))
