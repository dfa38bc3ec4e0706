"""Triangular systems, with PyTorch's gradients: ``linalg.solve_triangular`` and the older ``triangular_solve``,
``cholesky_solve`` and ``cholesky_inverse`` (a system whose matrix is given by its Cholesky factor).

Two primitives: ``solve_triangular`` (A X = B for triangular A, by substitution: a zero on the diagonal gives inf
or NaN, as PyTorch's, never an error) and ``cholesky_solve``, whose gradient for the factor is PyTorch's (the whole
matrix, where ``solve_triangular``'s keeps to the triangle A is read from). The rest are compositions.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember.ops import dispatch
from ember.ops.arrange import tril, triu
from ember.ops.autocast import widened
from ember.ops.convert import as_tensor
from ember.ops.decompositions import _check_matrices, _cubic_cost, _eye, _mT
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import where
from ember.ops.infer import differ
from ember.ops.linalg import matmul
from ember.ops.registry import NO_ONNX, Spec, defop, describe, shape_error
from ember.ops.shape import broadcast_to, clone

TriangularSolveResult = namedtuple("triangular_solve", "solution cloned_coefficient")
TriangularSolveResult.__doc__ = "``triangular_solve(b, A)``: the solution X and a copy of A."


def substitute(xp, a, b, upper: bool, unit: bool):
    """X with ``A X = B`` for triangular A (..., n, n) (its lower or upper triangle; 1 on the diagonal when
    ``unit``) and B (..., n, k) of the same batch shape, by forward or back substitution, one row of X per step."""
    n = a.shape[-1]
    x = xp.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + b.shape[-2:], dtype=b.dtype)
    order = range(n - 1, -1, -1) if upper else range(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in order:
            done = slice(i + 1, n) if upper else slice(0, i)
            row = b[..., i, :] - xp.matmul(a[..., i:i + 1, done], x[..., done, :])[..., 0, :]
            x[..., i, :] = row if unit else row / a[..., i, i, None]
    return x


def _check_pair(name: str, a: Spec, b: Spec) -> tuple:
    """A (*, n, n) and B (*, n, k) of one float dtype and the same batch shape; their batch shape."""
    specs = [a, b]
    _check_matrices(name, specs)
    if a.dtype != b.dtype:
        raise TypeError(f"{name}: A and B must have one dtype, got {describe(specs)}")
    if b.ndim != a.ndim or differ(a.shape[-1], b.shape[-2]) or True in [differ(p, q) for p, q in
                                                                        zip(a.shape[:-2], b.shape[:-2])]:
        raise shape_error(name, specs, "expects A (*, n, n) and B (*, n, k) with the same batch dimensions")
    return tuple(q if p is None else p for p, q in zip(a.shape[:-2], b.shape[:-2]))


def _broadcast_batches(name: str, a: TensorLike, b: TensorLike) -> tuple:
    """A (*, n, n) and B (*, n, k) broadcast to one batch shape (A first, as the ops take them)."""
    specs = [Spec(tuple(a.shape), a.dtype), Spec(tuple(b.shape), b.dtype)]
    _check_matrices(name, specs)
    if b.ndim < 2:
        raise shape_error(name, specs, "B must be (*, n, k)")
    if tuple(a.shape[:-2]) != tuple(b.shape[:-2]):
        try:
            batch = tuple(np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
        except (ValueError, TypeError):  # (an unknown size, None, among them)
            raise shape_error(name, specs, "the batch dimensions of A and B cannot be broadcast together") from None
        a, b = broadcast_to(a, batch + tuple(a.shape[-2:])), broadcast_to(b, batch + tuple(b.shape[-2:]))
    _check_pair(name, Spec(tuple(a.shape), a.dtype), Spec(tuple(b.shape), b.dtype))  # (eagerly, as in a graph)
    return a, b


# --- solve_triangular -------------------------------------------------------------------------------------------


def _solve_triangular_infer(a, b, *, upper, unitriangular):
    batch = _check_pair("solve_triangular", a, b)
    return Spec(batch + tuple(b.shape[-2:]), b.dtype)


def _solve_triangular_vjp(ctx, g):
    a = ctx.inputs[0]
    upper, unit = ctx.attrs["upper"], ctx.attrs["unitriangular"]
    gb = dispatch.apply(SOLVE_TRIANGULAR, (_mT(a), g), {"upper": not upper, "unitriangular": unit})
    ga = None
    if ctx.needs[0]:  # -gB X^T on the triangle A is read from
        ga = -matmul(gb, _mT(ctx.output))
        ga = triu(ga, 1 if unit else 0) if upper else tril(ga, -1 if unit else 0)
    return ga, gb


SOLVE_TRIANGULAR = defop(
    "solve_triangular",
    forward=lambda xp, a, b, *, upper, unitriangular: substitute(xp, a, b, upper, unitriangular),
    infer=_solve_triangular_infer, vjp=_solve_triangular_vjp, cost=_cubic_cost, onnx=NO_ONNX, saves_output=True)


def solve_triangular(a, b, *, upper: bool, left: bool = True, unitriangular: bool = False) -> TensorLike:
    """The solution X of ``A X = B`` for triangular A (..., n, n) (its upper triangle when ``upper``, else the
    lower; ones on the diagonal when ``unitriangular``) and B (..., n, k), batch dimensions broadcast, as
    ``torch.linalg.solve_triangular``; ``left=False`` solves ``X A = B``, B (..., k, n). A zero on A's diagonal
    gives inf or NaN.

    >>> a = ember.tensor([[2.0, 0.0], [1.0, 1.0]])
    >>> ember.linalg.solve_triangular(a, ember.tensor([[2.0], [3.0]]), upper=False)  # [[1], [2]]
    """
    a, b = as_tensor(a), as_tensor(b)
    if not isinstance(upper, bool) or not isinstance(left, bool) or not isinstance(unitriangular, bool):
        raise TypeError(f"solve_triangular: upper, left and unitriangular must be bools, got {upper!r}, {left!r}, "
                        f"{unitriangular!r}")
    if not left:
        a, b, upper = _mT(a), _mT(b), not upper
    a, b = _broadcast_batches("solve_triangular", a, b)
    x = dispatch.apply(SOLVE_TRIANGULAR, (a, b), {"upper": upper, "unitriangular": unitriangular})
    return x if left else _mT(x)


def triangular_solve(b, a, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False) -> TriangularSolveResult:
    """``torch.triangular_solve``: ``(X, A's copy)`` with ``A X = b`` (``op(A) = A^T`` when ``transpose``), A upper
    triangular by default."""
    a, b = widened(as_tensor(a), as_tensor(b))  # (float32 in an autocast region, as PyTorch's)
    coefficient = _mT(a) if transpose else a
    solution = solve_triangular(coefficient, b, upper=bool(upper) != bool(transpose),
                                unitriangular=bool(unitriangular))
    shape = tuple(solution.shape[:-2]) + tuple(a.shape[-2:])
    if tuple(a.shape) != shape and None not in shape:  # A broadcast with b's batch, as PyTorch's copy
        a = broadcast_to(a, shape)
    return TriangularSolveResult(solution, clone(a))


# --- cholesky_solve, cholesky_inverse --------------------------------------------------------------------------


def _cholesky_solve_forward(xp, b, factor, *, upper):
    if upper:  # A = U^T U
        return substitute(xp, factor, substitute(xp, xp.swapaxes(factor, -1, -2), b, False, False), True, False)
    return substitute(xp, xp.swapaxes(factor, -1, -2), substitute(xp, factor, b, False, False), True, False)


def _cholesky_solve_infer(b, factor, *, upper):
    batch = _check_pair("cholesky_solve", factor, b)
    return Spec(batch + tuple(b.shape[-2:]), b.dtype)


def _cholesky_solve_vjp(ctx, g):
    b, factor = ctx.inputs
    upper = ctx.attrs["upper"]
    gb = dispatch.apply(CHOLESKY_SOLVE, (g, factor), {"upper": upper})
    gf = None
    if ctx.needs[1]:  # X = A^-1 B: gA = -gB X^T made symmetric, through A = L L^T (or U^T U) to the factor
        x = ctx.output
        common = matmul(gb, _mT(x)) + matmul(x, _mT(gb))
        gf = -matmul(factor, common) if upper else -matmul(common, factor)
    return gb, gf


CHOLESKY_SOLVE = defop("cholesky_solve", forward=_cholesky_solve_forward, infer=_cholesky_solve_infer,
                       vjp=_cholesky_solve_vjp, cost=_cubic_cost, onnx=NO_ONNX, saves_output=True)


def cholesky_solve(b, factor, upper: bool = False) -> TensorLike:
    """``torch.cholesky_solve``: X with ``A X = B`` where ``A = L L^T`` (``factor`` L, lower triangular) or, with
    ``upper``, ``A = U^T U``; batch dimensions broadcast. The factor's gradient is PyTorch's (the whole matrix)."""
    factor, b = _broadcast_batches("cholesky_solve", *widened(as_tensor(factor), as_tensor(b)))
    return dispatch.apply(CHOLESKY_SOLVE, (b, factor), {"upper": bool(upper)})


def cholesky_inverse(factor, upper: bool = False) -> TensorLike:
    """``torch.cholesky_inverse``: the inverse of ``A = L L^T`` (or ``U^T U`` with ``upper``) from its factor."""
    (factor,) = widened(as_tensor(factor))  # (float32 in an autocast region, as PyTorch's)
    _check_matrices("cholesky_inverse", [Spec(tuple(factor.shape), factor.dtype)])
    return dispatch.apply(CHOLESKY_SOLVE, (identities_like(factor), factor), {"upper": bool(upper)})


def identities_like(x: TensorLike) -> TensorLike:
    """Identity matrices of ``x``'s shape (..., n, n); a graph's unknown batch size is taken from ``x`` itself."""
    identity = _eye(x.shape[-1], x)
    if None not in tuple(x.shape):
        return broadcast_to(identity, tuple(x.shape))
    return where(as_tensor(np.ones(tuple(x.shape[-2:]), bool), x), identity, x)  # (x's values are never read)
