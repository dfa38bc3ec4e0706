"""TF-1's decompositions and solvers (``tf.linalg.svd``, ``qr``, ``slogdet``, ``set_diag``, ``cholesky_solve``,
``triangular_solve``), each a recipe over ``ember.linalg``; each output of a decomposition is an output of one
op, as TF-1's (``Svd:1``)."""

from __future__ import annotations

import builtins

import ember
from ember.compat.tf._core import Tensor, as_tf, as_tf_dtype, int32, int64, op

__all__ = ["adjoint", "cholesky_solve", "cross", "expm", "logdet", "lu", "matrix_solve", "matrix_solve_ls", "matvec",
           "qr", "self_adjoint_eig", "self_adjoint_eigvals", "set_diag", "slogdet", "svd", "triangular_solve"]


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


def _square(what: str, a) -> None:
    _matrices(what, a)
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"tf.linalg.{what}: the matrices must be square, got shape {list(a.shape)}")


def matrix_solve(matrix, rhs, adjoint: builtins.bool = False, name: str | None = None) -> Tensor:
    """``X`` with ``matrix @ X = rhs`` (``adjoint(matrix) @ X = rhs`` with ``adjoint``) for square matrices."""
    def fn(a, b):
        _square("solve", a)
        if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
            raise ValueError(f"tf.linalg.solve: rhs of shape {list(b.shape)} does not fit matrix of shape "
                             f"{list(a.shape)} (it needs {a.shape[-1]} rows)")
        return ember.linalg.solve(_adjoint(a) if adjoint else a, b)

    return op(fn, (as_tf(matrix), as_tf(rhs)), name=name or "MatrixSolve")


def matrix_solve_ls(matrix, rhs, l2_regularizer=0.0, fast: builtins.bool = True, name: str | None = None) -> Tensor:
    """The least-squares ``X`` minimizing ``|matrix @ X - rhs|^2 + l2_regularizer * |X|^2``. ``fast`` solves the
    normal equations by Cholesky, as TF-1's (``A^H A + l2 I`` for tall matrices, ``A (A A^H + l2 I)^-1`` for wide
    ones: the minimum-norm solution); not ``fast``, the minimum-norm least-squares solution of an SVD (only
    without regularization, as TF-1's complete orthogonal decomposition)."""
    l2 = float(l2_regularizer)
    if l2 < 0:
        raise ValueError(f"tf.linalg.lstsq: l2_regularizer must be >= 0, got {l2}")
    if not fast and l2 != 0.0:
        raise ValueError("tf.linalg.lstsq: fast=False supports only l2_regularizer=0")

    def fn(a, b):
        _matrices("lstsq", a)
        if b.ndim < 2 or b.shape[-2] != a.shape[-2]:
            raise ValueError(f"tf.linalg.lstsq: rhs of shape {list(b.shape)} does not fit matrix of shape "
                             f"{list(a.shape)} (it needs {a.shape[-2]} rows)")
        if not fast:
            return ember.matmul(ember.linalg.pinv(a), b)
        m, n = a.shape[-2], a.shape[-1]
        ah = _adjoint(a)
        if m >= n:
            factor = ember.linalg.cholesky(ember.matmul(ah, a) + l2 * ember.eye(n, dtype=a.dtype))
            return _cholesky_solve(factor, ember.matmul(ah, b))
        factor = ember.linalg.cholesky(ember.matmul(a, ah) + l2 * ember.eye(m, dtype=a.dtype))
        return ember.matmul(ah, _cholesky_solve(factor, b))

    return op(fn, (as_tf(matrix), as_tf(rhs)), name=name or "MatrixSolveLs")


def _cholesky_solve(factor, b):
    y = ember.linalg.solve_triangular(factor, b, upper=False)
    return ember.linalg.solve_triangular(_adjoint(factor), y, upper=True)


def self_adjoint_eig(tensor, name: str | None = None):
    """``(e, v)``: the eigenvalues (ascending) and eigenvectors (columns) of the self-adjoint matrices in the last
    two axes, reading their lower triangles."""
    def parts(a):
        _square("eigh", a)
        return builtins.tuple(ember.linalg.eigh(a))

    return builtins.tuple(_outputs("eigh", parts, 2, as_tf(tensor), name or "SelfAdjointEigV2"))


def self_adjoint_eigvals(tensor, name: str | None = None) -> Tensor:
    """The eigenvalues (ascending) of the self-adjoint matrices in the last two axes."""
    def fn(a):
        _square("eigvalsh", a)
        return ember.linalg.eigvalsh(a)

    return op(fn, (as_tf(tensor),), name=name or "SelfAdjointEigV2")


def cross(a, b, name: str | None = None) -> Tensor:
    """The cross products of the 3-vectors in the last axis of ``a`` and ``b`` (of one shape)."""
    a, b = as_tf(a), as_tf(b)
    for t in (a, b):
        if t.shape is not None and (not len(t.shape) or t.shape[-1] not in (None, 3)):
            raise ValueError(f"tf.cross: the last dimension must be 3, got '{t.name}' of shape {list(t.shape)}")
    if a.shape is not None and b.shape is not None and (len(a.shape) != len(b.shape) or any(
            x is not None and y is not None and x != y for x, y in zip(a.shape, b.shape))):
        raise ValueError(f"tf.cross: a and b must have one shape, got {list(a.shape)} and {list(b.shape)}")
    return op(lambda x, y: ember.linalg.cross(x, y, dim=-1), (a, b), name=name or "Cross")


def expm(input, name: str | None = None) -> Tensor:
    """The matrix exponential of the square matrices in the last two axes."""
    def fn(a):
        _square("expm", a)
        return ember.linalg.matrix_exp(a)

    return op(fn, (as_tf(input),), name=name or "MatrixExponential")


def logdet(matrix, name: str | None = None) -> Tensor:
    """log(det(matrix)) of Hermitian positive-definite matrices, from their Cholesky factors."""
    def fn(a):
        _square("logdet", a)
        diagonal = ember.diagonal(ember.linalg.cholesky(a), 0, -2, -1)
        return 2.0 * ember.sum(ember.log(ember.real(diagonal) if a.dtype.kind == "c" else diagonal), axis=-1)

    return op(fn, (as_tf(matrix),), name=name or "logdet")


def matvec(a, b, transpose_a: builtins.bool = False, adjoint_a: builtins.bool = False,
           a_is_sparse: builtins.bool = False, b_is_sparse: builtins.bool = False, name: str | None = None) -> Tensor:
    """``a @ b`` for matrices ``a`` and vectors ``b`` (the last axis), ``a`` transposed or adjoint first if asked;
    the sparsity hints change nothing, as they change only TF's choice of kernel."""
    if transpose_a and adjoint_a:
        raise ValueError("tf.linalg.matvec: only one of transpose_a and adjoint_a can be True")

    def fn(m, v):
        _matrices("matvec", m)
        if adjoint_a:
            m = _adjoint(m)
        elif transpose_a:
            m = ember.swapaxes(m, -1, -2)
        return ember.squeeze(ember.matmul(m, ember.unsqueeze(v, -1)), -1)

    return op(fn, (as_tf(a), as_tf(b)), name=name or "MatVec")


def adjoint(matrix, name: str | None = None) -> Tensor:
    """The conjugate transpose of the matrices in the last two axes."""
    def fn(a):
        _matrices("adjoint", a)
        return _adjoint(a)

    return op(fn, (as_tf(matrix),), name=name or "adjoint")


def lu(input, output_idx_type=None, name: str | None = None):
    """``(lu, p)``: L (unit lower, below the diagonal) and U (upper) packed in one matrix, and the permutation
    ``p`` (``output_idx_type``, int32 by default) with ``input[..., p, :] = L @ U``, partial pivoting as TF-1's."""
    index_dtype = int32 if output_idx_type is None else as_tf_dtype(output_idx_type)
    if index_dtype not in (int32, int64):
        raise TypeError(f"tf.linalg.lu: output_idx_type must be int32 or int64, got {index_dtype}")

    def parts(a):
        _square("lu", a)
        p, lower, upper = ember.linalg.lu(a)
        packed = lower - ember.eye(a.shape[-1], dtype=a.dtype) + upper
        return packed, ember.cast(ember.argmax(p, axis=-2), index_dtype)

    return builtins.tuple(_outputs("lu", parts, 2, as_tf(input), name or "Lu"))
