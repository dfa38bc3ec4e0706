"""Matrix decompositions and the functions of a square matrix, with PyTorch's gradients: ``det``, ``slogdet``,
``inv``, ``solve``, ``cholesky``, ``qr``, ``eigh``, ``svd`` and ``pinv`` as primitives over batches of matrices
(the last two dimensions; float32 and float64, as ``torch.linalg`` on the CPU).

A decomposition with several results is one op with a ``part`` attribute (``qr``'s ``"Q"`` or ``"R"``), one node per
result: each part's vjp is the decomposition's gradient with the other parts' gradients zero, so a loss of several
parts gets the sum, which is the whole gradient (the rules are linear in the incoming gradients). The vjps are
written with the op functions (triangles, diagonals and identity matrices are constants of the input's size), so
they run eagerly, build graph nodes and compose for higher-order gradients; they recompute the other parts of a
decomposition from the input. Within one eager call of ``svd`` or ``eigh`` the parts' forwards share one LAPACK call
(``_one_factorization``); a compiled graph runs each part's node on its own (the same bits). ``svdvals`` and
``eigvalsh`` are parts of their own, the values alone, cheaper.

As PyTorch's, the gradients of ``eigh``'s eigenvectors and ``svd``'s singular vectors are defined only for distinct
eigenvalues (singular values): they divide by the differences, and are infinite or NaN when two coincide (or, for
``svd`` of a non-square matrix, when a singular value is zero). ``eigvalsh`` and ``svdvals`` have gradients
everywhere.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from contextlib import contextmanager

import numpy as np

from ember.backend.dtypes import float32, float64
from ember.ops import dispatch
from ember.ops.arrange import tril
from ember.ops.autocast import widened
from ember.ops.convert import as_tensor, cast
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import gt, where
from ember.ops.indexing import getitem
from ember.ops.infer import broadcast_shapes, differ
from ember.ops.join import cat
from ember.ops.linalg import matmul
from ember.ops.reduction import prod
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, describe, format_shape, shape_error
from ember.ops.shape import broadcast_to, swapaxes, unsqueeze


def _result(name: str, fields: str, doc: str):
    result = namedtuple(name, fields)  # like torch.return_types.<name>
    result.__doc__ = doc
    return result


SlogdetResult = _result("linalg_slogdet", "sign logabsdet",
                        "``slogdet(A)``: the sign and log absolute value of det(A).")


class LinAlgError(RuntimeError):
    """A matrix the op cannot factor or invert (singular, not positive-definite), as ``torch.linalg.LinAlgError``."""


_FLOATS = (np.dtype(float32), np.dtype(float64))


def _check_matrices(name: str, specs, square: bool = True) -> None:
    """Float32/float64 inputs of at least two dimensions, the first (when ``square``) square where known."""
    for spec in specs:
        if spec.dtype not in _FLOATS:
            raise TypeError(f"{name}: expects float32 or float64 matrices, got {describe(specs)}")
    x = specs[0]
    if x.ndim < 2:
        raise shape_error(name, specs, "expects a matrix or a batch of matrices (at least 2 dimensions)")
    if square and differ(x.shape[-1], x.shape[-2]):
        raise shape_error(name, specs, "expects square matrices (the last two dimensions equal)")


def _check_choice(name: str, key: str, value, allowed) -> None:
    if value.__class__ not in (str, bool) or value not in allowed:
        raise ValueError(f"{name}: {key} must be one of {list(allowed)}, got {value!r}")


def _check_number(name: str, key: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: {key} must be a number, got {value!r}")


def _matrices(name: str, x, square: bool = True) -> TensorLike:
    """``x`` as a tensor, checked as the shape rule checks it (eagerly the kernels would take integer matrices);
    in an autocast region a half-precision one in float32, as PyTorch's autocast runs the factorizations."""
    (x,) = widened(as_tensor(x))
    _check_matrices(name, [Spec(tuple(x.shape), x.dtype)], square)
    return x


def _cubic_cost(out: Spec, x: Spec, *rest, **attrs) -> Cost:
    """About n^3 multiply-adds per matrix (LU, Cholesky, QR, eigen and singular value decompositions)."""
    m, n = (d or 1 for d in x.shape[-2:])
    batch = (x.size or m * n) // (m * n) if m * n else 0
    io = (x.nbytes or 0) + (out.nbytes or 0) + sum(s.nbytes or 0 for s in rest)
    return Cost(2 * batch * m * n * min(m, n), io)


def _min(a, b):
    return None if a is None or b is None else min(a, b)


def _raise_failure(xp, name: str, x, works, problem: str):
    """A LinAlgError naming the op, the shape and, in a batch, the first matrix ``works`` fails on."""
    element = ""
    if x.ndim > 2:
        matrices = x.reshape((-1,) + x.shape[-2:])
        for index in range(matrices.shape[0]):
            try:
                works(matrices[index])
            except np.linalg.LinAlgError:
                element = f" (batch element {index})"
                break
    raise LinAlgError(f"{name}: the input of shape {format_shape(x.shape)} is {problem}{element}")


def _mT(x: TensorLike) -> TensorLike:
    return swapaxes(x, -1, -2)


def _eye(n: int, like: TensorLike) -> TensorLike:
    return as_tensor(np.eye(n, dtype=like.dtype), like)


def _diag_embed(v: TensorLike) -> TensorLike:
    """A batch of vectors (..., k) as diagonal matrices (..., k, k)."""
    return unsqueeze(v, -1) * _eye(v.shape[-1], v)


def _batch_infer(name: str):
    def infer(x, **attrs):
        _check_matrices(name, [x])
        return Spec(tuple(x.shape[:-2]), x.dtype)

    return infer


def _same_infer(name: str):
    def infer(x, **attrs):
        _check_matrices(name, [x])
        return Spec(tuple(x.shape), x.dtype)

    return infer


_SHARED = threading.local()


@contextmanager
def _one_factorization():
    """Inside, the forwards of one decomposition's parts over the same input array share one factorization: the
    first part's forward factors and keeps the result, the next ones read it. The scope is one call of ``svd`` or
    ``eigh``, so a later call (or an array written in between) always factors anew."""
    outer = getattr(_SHARED, "slot", None)
    _SHARED.slot = {}
    try:
        yield
    finally:
        _SHARED.slot = outer


def _factored(x, key, factor):
    """``factor()``, or inside ``_one_factorization`` the result an earlier part's forward got for ``x`` and ``key``."""
    slot = getattr(_SHARED, "slot", None)
    if slot is None:
        return factor()
    kept = slot.get(key)
    if kept is not None and kept[0] is x:
        return kept[1]
    result = factor()
    slot[key] = (x, result)
    return result


# --- det, slogdet ----------------------------------------------------------------------------------------------


def _det_vjp(ctx, g):
    # g times the cofactor matrix det * inv(A)^T; a singular matrix (det exactly 0, LU's zero pivot) gets it from
    # the SVD A = U diag(S) Vh instead, as PyTorch's: det(U) det(Vh) U diag(prod_{j != i} S_j) Vh, nonzero at
    # rank n - 1 (its inverse is taken of the identity, then multiplied by that 0)
    a, d = ctx.inputs[0], ctx.output
    singular = unsqueeze(unsqueeze(d == 0, -1), -1)
    safe = where(singular, _eye(a.shape[-1], a), a)
    cofactors = unsqueeze(unsqueeze(d, -1), -1) * _mT(inv(safe))
    if d.symbolic or bool(singular.any()):
        u, s, vh = svd(a)
        eye = _eye(a.shape[-1], a)
        others = prod(where(eye == 1, 1.0, unsqueeze(s, -2)), axis=-1)  # prod_{j != i} S_j, exact with zeros
        sign = unsqueeze(unsqueeze(det(u) * det(vh), -1), -1)
        cofactors = where(singular, sign * matmul(u * unsqueeze(others, -2), vh), cofactors)
    return (unsqueeze(unsqueeze(g, -1), -1) * cofactors,)


def _holds_nan(xp, x):
    """Which matrices of the batch ``x`` hold a NaN (LAPACK's pivoting may pass over it: NumPy's det is then 0 and
    its inv raises "singular", where PyTorch gives NaN)."""
    return xp.isnan(x).any(axis=(-2, -1))


def _det_forward(xp, x):
    return xp.where(_holds_nan(xp, x), xp.nan, xp.linalg.det(x)).astype(x.dtype)


DET = defop("det", forward=_det_forward, infer=_batch_infer("det"), vjp=_det_vjp,
            cost=_cubic_cost, onnx="Det", saves_output=True)


def _slogdet_forward(xp, x, *, part):
    sign, logabsdet = xp.linalg.slogdet(x)
    # a matrix holding NaN: sign 0 and logabsdet NaN, as PyTorch's
    result = xp.where(_holds_nan(xp, x), 0.0 if part == "sign" else xp.nan, sign if part == "sign" else logabsdet)
    return result.astype(x.dtype)


def _slogdet_vjp(ctx, g):
    if ctx.attrs["part"] == "sign":  # piecewise constant
        return (None,)
    # inv(A)^T: infinite at a singular matrix in PyTorch; here inv's LinAlgError names it
    return (unsqueeze(unsqueeze(g, -1), -1) * _mT(inv(ctx.inputs[0])),)


def _slogdet_infer(x, *, part):
    _check_choice("slogdet", "part", part, ("sign", "logabsdet"))
    return _batch_infer("slogdet")(x)


SLOGDET = defop("slogdet", forward=_slogdet_forward, infer=_slogdet_infer, vjp=_slogdet_vjp,
                cost=_cubic_cost, onnx=NO_ONNX)


# --- inv, solve --------------------------------------------------------------------------------------------------


def _without_nan(xp, x, solve):
    """``solve(x)`` where each matrix of ``x`` holding NaN gives NaN, as PyTorch's (it is replaced by the identity
    for the call)."""
    bad = _holds_nan(xp, x)
    if not bad.any():
        return solve(x)
    bad = bad[..., None, None]
    return xp.where(bad, xp.nan, solve(xp.where(bad, xp.eye(x.shape[-1], dtype=x.dtype), x))).astype(x.dtype)


def _inv_forward(xp, x):
    try:
        return _without_nan(xp, x, xp.linalg.inv)
    except np.linalg.LinAlgError:
        _raise_failure(xp, "inv", x, xp.linalg.inv, "singular: it has no inverse")


def _inv_vjp(ctx, g):
    t = _mT(ctx.output)
    return (-matmul(t, matmul(g, t)),)


INV = defop("inv", forward=_inv_forward, infer=_same_infer("inv"), vjp=_inv_vjp, cost=_cubic_cost, onnx=NO_ONNX,
            saves_output=True)


def _solve_forward(xp, a, b):
    try:
        return _without_nan(xp, a, lambda m: xp.linalg.solve(m, b))
    except np.linalg.LinAlgError:
        _raise_failure(xp, "solve", a, xp.linalg.inv, "singular: the system has no unique solution")


def _solve_infer(a, b):
    specs = [a, b]
    _check_matrices("solve", specs)
    if a.dtype != b.dtype:
        raise TypeError(f"solve: A and B must have one dtype, got {describe(specs)}")
    if b.ndim != a.ndim or differ(a.shape[-1], b.shape[-2]) or True in [differ(p, q) for p, q in
                                                                        zip(a.shape[:-2], b.shape[:-2])]:
        raise shape_error("solve", specs, "expects A (*, n, n) and B (*, n, k) with the same batch dimensions")
    batch = tuple(q if p is None else p for p, q in zip(a.shape[:-2], b.shape[:-2]))
    return Spec(batch + tuple(b.shape[-2:]), b.dtype)


def _solve_vjp(ctx, g):
    a = ctx.inputs[0]
    at = _mT(a)  # (solve's own dtype check is for its callers: a gradient may come in another dtype)
    gb = _solve_matrices(at, g, [Spec(tuple(at.shape), at.dtype), Spec(tuple(g.shape), g.dtype)])
    ga = -matmul(gb, _mT(ctx.output)) if ctx.needs[0] else None
    return ga, gb


SOLVE = defop("solve", forward=_solve_forward, infer=_solve_infer, vjp=_solve_vjp, cost=_cubic_cost, onnx=NO_ONNX,
              saves_output=True)


# --- cholesky ----------------------------------------------------------------------------------------------------


def _checked_cholesky(xp, x):
    """``xp.linalg.cholesky``, raising as LAPACK's potrf fails where a NaN reaches the diagonal (NumPy's carries it
    through: a NaN is not above 0, so PyTorch's cholesky refuses the matrix)."""
    low = xp.linalg.cholesky(x)
    if x.size and bool(xp.isnan(xp.diagonal(low, axis1=-2, axis2=-1)).any()):
        raise np.linalg.LinAlgError("a NaN on the diagonal")
    return low


def _read_triangle(xp, x, upper: bool):
    """The matrices whose lower triangle holds the one the factorization reads: with ``upper``, PyTorch's (LAPACK's
    uplo='U') reads the upper triangle."""
    return xp.swapaxes(x, -1, -2) if upper else x


def _cholesky_forward(xp, x, *, upper):
    x = _read_triangle(xp, x, upper)
    try:
        low = _checked_cholesky(xp, x)
    except np.linalg.LinAlgError:
        _raise_failure(xp, "cholesky", x, lambda m: _checked_cholesky(xp, m), "not positive-definite")
    return xp.ascontiguousarray(xp.swapaxes(low, -1, -2)) if upper else low


def _cholesky_vjp(ctx, g):
    # gA = L^-T P L^-1 with P = Phi(L^T gL) made symmetric (half the diagonal): PyTorch's rule
    low, g_low = ctx.output, g
    if ctx.attrs["upper"]:
        low, g_low = _mT(low), _mT(g)
    m = tril(matmul(_mT(low), g_low))
    p = (m + _mT(tril(m, -1))) * 0.5
    left = solve(_mT(low), p)  # L^-T P
    return (_mT(solve(_mT(low), _mT(left))),)


# Reads the lower triangle, or with upper=True the upper one and returns U = L^T (PyTorch's)
def _cholesky_infer(x, *, upper):
    _check_choice("cholesky", "upper", upper, (False, True))
    return _same_infer("cholesky")(x)


CHOLESKY = defop("cholesky", forward=_cholesky_forward, infer=_cholesky_infer, vjp=_cholesky_vjp,
                 cost=_cubic_cost, onnx=NO_ONNX, saves_output=True)


def det(x) -> TensorLike:
    """The determinant of each square matrix of ``x`` (..., n, n), as ``torch.linalg.det``."""
    return dispatch.apply(DET, (_matrices("det", x),))


def inv(x) -> TensorLike:
    """The inverse of each square matrix of ``x``, as ``torch.linalg.inv``; a singular matrix raises
    ``LinAlgError`` naming the op, the shape and the batch element."""
    return dispatch.apply(INV, (_matrices("inv", x),))


def _vector_rhs(a: TensorLike, b: TensorLike) -> bool:
    """``torch.linalg.solve``'s rule: B is a (batch of) vector(s) when 1-D or of A's batch shape plus n."""
    return b.ndim == 1 or (b.ndim == a.ndim - 1 and True not in [differ(p, q) for p, q in zip(b.shape, a.shape)])


def solve(a, b, *, left: bool = True) -> TensorLike:
    """The solution X of ``A X = B`` for square A (..., n, n) and B (..., n, k) or (..., n), batch dimensions
    broadcast, as ``torch.linalg.solve`` (``left=False``: ``X A = B``, B (..., k, n) only). A singular A raises
    ``LinAlgError``."""
    a, b = widened(as_tensor(a), as_tensor(b))
    specs = [Spec(a.shape, a.dtype), Spec(b.shape, b.dtype)]
    _check_matrices("solve", specs)
    if a.dtype != b.dtype:  # (here, not only in the op's infer, which an eager solve reaches only on failure)
        raise TypeError(f"solve: A and B must have one dtype, got {describe(specs)}")
    vector = _vector_rhs(a, b)
    if not left:
        if vector:  # (transposed, a batch of vectors would be read as one matrix, or the reverse)
            raise shape_error("solve", specs, "with left=False (X A = B), B must be (*, k, n), not a vector")
        return _mT(_solve_matrices(_mT(a), _mT(b), specs))
    x = _solve_matrices(a, unsqueeze(b, -1) if vector else b, specs)
    return getitem(x, (Ellipsis, 0)) if vector else x


def _solve_matrices(a: TensorLike, b: TensorLike, specs) -> TensorLike:
    """``solve`` of A (..., n, n) and B (..., n, k), their batch dimensions broadcast."""
    if b.ndim < 2:
        raise shape_error("solve", specs, "B must be (*, n) or (*, n, k)")
    if b.ndim != a.ndim or True in [differ(p, q) for p, q in zip(a.shape[:-2], b.shape[:-2])]:
        try:
            batch = tuple(np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
        except (ValueError, TypeError):  # (an unknown size, None, among them)
            raise shape_error("solve", specs, "the batch dimensions of A and B cannot be broadcast together") from None
        a, b = broadcast_to(a, batch + tuple(a.shape[-2:])), broadcast_to(b, batch + tuple(b.shape[-2:]))
    return dispatch.apply(SOLVE, (a, b))


def cholesky(x, *, upper: bool = False) -> TensorLike:
    """The Cholesky factor L (lower triangular, ``A = L L^T``) of each symmetric positive-definite matrix, as
    ``torch.linalg.cholesky`` (``upper=True``: ``U = L^T``). Only the lower triangle is read (with ``upper``, the
    upper one, as PyTorch's); a matrix that is not positive-definite raises ``LinAlgError``."""
    return dispatch.apply(CHOLESKY, (_matrices("cholesky", x),), {"upper": bool(upper)})


def slogdet(x) -> SlogdetResult:
    """``(sign, logabsdet)`` of each square matrix's determinant, as ``torch.linalg.slogdet``: the sign (0 for a
    singular matrix, whose logabsdet is -inf) and the log of the absolute value, which stays finite where
    ``det`` under- or overflows. Only logabsdet has a gradient."""
    x = _matrices("slogdet", x)
    return SlogdetResult(dispatch.apply(SLOGDET, (x,), {"part": "sign"}),
                         dispatch.apply(SLOGDET, (x,), {"part": "logabsdet"}))


# --- cholesky_ex: L and LAPACK's info, without an error ----------------------------------------------------------


CholeskyExResult = _result("linalg_cholesky_ex", "L info",
                           "``cholesky_ex(A)``: the factor and potrf's info (0, or the order of the first leading "
                           "minor that is not positive-definite).")


def _unblocked_cholesky(a):
    """potf2 on one matrix that is not positive-definite: the factor as far as it gets (the failing diagonal entry
    left unrooted, the rest of the lower triangle as read) and the 1-based order of the failing minor."""
    low = np.tril(a)
    for j in range(a.shape[-1]):
        pivot = low[j, j] - low[j, :j] @ low[j, :j]
        if not pivot > 0:
            low[j, j] = pivot
            return low, j + 1
        low[j, j] = pivot = np.sqrt(pivot)
        low[j + 1:, j] = (low[j + 1:, j] - low[j + 1:, :j] @ low[j, :j]) / pivot
    return low, 0


def _cholesky_ex_kernel(xp, x):
    info = xp.zeros(x.shape[:-2], dtype=np.int32)
    try:
        return _checked_cholesky(xp, x), info
    except np.linalg.LinAlgError:
        pass
    n = x.shape[-1]
    matrices = x.reshape((-1, n, n))
    low, codes = xp.empty_like(matrices), info.reshape(-1)
    for index in range(matrices.shape[0]):
        try:
            low[index] = _checked_cholesky(xp, matrices[index])
        except np.linalg.LinAlgError:
            low[index], codes[index] = _unblocked_cholesky(np.asarray(matrices[index]))
    return low.reshape(x.shape), info


def _cholesky_ex_forward(xp, x, *, upper, part="L"):
    low, info = _factored(x, ("cholesky_ex", upper), lambda: _cholesky_ex_kernel(xp, _read_triangle(xp, x, upper)))
    if part == "info":
        return info
    return xp.ascontiguousarray(xp.swapaxes(low, -1, -2)) if upper else low


def _cholesky_ex_infer(x, *, upper, part="L"):
    _check_choice("cholesky_ex", "part", part, ("L", "info"))
    _check_choice("cholesky_ex", "upper", upper, (False, True))
    spec = _cholesky_infer(x, upper=upper)
    return spec if part == "L" else Spec(tuple(x.shape[:-2]), np.dtype(np.int32))


def _part_infer(name: str, infer, parts: tuple):
    """``infer`` for an op that takes only ``parts`` of a factorization (the differentiable or the integer ones)."""
    def checked(x, **attrs):
        _check_choice(name, "part", attrs.get("part", parts[0]), parts)
        try:
            return infer(x, **attrs)
        except (ValueError, TypeError) as exc:
            if name in str(exc):
                raise
            raise type(exc)(f"{name}: {exc}") from None  # (the shared rule names the factorization)

    return checked


# L is differentiable, info (an integer) is the part of a second op with no gradient
CHOLESKY_EX = defop("cholesky_ex", forward=_cholesky_ex_forward,
                    infer=_part_infer("cholesky_ex", _cholesky_ex_infer, ("L",)), vjp=_cholesky_vjp,
                    cost=_cubic_cost, onnx=NO_ONNX, saves_output=True)
CHOLESKY_INFO = defop("cholesky_info", forward=_cholesky_ex_forward,
                      infer=_part_infer("cholesky_info", _cholesky_ex_infer, ("info",)), vjp=NON_DIFFERENTIABLE,
                      cost=_cubic_cost, onnx=NO_ONNX)


def cholesky_ex(x, *, upper: bool = False, check_errors: bool = False) -> CholeskyExResult:
    """``(L, info)``, as ``torch.linalg.cholesky_ex``: where a matrix is not positive-definite, ``info`` is the
    order of its first leading minor that is not and L holds the factorization as far as it got (potrf's), instead
    of an error; ``check_errors`` raises ``LinAlgError`` then (eagerly). L's gradient is ``cholesky``'s."""
    x = _matrices("cholesky_ex", x)
    with _one_factorization():
        low = dispatch.apply(CHOLESKY_EX, (x,), {"upper": bool(upper)})
        info = dispatch.apply(CHOLESKY_INFO, (x,), {"upper": bool(upper), "part": "info"})
    if check_errors and not info.symbolic and np.asarray(info.data).any():
        _raise_failure(np, "cholesky_ex", _read_triangle(np, np.asarray(x.data), upper),
                       lambda m: _checked_cholesky(np, m), "not positive-definite")
    return CholeskyExResult(low, info)


# --- qr ------------------------------------------------------------------------------------------------------


QrResult = _result("linalg_qr", "Q R", "``qr(A)``: Q with orthonormal columns and upper triangular R, A = Q R.")


_QR_MODES = ("reduced", "complete", "r")


def _qr_forward(xp, x, *, mode, part):
    if part == "R" and mode == "r":
        return xp.linalg.qr(x, mode="r")
    q, r = xp.linalg.qr(x, mode=mode)
    return q if part == "Q" else r


def _qr_infer(x, *, mode, part):
    _check_choice("qr", "mode", mode, _QR_MODES)
    _check_choice("qr", "part", part, ("R",) if mode == "r" else ("Q", "R"))
    _check_matrices("qr", [x], square=False)
    m, n = x.shape[-2:]
    k = m if mode == "complete" else _min(m, n)
    batch = tuple(x.shape[:-2])
    return Spec(batch + ((m, k) if part == "Q" else (k, n)), x.dtype)


def _copyltu(m: TensorLike) -> TensorLike:
    """The lower triangle of m copied to the upper one (a symmetric matrix)."""
    return tril(m) + _mT(tril(m, -1))


def _qr_grad(q, r, gq, gr):
    """PyTorch's QR gradient for A (m, n) with m >= n (square R): (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q."""
    m = None
    if gr is not None:
        m = matmul(r, _mT(gr))
    if gq is not None:
        m = -matmul(_mT(gq), q) if m is None else m - matmul(_mT(gq), q)
    b = matmul(q, _copyltu(m))
    if gq is not None:
        b = b + gq
    return _mT(solve(r, _mT(b)))


def _qr_vjp(ctx, g):
    a = ctx.inputs[0]
    mode, part = ctx.attrs["mode"], ctx.attrs["part"]
    rows, cols = a.shape[-2:]
    if mode == "r":
        raise RuntimeError("qr: the gradient depends on Q, which mode='r' does not compute; use mode='reduced'")
    if mode == "complete" and rows > cols:
        raise RuntimeError(f"qr: not differentiable with mode='complete' and more rows than columns (shape "
                           f"{format_shape(a.shape)})")
    q, r = qr(a)
    gq, gr = (g, None) if part == "Q" else (None, g)
    if rows >= cols:
        return (_qr_grad(q, r, gq, gr),)
    # a wide A = Q [X Y]: X = Q R1 is square; Y = Q R2 adds Y gR2^T to X's gQ and Q gR2 to Y's gradient
    r1, y = getitem(r, (Ellipsis, slice(None, rows))), getitem(a, (Ellipsis, slice(rows, None)))
    gr1 = gr2 = None
    if gr is not None:
        gr1, gr2 = getitem(gr, (Ellipsis, slice(None, rows))), getitem(gr, (Ellipsis, slice(rows, None)))
        gq = matmul(y, _mT(gr2)) if gq is None else gq + matmul(y, _mT(gr2))
    gy = matmul(q, gr2) if gr2 is not None else y * 0.0
    return (cat([_qr_grad(q, r1, gq, gr1), gy], -1),)


QR = defop("qr", forward=_qr_forward, infer=_qr_infer, vjp=_qr_vjp, cost=_cubic_cost, onnx=NO_ONNX)

def qr(x, mode: str = "reduced") -> QrResult:
    """``(Q, R)`` with ``A = Q R``, as ``torch.linalg.qr``: ``mode`` "reduced" (Q (m, k), R (k, n), k = min(m, n)),
    "complete" (Q (m, m)) or "r" (R alone; Q is empty). Gradients for "reduced" and for "complete" with m <= n."""
    x = _matrices("qr", x, square=False)
    if mode not in _QR_MODES:
        raise ValueError(f"qr: mode must be one of {_QR_MODES}, got {mode!r}")
    r = dispatch.apply(QR, (x,), {"mode": mode, "part": "R"})
    if mode == "r":
        return QrResult(as_tensor(np.zeros((0,), x.dtype), x), r)
    return QrResult(dispatch.apply(QR, (x,), {"mode": mode, "part": "Q"}), r)


# --- eigh ----------------------------------------------------------------------------------------------------


EighResult = _result("linalg_eigh", "eigenvalues eigenvectors",
                     "``eigh(A)``: the eigenvalues in ascending order and the eigenvectors as columns.")


def _eigh_forward(xp, x, *, uplo, part):
    if part == "eigvalsh":
        return xp.linalg.eigvalsh(x, UPLO=uplo)
    values, vectors = _factored(x, ("eigh", uplo), lambda: xp.linalg.eigh(x, UPLO=uplo))
    return values if part == "values" else vectors


def _eigh_infer(x, *, uplo, part):
    _check_choice("eigh", "uplo", uplo, ("L", "U"))
    _check_choice("eigh", "part", part, ("values", "vectors", "eigvalsh"))
    _check_matrices("eigh", [x])
    return Spec(tuple(x.shape) if part == "vectors" else tuple(x.shape[:-1]), x.dtype)


def _eigh_vjp(ctx, g):
    a = ctx.inputs[0]
    values, vectors = eigh(a, ctx.attrs["uplo"])
    if ctx.attrs["part"] != "vectors":  # V diag(g) V^T
        return (matmul(vectors * unsqueeze(g, -2), _mT(vectors)),)
    # V (skew(V^T gV) / E) V^T with E_ij = w_j - w_i (1 on the diagonal, where the skew part is 0)
    product = matmul(_mT(vectors), g)
    skew = (product - _mT(product)) * 0.5
    gaps = unsqueeze(values, -2) - unsqueeze(values, -1) + _eye(a.shape[-1], a)
    return (matmul(vectors, matmul(skew / gaps, _mT(vectors))),)


# Reads one triangle (UPLO "L", the default, or "U"), as PyTorch and NumPy
EIGH = defop("eigh", forward=_eigh_forward, infer=_eigh_infer, vjp=_eigh_vjp, cost=_cubic_cost, onnx=NO_ONNX)


def _uplo(name: str, uplo: str) -> str:
    """'L' or 'U', of either case as PyTorch takes them."""
    if not isinstance(uplo, str) or uplo.upper() not in ("L", "U"):
        raise ValueError(f"{name}: UPLO must be 'L' or 'U', got {uplo!r}")
    return uplo.upper()


def eigh(x, UPLO: str = "L") -> EighResult:  # noqa: N803  (PyTorch's name)
    """``(eigenvalues, eigenvectors)`` of each symmetric matrix (its lower triangle, or the upper with
    ``UPLO="U"``), eigenvalues ascending, as ``torch.linalg.eigh``. The eigenvectors' gradient needs distinct
    eigenvalues (see the module docstring)."""
    x = _matrices("eigh", x)
    uplo = _uplo("eigh", UPLO)
    with _one_factorization():
        return EighResult(dispatch.apply(EIGH, (x,), {"uplo": uplo, "part": "values"}),
                          dispatch.apply(EIGH, (x,), {"uplo": uplo, "part": "vectors"}))


def eigvalsh(x, UPLO: str = "L") -> TensorLike:  # noqa: N803
    """The eigenvalues of each symmetric matrix in ascending order, as ``torch.linalg.eigvalsh``."""
    return dispatch.apply(EIGH, (_matrices("eigvalsh", x),), {"uplo": _uplo("eigvalsh", UPLO), "part": "eigvalsh"})


# --- svd -----------------------------------------------------------------------------------------------------


SvdResult = _result("linalg_svd", "U S Vh", "``svd(A)``: A = U diag(S) Vh, the singular values S descending.")


def _svd_forward(xp, x, *, full_matrices, part):
    if part == "svdvals":
        return xp.linalg.svd(x, compute_uv=False)
    u, s, vh = _factored(x, ("svd", full_matrices), lambda: xp.linalg.svd(x, full_matrices=full_matrices))
    return u if part == "U" else s if part == "S" else vh


def _svd_infer(x, *, full_matrices, part):
    _check_choice("svd", "full_matrices", full_matrices, (False, True))
    _check_choice("svd", "part", part, ("U", "S", "Vh", "svdvals"))
    _check_matrices("svd", [x], square=False)
    m, n = x.shape[-2:]
    k = _min(m, n)
    batch = tuple(x.shape[:-2])
    if part in ("S", "svdvals"):
        return Spec(batch + (k,), x.dtype)
    if part == "U":
        return Spec(batch + (m, m if full_matrices else k), x.dtype)
    return Spec(batch + (n if full_matrices else k, n), x.dtype)


def _svd_grad(u, s, vh, gu, gs, gvh):
    """PyTorch's SVD gradient for reduced U (m, k), S (k), Vh (k, n); any of gU, gS, gVh may be None."""
    m, n = u.shape[-2], vh.shape[-1]
    v = _mT(vh)
    if gu is None and gvh is None:
        return matmul(u * unsqueeze(gs, -2), vh)
    s2 = s * s
    gaps = unsqueeze(s2, -2) - unsqueeze(s2, -1) + _eye(s.shape[-1], s)  # E_jk = s_k^2 - s_j^2, 1 on the diagonal
    inner = None
    if gu is not None:
        product = matmul(_mT(u), gu)
        inner = ((product - _mT(product)) / gaps) * unsqueeze(s, -2)
    gv = None
    if gvh is not None:
        gv = _mT(gvh)
        product = matmul(vh, gv)
        term = unsqueeze(s, -1) * ((product - _mT(product)) / gaps)
        inner = term if inner is None else inner + term
    if gs is not None:
        inner = inner + _diag_embed(gs)
    if m > n and gu is not None:  # the part of gU outside U's span
        scaled = gu / unsqueeze(s, -2)
        return matmul(matmul(u, inner) + scaled - matmul(u, matmul(_mT(u), scaled)), vh)
    if m < n and gv is not None:
        scaled = _mT(gv / unsqueeze(s, -2))
        return matmul(u, matmul(inner, vh) + scaled - matmul(matmul(scaled, v), vh))
    return matmul(u, matmul(inner, vh))


def _svd_vjp(ctx, g):
    a = ctx.inputs[0]
    full, part = ctx.attrs["full_matrices"], ctx.attrs["part"]
    u, s, vh = svd(a, full_matrices=False)
    k = s.shape[-1]
    if part == "U":
        # full_matrices: the columns past k are any orthonormal completion; PyTorch ignores their gradient
        gu = getitem(g, (Ellipsis, slice(None, k))) if full and g.shape[-1] != k else g
        return (_svd_grad(u, s, vh, gu, None, None),)
    if part == "Vh":
        gvh = getitem(g, (Ellipsis, slice(None, k), slice(None))) if full and g.shape[-2] != k else g
        return (_svd_grad(u, s, vh, None, None, gvh),)
    return (_svd_grad(u, s, vh, None, g, None),)


SVD = defop("svd", forward=_svd_forward, infer=_svd_infer, vjp=_svd_vjp, cost=_cubic_cost, onnx=NO_ONNX)


def _no_driver(name: str, driver) -> None:
    """PyTorch's ``driver=`` picks a cuSOLVER routine; None (its default, and all it takes on the CPU) here."""
    if driver is not None:
        raise RuntimeError(f"{name}: driver= picks a cuSOLVER routine, which Ember does not choose between (PyTorch "
                           f"takes it on CUDA inputs only); leave it None, got {driver!r}")


def svd(x, full_matrices: bool = True, *, driver: str | None = None) -> SvdResult:
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, as ``torch.linalg.svd``: S descending; ``full_matrices``
    gives square U (m, m) and Vh (n, n), else U (m, k) and Vh (k, n), k = min(m, n). The gradients of U and Vh
    need distinct (and, for a non-square A, non-zero) singular values (see the module docstring). ``driver`` must
    be None (PyTorch's default)."""
    _no_driver("svd", driver)
    x = _matrices("svd", x, square=False)
    full = bool(full_matrices)
    with _one_factorization():
        return SvdResult(dispatch.apply(SVD, (x,), {"full_matrices": full, "part": "U"}),
                         dispatch.apply(SVD, (x,), {"full_matrices": full, "part": "S"}),
                         dispatch.apply(SVD, (x,), {"full_matrices": full, "part": "Vh"}))


def svdvals(x, *, driver: str | None = None) -> TensorLike:
    """The singular values of each matrix, descending, as ``torch.linalg.svdvals`` (``driver`` must be None)."""
    _no_driver("svdvals", driver)
    return dispatch.apply(SVD, (_matrices("svdvals", x, square=False),), {"full_matrices": False, "part": "svdvals"})


# --- pinv ----------------------------------------------------------------------------------------------------


def _pseudo_inverse(xp, x, atol, rtol, hermitian: bool):
    """x's pseudo-inverse from its SVD, the singular values at most ``max(atol, rtol * largest)`` zeroed (numbers,
    or arrays of one per matrix, shaped (..., 1)); ``hermitian`` reads the lower triangle only, as PyTorch's (eigh)."""
    if hermitian:
        x = xp.tril(x) + xp.swapaxes(xp.tril(x, -1), -1, -2)
    u, s, vh = xp.linalg.svd(x, full_matrices=False)
    largest = s[..., :1] if s.shape[-1] else s
    cutoff = xp.maximum(xp.asarray(atol, s.dtype), rtol * largest)
    kept = s > cutoff
    inverse = xp.where(kept, 1 / xp.where(kept, s, 1), 0).astype(x.dtype)
    return xp.matmul(xp.swapaxes(vh, -1, -2) * inverse[..., None, :], xp.swapaxes(u, -1, -2))


def _pinv_forward(xp, x, *, atol, rtol, hermitian=False):
    return _pseudo_inverse(xp, x, atol, rtol, hermitian)


def _pinv_infer(x, *, atol, rtol, hermitian=False):
    _check_number("pinv", "atol", atol)
    _check_number("pinv", "rtol", rtol)
    _check_choice("pinv", "hermitian", hermitian, (False, True))
    _check_matrices("pinv", [x], square=hermitian)
    return Spec(tuple(x.shape[:-2]) + (x.shape[-1], x.shape[-2]), x.dtype)


def _pinv_vjp(ctx, g):
    # d(A+) = -A+ dA A+ + A+ A+^T dA^T (I - A A+) + (I - A+ A) dA^T A+^T A+ (constant rank), transposed
    a, p = ctx.inputs[0], ctx.output
    pt = _mT(p)
    rows, cols = a.shape[-2:]
    first = -matmul(pt, matmul(g, pt))
    second = matmul(_eye(rows, a) - matmul(a, p), matmul(_mT(g), matmul(p, pt)))
    third = matmul(matmul(pt, p), matmul(_mT(g), _eye(cols, a) - matmul(p, a)))
    return (first + second + third,)


PINV = defop("pinv", forward=_pinv_forward, infer=_pinv_infer, vjp=_pinv_vjp, cost=_cubic_cost, onnx=NO_ONNX,
             saves_output=True)


def _pinv_per_matrix_infer(x, atol, rtol, *, hermitian=False):
    specs = [x, atol, rtol]
    _check_choice("pinv_per_matrix", "hermitian", hermitian, (False, True))
    _check_matrices("pinv_per_matrix", [x], square=hermitian)
    if atol.dtype != x.dtype or rtol.dtype != x.dtype or tuple(atol.shape) != tuple(x.shape[:-2]) \
            or tuple(rtol.shape) != tuple(x.shape[:-2]):
        raise shape_error("pinv_per_matrix", specs, "expects atol and rtol of A's dtype, one per matrix")
    return Spec(tuple(x.shape[:-2]) + (x.shape[-1], x.shape[-2]), x.dtype)


PINV_PER_MATRIX = defop(
    "pinv_per_matrix",
    forward=lambda xp, x, atol, rtol, *, hermitian=False: _pseudo_inverse(xp, x, atol[..., None], rtol[..., None],
                                                                         hermitian),
    infer=_pinv_per_matrix_infer, vjp=lambda ctx, g: _pinv_vjp(ctx, g) + (None, None), cost=_cubic_cost,
    onnx=NO_ONNX, saves_output=True)


def _pinv_per_matrix(x: TensorLike, atol, rtol, hermitian: bool) -> TensorLike:
    """``pinv`` with tensor tolerances: one per matrix, broadcast with x's batch dimensions (which they may extend,
    as PyTorch's); rtol's default is per matrix too (0 where atol is above 0)."""
    atol = cast(as_tensor(0.0 if atol is None else atol, x), x.dtype)
    if rtol is None:
        rtol = where(gt(atol, 0.0), 0.0, float(np.finfo(x.dtype).eps) * max(x.shape[-2:]))
    rtol = cast(as_tensor(rtol, x), x.dtype)
    try:
        batch = broadcast_shapes("pinv", [Spec(tuple(x.shape[:-2]), x.dtype), Spec(tuple(atol.shape), x.dtype),
                                          Spec(tuple(rtol.shape), x.dtype)])
    except ValueError:
        specs = [Spec(tuple(t.shape), t.dtype) for t in (x, atol, rtol)]
        raise shape_error("pinv", specs, "atol and rtol (one per matrix) must broadcast with A's batch "
                                         "dimensions") from None
    x = broadcast_to(x, batch + tuple(x.shape[-2:]))
    return dispatch.apply(PINV_PER_MATRIX, (x, broadcast_to(atol, batch), broadcast_to(rtol, batch)),
                          {"hermitian": hermitian})


def pinv(x, rcond=None, hermitian: bool = False, *, atol=None, rtol=None) -> TensorLike:
    """The Moore-Penrose pseudo-inverse of each matrix, as ``torch.linalg.pinv``: singular values at most
    ``max(atol, rtol * largest)`` count as zero; ``rtol`` defaults to ``eps * max(m, n)`` when ``atol`` is not
    given (or 0), else to 0. Either may be a tensor of one tolerance per matrix; ``rcond`` is PyTorch's older
    spelling of ``rtol``. With ``hermitian``, A is taken as symmetric and only its lower triangle read, as PyTorch's
    (the gradient is A's pseudo-inverse's, as PyTorch's too)."""
    (x,) = widened(as_tensor(x))
    hermitian = bool(hermitian)
    _check_matrices("pinv", [Spec(x.shape, x.dtype)], square=hermitian)
    if rcond is not None:
        if rtol is not None:
            raise ValueError("pinv: give rcond or rtol, not both (rcond is rtol's older name)")
        rtol = rcond
    if isinstance(atol, TensorLike) or isinstance(rtol, TensorLike):
        return _pinv_per_matrix(x, atol, rtol, hermitian)
    if rtol is None:
        rtol = float(np.finfo(x.dtype).eps) * max(x.shape[-2:]) if not atol else 0.0
    return dispatch.apply(PINV, (x,), {"atol": float(atol or 0.0), "rtol": float(rtol), "hermitian": hermitian})
