"""Mixtures whose components are one batched distribution."""

from __future__ import annotations

import numpy as np

from ember import creation, ops
from ember.autograd import no_grad
from ember.distributions.categorical import Categorical
from ember.distributions.distribution import Distribution


class MixtureSameFamily(Distribution):
    """A mixture of the components ``component_distribution`` holds in the rightmost dimension of its batch, with
    weights from the Categorical ``mixture_distribution``, as ``torch.distributions.MixtureSameFamily``.
    ``log_prob`` is ``logsumexp(log w + log p_k)``; there is no ``rsample``.

    >>> D = ember.distributions
    >>> gmm = D.MixtureSameFamily(D.Categorical(logits=ember.zeros(3)),
    ...                           D.Normal(ember.tensor([-2.0, 0.0, 2.0]), ember.ones(3)))
    >>> gmm.log_prob(ember.tensor([0.5]))
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, mixture_distribution: Categorical, component_distribution: Distribution,
                 validate_args: bool | None = None):
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError("MixtureSameFamily: mixture_distribution must be a Categorical, got "
                             f"{type(mixture_distribution).__name__}")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("MixtureSameFamily: component_distribution must be a Distribution, got "
                             f"{type(component_distribution).__name__}")
        mixture_batch = mixture_distribution.batch_shape
        component_batch = component_distribution.batch_shape
        if len(component_batch) < 1:
            raise ValueError("MixtureSameFamily: component_distribution needs a batch dimension for the components, "
                             f"got batch shape {component_batch}")
        for m, c in zip(reversed(mixture_batch), reversed(component_batch[:-1])):
            if m != 1 and c != 1 and m != c:
                raise ValueError(f"MixtureSameFamily: the mixture's batch shape {mixture_batch} does not match the "
                                 f"components' batch shape {component_batch[:-1]} (without the component dimension)")
        k = mixture_distribution.param_shape[-1]
        if k != component_batch[-1]:
            raise ValueError(f"MixtureSameFamily: the mixture has {k} categories but the components' last batch "
                             f"dimension has {component_batch[-1]} (batch shape {component_batch})")
        self.mixture_distribution = mixture_distribution
        self.component_distribution = component_distribution
        self._num_component = k
        self._event_ndims = len(component_distribution.event_shape)
        # the two batch shapes broadcast (PyTorch takes the components' alone, though log_prob broadcasts them)
        batch_shape = tuple(np.broadcast_shapes(tuple(mixture_batch), tuple(component_batch[:-1])))
        super().__init__(batch_shape, component_distribution.event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> MixtureSameFamily:
        batch_shape = tuple(batch_shape)
        new = self._get_checked_instance(MixtureSameFamily, _instance)
        new.component_distribution = self.component_distribution.expand(batch_shape + (self._num_component,))
        new.mixture_distribution = self.mixture_distribution.expand(batch_shape)
        new._num_component, new._event_ndims = self._num_component, self._event_ndims
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def support(self):
        return self.component_distribution.support

    @property
    def has_enumerate_support(self) -> bool:
        return False

    def _pad(self, x):
        return x.unsqueeze(-1 - self._event_ndims)

    def _mixture_weights(self):
        """The mixture's probabilities with unit dimensions for the event, to broadcast with the components."""
        probs = self.mixture_distribution.probs
        return probs.reshape(tuple(probs.shape) + (1,) * self._event_ndims)

    @property
    def mean(self):
        return (self._mixture_weights() * self.component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        probs = self._mixture_weights()
        mean_cond_var = (probs * self.component_distribution.variance).sum(-1 - self._event_ndims)
        var_cond_mean = (probs * (self.component_distribution.mean - self._pad(self.mean)) ** 2).sum(
            -1 - self._event_ndims)
        return mean_cond_var + var_cond_mean

    def cdf(self, x):
        return (self.component_distribution.cdf(self._pad(x)) * self.mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        if self._validate_args:
            self._validate_sample(x)
        log_prob_x = self.component_distribution.log_prob(self._pad(x))
        log_mix_prob = ops.log_softmax(self.mixture_distribution.logits, -1)
        return ops.logsumexp(log_prob_x + log_mix_prob, -1)

    def sample(self, sample_shape=()):
        with no_grad():
            gather_dim = len(tuple(sample_shape)) + len(self.batch_shape)
            # one choice per member of the batch, also where the mixture's batch broadcasts against it
            choice = self.mixture_distribution.expand(self.batch_shape).sample(sample_shape)
            components = self.component_distribution.expand(self.batch_shape + (self._num_component,)).sample(
                sample_shape)
            chosen = ops.one_hot(choice, self._num_component) > 0
            chosen = chosen.reshape(tuple(chosen.shape) + (1,) * self._event_ndims)
            chosen = ops.broadcast_to(chosen, tuple(components.shape))
            return ops.where(chosen, components, creation.zeros_like(components)).sum(gather_dim)

    def __repr__(self) -> str:
        return f"MixtureSameFamily(\n  {self.mixture_distribution},\n  {self.component_distribution})"
