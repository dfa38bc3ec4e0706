"""The orthogonal parametrization (PyTorch's ``nn.utils.parametrizations.orthogonal``) for real weights: a matrix (or
a batch of them) with orthonormal columns (or rows, when it is wide), from an unconstrained original through the
matrix exponential or the Cayley map of a skew-symmetric matrix, or a product of Householder reflections. With the
trivialization (the default) the original starts at ``-I`` and the map's result multiplies a buffer ``base``, the
orthogonalized weight (or the value assigned later)."""

from __future__ import annotations

import math

import numpy as np

from ember import linalg, ops
from ember.autograd import no_grad
from ember.creation import eye, randn, zeros, zeros_like
from ember.nn.module import Module
from ember.ops.householder import geqrf
from ember.tensor import Tensor

__all__ = ["MAPS", "householder_product", "matrix_exp_skew"]

MAPS = ("matrix_exp", "cayley", "householder")
_TAYLOR_TERMS = 18  # after scaling the norm to at most 1/2: the remainder is below float64's rounding


def _mT(x: Tensor) -> Tensor:  # noqa: N802  (PyTorch's name)
    return ops.swapaxes(x, -1, -2)


def _eye_like(x: Tensor, n: int) -> Tensor:
    return eye(n, dtype=x.dtype, device=x.device)


def matrix_exp_skew(a: Tensor) -> Tensor:
    """``exp(a)`` of square matrices by scaling and squaring a Taylor series, written with ops (so it has their
    gradients). The scaling reads the matrices' 1-norm, which a traced step (``ember.jit``) does not have."""
    if a.symbolic:
        raise TypeError("orthogonal: the matrix_exp map scales the matrix by its norm, which a traced step "
                        "(ember.jit) does not have; use orthogonal_map='cayley' or 'householder' there")
    n = a.shape[-1]
    with no_grad():
        norm = float(ops.max(ops.sum(ops.abs(a), axis=-2))) if a.numel() else 0.0
    squarings = max(0, math.ceil(math.log2(norm / 0.5))) if norm > 0.5 else 0
    scaled = a / float(2**squarings) if squarings else a
    identity = _eye_like(a, n)
    result = identity
    for k in range(_TAYLOR_TERMS, 0, -1):  # Horner: I + A/1 (I + A/2 (I + ...))
        result = identity + ops.matmul(scaled, result) / float(k)
    for _ in range(squarings):
        result = ops.matmul(result, result)
    return result


def householder_product(a: Tensor, tau: Tensor) -> Tensor:
    """The first ``k`` columns of ``H_1 ... H_k``, ``H_i = I - tau_i v_i v_i^T`` with ``v_i`` column ``i`` of ``a``
    (n, k) below the diagonal and 1 on it (PyTorch's ``linalg.householder_product``), written with ops."""
    n, k = a.shape[-2], a.shape[-1]
    identity = _eye_like(a, n)
    reflectors = ops.tril(a, -1) + eye(n, k, dtype=a.dtype, device=a.device)  # (n >= k: the caller's transpose)
    q = identity
    for i in range(k):
        v = reflectors[..., :, i:i + 1]  # (..., n, 1)
        q = q - ops.matmul(ops.matmul(q, v) * ops.expand_dims(tau[..., i:i + 1], -1), _mT(v))
    return q[..., :, :k]


def _orthonormalized(a: Tensor) -> Tensor:
    """The Q of ``a``'s QR factorization with R's diagonal made non-negative (a tall ``a``)."""
    q, r = linalg.qr(a)
    return q * ops.expand_dims(ops.sign(ops.diagonal(r, 0, -2, -1)), -2)


def _is_orthogonal(q: Tensor) -> bool:
    n, k = q.shape[-2], q.shape[-1]
    eps = 10.0 * n * float(np.finfo(np.float64 if q.dtype == np.float64 else np.float32).eps)
    return bool(ops.all(ops.abs(ops.matmul(_mT(q), q) - _eye_like(q, k)) <= eps))


class Orthogonal(Module):
    """The parametrization ``orthogonal`` registers (PyTorch's ``_Orthogonal``)."""

    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool = True):
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = _mT(x)
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = ops.tril(x)
            if n != k:
                x = ops.concat([x, ops.broadcast_to(zeros(n, n - k, dtype=x.dtype), (*x.shape[:-2], n, n - k))], -1)
            a = x - _mT(x)
            if self.orthogonal_map == "matrix_exp":
                q = matrix_exp_skew(a)
            else:
                identity = _eye_like(a, n)
                q = linalg.solve(identity - a * 0.5, identity + a * 0.5)
            if n != k:
                q = q[..., :, :k]
        else:
            a = ops.tril(x, -1)
            tau = 2.0 / (1.0 + ops.sum(a * a, axis=-2))
            q = householder_product(a, tau)
            signs = ops.stop_gradient(ops.trunc(ops.diagonal(x, 0, -2, -1)))  # PyTorch's .int(): no gradient
            q = q * ops.expand_dims(signs, -2)
        if "base" in self._buffers:
            q = ops.matmul(self.base, q)
        return _mT(q) if transposed else q

    def right_inverse(self, q: Tensor) -> Tensor:
        if tuple(q.shape) != self.shape:
            raise ValueError(f"orthogonal: expected a matrix or batch of matrices of shape {list(self.shape)}, got "
                             f"{list(q.shape)}")
        with no_grad():
            q_init = q
            n, k = q.shape[-2], q.shape[-1]
            if n < k:
                q = _mT(q)
                n, k = k, n
            if "base" not in self._buffers:
                if self.orthogonal_map in ("matrix_exp", "cayley"):
                    raise NotImplementedError(f"orthogonal: a weight cannot be assigned through the "
                                              f"{self.orthogonal_map} map without the trivialization "
                                              "(use_trivialization=False); it has no inverse to store")
                # the original the map turns into q: geqrf's reflectors below the diagonal (LAPACK's tau is the
                # forward's 2 / (1 + |v|^2) except where it skips a column, tau = 0) and, on the diagonal, the
                # signs that make R's diagonal positive; a skipped column's sign flips, undoing the reflection
                # the forward applies there all the same
                a, tau = geqrf(q)
                negative = ops.cast(ops.diagonal(a, 0, -2, -1) < 0, a.dtype)
                skipped = ops.cast(tau == 0, a.dtype)
                signs = (1.0 - 2.0 * negative) * (1.0 - 2.0 * skipped)  # +-1, a zero diagonal counted positive
                original = ops.tril(a, -1) + eye(n, k, dtype=a.dtype, device=a.device) * ops.expand_dims(signs, -2)
                return _mT(original) if tuple(original.shape) != tuple(q_init.shape) else original
            if n == k:
                q = q.clone() if _is_orthogonal(q) else _orthonormalized(q)
            else:
                fill = randn(*q.shape[:-2], n, n - k, dtype=q.dtype, device=q.device)
                q = _orthonormalized(ops.concat([q, fill], -1))
            self.base = q
            m, p = q_init.shape[-2], q_init.shape[-1]
            return zeros_like(q_init) - eye(m, p, dtype=q_init.dtype, device=q_init.device)
