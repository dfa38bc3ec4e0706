"""The matrix exponential, ``linalg.matrix_exp``, as a primitive: scaling and squaring of the degree-13 Padé
approximant (Higham's 2005 choice of degree and scaling), each matrix of a batch scaled by its own power of two.

Its gradient is the Fréchet derivative at A^T applied to the incoming gradient, which is the upper right block of
the exponential of the block matrix [[A^T, G], [0, A^T]] (PyTorch's rule): the vjp is the op itself on a matrix
twice the size, so gradients of every order exist.
"""

from __future__ import annotations

import numpy as np

from ember.ops import dispatch
from ember.ops.decompositions import _check_matrices, _matrices, _mT
from ember.ops.dispatch import TensorLike
from ember.ops.indexing import getitem
from ember.ops.join import cat
from ember.ops.registry import NO_ONNX, Cost, ShapeError, Spec, defop

# b_0 ... b_13 of the [13/13] Padé approximant of exp, and the largest 1-norm it takes unscaled in float64
_PADE = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
         10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA_13 = 5.371920351148152


def expm(xp, a):
    """exp of each square matrix of ``a`` (..., n, n)."""
    n = a.shape[-1]
    if n == 0 or a.size == 0:
        return a.copy()
    norm = xp.abs(a).sum(axis=-2).max(axis=-1)  # the 1-norm of each matrix
    with np.errstate(divide="ignore", invalid="ignore"):
        squarings = xp.where(norm > _THETA_13, xp.ceil(xp.log2(norm / _THETA_13)), 0)
    squarings = xp.nan_to_num(squarings, nan=0.0, posinf=0.0).astype(np.int64)  # (inf or NaN entries: NaN out)
    a = a / (2.0 ** squarings).astype(a.dtype)[..., None, None]
    b = _PADE
    eye = xp.eye(n, dtype=a.dtype)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    with np.errstate(invalid="ignore"):
        r = xp.linalg.solve(v - u, v + u) if xp.isfinite(a).all() else _solve_finite(xp, v - u, v + u)
    for step in range(int(squarings.max()) if squarings.size else 0):
        more = (squarings > step)[..., None, None]
        r = xp.where(more, r @ r, r)
    return r.astype(a.dtype, copy=False)


def _solve_finite(xp, q, p):
    """``solve(q, p)`` where the matrices holding inf or NaN give NaN (NumPy's solve would raise for them)."""
    bad = ~xp.isfinite(q).all(axis=(-2, -1)) | ~xp.isfinite(p).all(axis=(-2, -1))
    eye = xp.eye(q.shape[-1], dtype=q.dtype)
    x = xp.linalg.solve(xp.where(bad[..., None, None], eye, q), xp.where(bad[..., None, None], eye, p))
    return xp.where(bad[..., None, None], xp.nan, x)


def _matrix_exp_infer(x):
    _check_matrices("matrix_exp", [x])
    return Spec(tuple(x.shape), x.dtype)


def _matrix_exp_vjp(ctx, g):
    at = _mT(ctx.inputs[0])
    n = at.shape[-1] if at.shape[-1] is not None else at.shape[-2]  # square: either side's size, if one is known
    if n is None:
        raise ShapeError("matrix_exp: the gradient needs the matrices' size, unknown (None) in this graph; build "
                         "with a known size")
    block = cat([cat([at, g], -1), cat([at * 0.0, at], -1)], -2)
    return (getitem(dispatch.apply(MATRIX_EXP, (block,)), (Ellipsis, slice(None, n), slice(n, None))),)


def _matrix_exp_cost(out: Spec, x: Spec) -> Cost:
    n = x.shape[-1] or 1
    batch = (x.size or n * n) // (n * n) if n else 0
    return Cost(2 * 8 * batch * n ** 3, (x.nbytes or 0) + (out.nbytes or 0))  # six products, a solve, squarings


MATRIX_EXP = defop("matrix_exp", forward=expm, infer=_matrix_exp_infer, vjp=_matrix_exp_vjp, cost=_matrix_exp_cost,
                   onnx=NO_ONNX)


def matrix_exp(x) -> TensorLike:
    """The exponential of each square matrix of ``x`` (..., n, n), as ``torch.linalg.matrix_exp``, with its exact
    gradient (the Fréchet derivative).

    >>> ember.linalg.matrix_exp(ember.zeros(2, 2))  # the identity
    """
    return dispatch.apply(MATRIX_EXP, (_matrices("matrix_exp", x),))
