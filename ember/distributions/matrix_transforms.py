"""Transforms onto matrices: lower Cholesky factors (``LowerCholeskyTransform``), positive definite matrices
(``PositiveDefiniteTransform``) and Cholesky factors of correlation matrices (``CorrCholeskyTransform``), as
``torch.distributions.transforms``.

>>> CorrCholeskyTransform()(ember.zeros(3)).shape    # (3, 3): the identity's factor
"""

from __future__ import annotations

import math

import numpy as np

from ember import creation, linalg, ops
from ember.distributions import constraints
from ember.distributions.transforms import Transform
from ember.distributions.utils import finfo
from ember.nn import functional as F

__all__ = ["CorrCholeskyTransform", "LowerCholeskyTransform", "PositiveDefiniteTransform", "tril_matrix_to_vec",
           "vec_to_tril_matrix"]


def _positions(n: int, diag: int) -> np.ndarray:
    """Flat positions (row-major) of the lower triangle of an n x n matrix below diagonal ``diag``."""
    rows, cols = np.tril_indices(n, diag)
    return rows * n + cols


def tril_matrix_to_vec(mat, diag: int = 0):
    """The elements of ``mat``'s lower triangle (on and below diagonal ``diag``), row by row, as a last axis."""
    n = mat.shape[-1]
    flat = mat.reshape(tuple(mat.shape[:-2]) + (n * n,))
    return flat[..., _positions(n, diag)]


def vec_to_tril_matrix(vec, diag: int = 0):
    """The n x n lower-triangular matrix (below diagonal ``diag``, zeros elsewhere) whose triangle, row by row, is
    ``vec``'s last axis: the inverse of ``tril_matrix_to_vec``."""
    size = vec.shape[-1]
    n = round((-(1 + 2 * diag) + math.sqrt((1 + 2 * diag) ** 2 + 8 * size + 4 * abs(diag) * (diag + 1))) / 2)
    if len(_positions(n, diag)) != size:
        raise ValueError(f"vec_to_tril_matrix: {size} elements do not fill the triangle below diagonal {diag} of "
                         "a square matrix")
    batch = tuple(vec.shape[:-1])
    index = np.zeros(n * n, dtype=np.int64)  # position 0 of the padded vector is a zero
    index[_positions(n, diag)] = np.arange(1, size + 1)
    padded = ops.cat([creation.zeros(batch + (1,), dtype=vec.dtype), vec], -1)
    return padded[..., index].reshape(batch + (n, n))


def _pad_one(x):
    """``x`` without its last element, a 1 before its first (along the last axis)."""
    return ops.cat([creation.ones(tuple(x.shape[:-1]) + (1,), dtype=x.dtype), x[..., :-1]], -1)


class LowerCholeskyTransform(Transform):
    """A square matrix to a lower Cholesky factor: the strictly lower triangle kept, the diagonal exponentiated
    (the upper triangle dropped, so it is not bijective)."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def __eq__(self, other) -> bool:
        return isinstance(other, LowerCholeskyTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        return ops.tril(x, -1) + ops.diag_embed(ops.exp(ops.diagonal(x, 0, -2, -1)))

    def _inverse(self, y):
        return ops.tril(y, -1) + ops.diag_embed(ops.log(ops.diagonal(y, 0, -2, -1)))


class PositiveDefiniteTransform(Transform):
    """A square matrix to a positive definite one: ``L L^T`` for ``L`` its ``LowerCholeskyTransform``."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def __eq__(self, other) -> bool:
        return isinstance(other, PositiveDefiniteTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        factor = LowerCholeskyTransform()(x)
        return factor @ factor.mT

    def _inverse(self, y):
        return LowerCholeskyTransform().inv(linalg.cholesky(y))


class CorrCholeskyTransform(Transform):
    """A vector of D (D - 1) / 2 reals to the lower Cholesky factor of a D x D correlation matrix: each element
    through tanh into (-1, 1), then each row's stick broken so that the row has unit norm and a positive diagonal
    (the LKJ construction of Lewandowski, Kurowicka and Joe, 2009).

    >>> CorrCholeskyTransform()(ember.zeros(3))      # the 3 x 3 identity
    """

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def __eq__(self, other) -> bool:
        return isinstance(other, CorrCholeskyTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        eps = float(finfo(x.dtype).eps)
        r = vec_to_tril_matrix(ops.clamp(ops.tanh(x), -1 + eps, 1 - eps), diag=-1)
        # stick-breaking on the squares: y_ij = r_ij sqrt(prod_(k<j) (1 - r_ik^2)), 1 on the diagonal
        remaining = ops.cumprod(ops.sqrt(1 - r * r), -1)
        r = r + creation.eye(r.shape[-1], dtype=r.dtype)
        return r * _pad_one(remaining)

    def _inverse(self, y):
        left = _pad_one(1 - ops.cumsum(y * y, -1))  # 1 - the squares before each element of its row
        t = tril_matrix_to_vec(y, diag=-1) / ops.sqrt(tril_matrix_to_vec(left, diag=-1))
        return (ops.log1p(t) - ops.log1p(-t)) / 2  # atanh

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        remaining = tril_matrix_to_vec(1 - ops.cumsum(y * y, -1), diag=-2)
        stick_breaking = 0.5 * ops.log(remaining).sum(-1)
        tanh = -2 * (x + F.softplus(-2 * x) - math.log(2.0)).sum(-1)  # log(1 - tanh(x)^2), stably
        return stick_breaking + tanh

    def forward_shape(self, shape) -> tuple:
        shape = tuple(shape)
        if len(shape) < 1:
            raise ValueError("CorrCholeskyTransform: the input needs a last dimension")
        size = shape[-1]
        n = round((0.25 + 2 * size) ** 0.5 + 0.5)
        if n * (n - 1) // 2 != size:
            raise ValueError(f"CorrCholeskyTransform: the last dimension ({size}) must be D (D - 1) / 2 for a D x D "
                             "matrix")
        return shape[:-1] + (n, n)

    def inverse_shape(self, shape) -> tuple:
        shape = tuple(shape)
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise ValueError(f"CorrCholeskyTransform: expected square matrices, got the shape {shape}")
        n = shape[-1]
        return shape[:-2] + (n * (n - 1) // 2,)
