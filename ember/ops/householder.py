"""Householder reflections: ``geqrf`` (LAPACK's QR in reflector form, from NumPy's ``qr(mode="raw")``) and
``linalg.householder_product`` (``orgqr``), the product of the reflectors' first columns, composed from ops so that
it has their gradients (PyTorch's ``geqrf`` has none either)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember.ops import dispatch
from ember.ops.arrange import tril
from ember.ops.autocast import switched_off, widened
from ember.ops.convert import as_tensor
from ember.ops.decompositions import _check_matrices, _cubic_cost, _factored, _matrices, _min, _one_factorization
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import where
from ember.ops.indexing import getitem
from ember.ops.linalg import matmul
from ember.ops.registry import NO_ONNX, Spec, defop, describe
from ember.ops.shape import swapaxes, unsqueeze

GeqrfResult = namedtuple("geqrf", "a tau")
GeqrfResult.__doc__ = "``geqrf(A)``: R on and above the diagonal, the reflectors below it, and their scales."


def _geqrf_forward(xp, x, *, part):
    h, tau = _factored(x, "geqrf", lambda: xp.linalg.qr(x, mode="raw"))
    return xp.ascontiguousarray(xp.swapaxes(h, -1, -2)) if part == "a" else tau


def _geqrf_infer(x, *, part):
    if part not in ("a", "tau"):
        raise ValueError(f"geqrf: part must be 'a' or 'tau', got {part!r}")
    _check_matrices("geqrf", [x], square=False)
    return Spec(tuple(x.shape) if part == "a" else tuple(x.shape[:-2]) + (_min(*x.shape[-2:]),), x.dtype)


def _geqrf_vjp(ctx, g):
    # (a gradient flowing around geqrf would otherwise drop its part silently)
    a = ctx.inputs[0]
    raise RuntimeError(f"geqrf: the derivative is not implemented, as in PyTorch (input {a.dtype}"
                       f"{list(a.shape)}); differentiate linalg.qr instead")


GEQRF = defop("geqrf", forward=_geqrf_forward, infer=_geqrf_infer, vjp=_geqrf_vjp, cost=_cubic_cost, onnx=NO_ONNX)


def geqrf(x) -> GeqrfResult:
    """``torch.geqrf``: ``(a, tau)`` of LAPACK's geqrf, A = Q R with R on and above ``a``'s diagonal and Q the
    product of the reflectors ``I - tau_i v_i v_i^T`` (``v_i`` below the diagonal of column i, 1 on it); see
    ``householder_product``. No gradient, as PyTorch's: a backward through it raises."""
    x = _matrices("geqrf", x, square=False)
    with _one_factorization():
        return GeqrfResult(dispatch.apply(GEQRF, (x,), {"part": "a"}), dispatch.apply(GEQRF, (x,), {"part": "tau"}))


def householder_product(a, tau) -> TensorLike:
    """The first n columns of ``H_1 ... H_k``, ``H_i = I - tau_i v_i v_i^T`` with ``v_i`` column i of ``a``
    (..., m, n) below the diagonal and 1 on it, as ``torch.linalg.householder_product`` (m >= n >= k, ``tau``
    (..., k)).

    >>> a, tau = ember.geqrf(ember.randn(4, 3, dtype=ember.float64))
    >>> q = ember.linalg.householder_product(a, tau)  # linalg.qr's Q up to the signs of its columns
    """
    a, tau = widened(as_tensor(a), as_tensor(tau))  # (float32 in an autocast region, as PyTorch's)
    specs = [Spec(tuple(a.shape), a.dtype), Spec(tuple(tau.shape), tau.dtype)]
    _check_matrices("householder_product", specs, square=False)
    m, n = a.shape[-2:]
    k = tau.shape[-1] if tau.ndim else -1
    if tau.ndim != a.ndim - 1 or m < n or k > n or tuple(tau.shape[:-1]) != tuple(a.shape[:-2]):
        raise ValueError(f"householder_product: expects A (*, m, n) with m >= n and tau (*, k) with k <= n and A's "
                         f"batch dimensions, got {describe(specs)}")
    reflectors = tril(a, -1) + as_tensor(np.eye(m, n, dtype=a.dtype), a)
    q = as_tensor(np.eye(m, n, dtype=a.dtype), a)
    if k == 0:  # no reflector: I's first n columns for each matrix of the batch (a's values are never read)
        return where(as_tensor(np.ones((m, n), bool), a), q, a)
    with switched_off(a):  # (autocast would round each reflection's products to bfloat16: 6e-3 off)
        for i in range(k - 1, -1, -1):  # Q E = H_1 (H_2 (... (H_k E))), E the first n columns of I
            v = getitem(reflectors, (Ellipsis, slice(None), slice(i, i + 1)))  # (..., m, 1)
            scale = unsqueeze(getitem(tau, (Ellipsis, slice(i, i + 1))), -1)  # (..., 1, 1)
            q = q - matmul(v * scale, matmul(swapaxes(v, -1, -2), q))
    return q


def orgqr(a, tau) -> TensorLike:
    """``torch.orgqr``: ``householder_product``."""
    return householder_product(a, tau)
