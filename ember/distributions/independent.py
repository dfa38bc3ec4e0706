"""Batch dimensions of a distribution reinterpreted as event dimensions."""

from __future__ import annotations

from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import sum_rightmost


class Independent(Distribution):
    """``base_distribution`` with its ``reinterpreted_batch_ndims`` rightmost batch dimensions made event
    dimensions, as ``torch.distributions.Independent``: ``log_prob`` and ``entropy`` sum over them.

    >>> d = ember.distributions.Independent(ember.distributions.Normal(ember.zeros(3), ember.ones(3)), 1)
    >>> d.batch_shape, d.event_shape   # (), (3,)
    """

    arg_constraints: dict = {}

    def __init__(self, base_distribution: Distribution, reinterpreted_batch_ndims: int,
                 validate_args: bool | None = None):
        n = int(reinterpreted_batch_ndims)
        shape = base_distribution.batch_shape + base_distribution.event_shape
        if not 0 <= n <= len(base_distribution.batch_shape):
            raise ValueError(f"Independent: reinterpreted_batch_ndims ({n}) must be between 0 and the base "
                             f"distribution's batch rank ({len(base_distribution.batch_shape)}, batch shape "
                             f"{base_distribution.batch_shape})")
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        event_dim = n + len(base_distribution.event_shape)
        super().__init__(shape[:len(shape) - event_dim], shape[len(shape) - event_dim:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Independent:
        new = self._get_checked_instance(Independent, _instance)
        batch_shape = tuple(batch_shape)
        extra = self.event_shape[:self.reinterpreted_batch_ndims]
        new.base_dist = self.base_dist.expand(batch_shape + extra)
        new.reinterpreted_batch_ndims = self.reinterpreted_batch_ndims
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:
        return self.reinterpreted_batch_ndims == 0 and self.base_dist.has_enumerate_support

    @property
    def support(self):
        base = self.base_dist.support
        return constraints.independent(base, self.reinterpreted_batch_ndims) if self.reinterpreted_batch_ndims else base

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def mode(self):
        return self.base_dist.mode

    @property
    def variance(self):
        return self.base_dist.variance

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def enumerate_support(self, expand: bool = True):
        """The base distribution's support, when no batch dimension is reinterpreted (PyTorch enumerates no
        cartesian product)."""
        if self.reinterpreted_batch_ndims > 0:
            raise NotImplementedError("Independent: enumerating the support over reinterpreted batch dimensions "
                                      "(a cartesian product) is not implemented")
        return self.base_dist.enumerate_support(expand=expand)

    def log_prob(self, value):
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self) -> str:
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
