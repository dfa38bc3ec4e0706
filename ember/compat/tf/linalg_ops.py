"""TF-1's decompositions and solvers (``tf.linalg.svd``, ``qr``, ``slogdet``, ``set_diag``, ``cholesky_solve``,
``triangular_solve``), each a recipe over ``ember.linalg``; each output of a decomposition is an output of one
op, as TF-1's (``Svd:1``)."""

from __future__ import annotations

import builtins

import ember
from ember.compat.tf._core import Tensor, as_tf, op

__all__ = ["cholesky_solve", "qr", "set_diag", "slogdet", "svd", "triangular_solve"]


def _matrices(what: str, a) -> None:
    if a.ndim < 2:
        raise ValueError(f"tf.linalg.{what}: the input needs at least 2 dimensions, got shape {list(a.shape)}")


def _adjoint(a):
    return ember.swapaxes(ember.conj(a) if a.dtype.kind == "c" else a, -1, -2)


def _outputs(what: str, parts, count: int, source: Tensor, name: str) -> list[Tensor]:
    """One tensor for each of the ``count`` parts (``parts(a)`` gives them all), the first the op, the rest its
    outputs 1, 2..."""
    def part(i: int):
        def fn(a):
            _matrices(what, a)
            return parts(a)[i]

        return fn

    first = op(part(0), (source,), name=name)
    return [first] + [op(part(i), (source,), output_of=(first, i)) for i in range(1, count)]


def svd(tensor, full_matrices: builtins.bool = False, compute_uv: builtins.bool = True, name: str | None = None):
    """``(s, u, v)`` with ``tensor = u @ diag(s) @ adjoint(v)`` for the matrices in the last two axes, as TF-1's
    (``v``, not its adjoint as NumPy's; the singular values descending); ``s`` alone when not ``compute_uv``.
    ``full_matrices`` makes ``u`` and ``v`` square."""
    source = as_tf(tensor)
    if not compute_uv:
        def values(a):
            _matrices("svd", a)
            return ember.linalg.svdvals(a)

        return op(values, (source,), name=name or "Svd")

    def parts(a):
        u, s, vh = ember.linalg.svd(a, full_matrices=builtins.bool(full_matrices))
        return s, u, _adjoint(vh)

    return tuple(_outputs("svd", parts, 3, source, name or "Svd"))


def qr(input, full_matrices: builtins.bool = False, name: str | None = None):
    """``(q, r)`` with ``input = q @ r``, ``q`` orthonormal columns and ``r`` upper triangular, for the matrices
    in the last two axes; ``full_matrices`` makes ``q`` square (M x M) and ``r`` M x N."""
    mode = "complete" if full_matrices else "reduced"
    return tuple(_outputs("qr", lambda a: tuple(ember.linalg.qr(a, mode)), 2, as_tf(input), name or "Qr"))


def slogdet(input, name: str | None = None):
    """``(sign, log_abs_determinant)`` of the square matrices in the last two axes: sign 0 and log -inf for a
    singular one."""
    return tuple(_outputs("slogdet", lambda a: tuple(ember.linalg.slogdet(a)), 2, as_tf(input),
                          name or "LogMatrixDeterminant"))


def set_diag(input, diagonal, name: str | None = None, k: int = 0) -> Tensor:
    """``input`` with the main diagonal of its last two axes (M x N) replaced by ``diagonal`` (its last axis of
    min(M, N) entries); only ``k=0``, TF-1's main diagonal."""
    if k != 0:
        raise ValueError(f"tf.linalg.set_diag: only the main diagonal (k=0) is supported, got k={k}")

    def fn(a, d):
        _matrices("set_diag", a)
        rows, cols = int(a.shape[-2]), int(a.shape[-1])
        expected = tuple(a.shape[:-2]) + (builtins.min(rows, cols),)
        if tuple(d.shape) != expected:
            raise ValueError(f"tf.linalg.set_diag: diagonal of shape {list(d.shape)} for input of shape "
                             f"{list(a.shape)}; it must have shape {list(expected)}")
        if cols > rows:  # (only the first min(M, N) entries of a row of the eye mask are ever taken)
            d = ember.pad(d, ((0, 0),) * (d.ndim - 1) + ((0, cols - rows),))
        on = ember.eye(rows, cols, dtype="bool")
        return ember.where(on, ember.unsqueeze(d, -2), a)

    return op(fn, (as_tf(input), as_tf(diagonal)), name=name or "MatrixSetDiag")


def cholesky_solve(chol, rhs, name: str | None = None) -> Tensor:
    """``X`` with ``A @ X = rhs``, given ``chol``, the lower Cholesky factor of ``A`` (``tf.linalg.cholesky``)."""
    def fn(factor, b):
        _matrices("cholesky_solve", factor)
        y = ember.linalg.solve_triangular(factor, b, upper=False)
        return ember.linalg.solve_triangular(_adjoint(factor), y, upper=True)

    return op(fn, (as_tf(chol), as_tf(rhs)), name=name or "cholesky_solve")


def triangular_solve(matrix, rhs, lower: builtins.bool = True, adjoint: builtins.bool = False,
                     name: str | None = None) -> Tensor:
    """``X`` with ``matrix @ X = rhs`` (``adjoint(matrix) @ X = rhs`` with ``adjoint``), reading only the lower
    (``lower``) or upper triangle of ``matrix``, as TF-1's ``matrix_triangular_solve``."""
    def fn(a, b):
        _matrices("triangular_solve", a)
        if adjoint:
            return ember.linalg.solve_triangular(_adjoint(a), b, upper=builtins.bool(lower))
        return ember.linalg.solve_triangular(a, b, upper=not lower)

    return op(fn, (as_tf(matrix), as_tf(rhs)), name=name or "MatrixTriangularSolve")
