"""The LKJ distribution over Cholesky factors of correlation matrices."""

from __future__ import annotations

import math

import numpy as np

from ember import creation, ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.dirichlet import Beta
from ember.distributions.distribution import Distribution, expanded
from ember.distributions.utils import broadcast_all, finfo


class LKJCholesky(Distribution):
    """The LKJ distribution (Lewandowski, Kurowicka and Joe, 2009) over lower Cholesky factors L of ``dim`` x ``dim``
    correlation matrices, density proportional to det(L L^T)^(concentration - 1) times the Jacobian from the
    matrix to its factor, as ``torch.distributions.LKJCholesky``. Draws by the onion method (Beta draws, so eagerly);
    ``concentration`` 1 is uniform over correlation matrices.

    >>> ember.distributions.LKJCholesky(3, 0.5).sample().shape    # (3, 3)
    """

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim: int, concentration=1.0, validate_args: bool | None = None):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 2:
            raise ValueError(f"LKJCholesky: dim must be an integer of at least 2, got {dim!r}")
        self.dim = int(dim)
        (self.concentration,) = broadcast_all(concentration)
        super().__init__(self.concentration.shape, (self.dim, self.dim), validate_args=validate_args)
        self._beta = self._onion_beta()

    def _onion_beta(self) -> Beta:
        """Row k's squared off-diagonal norm is Beta(k / 2, concentration + (dim - 1 - k) / 2) in the onion method
        (row 0's draw is unused)."""
        k = np.arange(self.dim, dtype=np.float64)
        half_k = creation.tensor(np.maximum(k, 1.0) / 2.0, dtype=self.concentration.dtype)
        rest = creation.tensor((self.dim - 1 - np.maximum(k, 1.0)) / 2.0, dtype=self.concentration.dtype)
        return Beta(half_k, self.concentration.unsqueeze(-1) + rest, validate_args=False)

    def expand(self, batch_shape, _instance=None) -> LKJCholesky:
        new = expanded(self, LKJCholesky, batch_shape, ("concentration",), _instance)
        new.dim = self.dim
        Distribution.__init__(new, tuple(batch_shape), (self.dim, self.dim), validate_args=False)
        new._validate_args = self._validate_args
        new._beta = new._onion_beta()
        return new

    def sample(self, sample_shape=()):
        with no_grad():
            squared_norms = self._beta.sample(sample_shape).unsqueeze(-1)
            normal = ops.tril(creation.randn(self._extended_shape(sample_shape), dtype=squared_norms.dtype), -1)
            norm = ops.sqrt((normal * normal).sum(-1, keepdims=True))
            direction = normal / ops.where(norm == 0, creation.ones_like(norm), norm)  # row 0 stays 0
            w = ops.sqrt(squared_norms) * direction
            tiny = float(finfo(w.dtype).tiny)
            diagonal = ops.sqrt(ops.clamp(1 - (w * w).sum(-1), tiny, None))
            return w + ops.diag_embed(diagonal)

    def log_prob(self, value):
        # det(L L^T)^(c - 1) is prod L_ii^(2c - 2), the Jacobian from the matrix to L prod L_ii^(D - i)
        if self._validate_args:
            self._validate_sample(value)
        diagonal = ops.diagonal(value, 0, -2, -1)[..., 1:]
        order = creation.tensor(np.arange(2, self.dim + 1, dtype=np.float64), dtype=self.concentration.dtype)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized = (order * ops.log(diagonal)).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        normalizer = 0.5 * dm1 * math.log(math.pi) + ops.multigammaln(alpha - 0.5, dm1) - ops.lgamma(alpha) * dm1
        return unnormalized - normalizer
