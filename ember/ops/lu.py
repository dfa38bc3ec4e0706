"""LU factorization with partial pivoting, with PyTorch's gradients: ``linalg.lu_factor`` / ``lu_factor_ex`` (the
packed ``LU`` and 1-based int32 ``pivots``, LAPACK's getrf convention), ``linalg.lu`` (P, L, U), ``lu_unpack``,
``linalg.lu_solve``, and ``inv_ex`` / ``solve_ex`` (with getrf's ``info``) composed from them.

NumPy has no LU, so the factorization is written here on ``xp``: one step per column over the whole batch, the
pivot the first row of largest magnitude (getrf's choice), the trailing rows updated by one outer product. A zero
pivot is not divided by: the factorization goes on and ``info`` names its 1-based column, as getrf's.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ember.ops import dispatch
from ember.ops.arrange import tril, triu
from ember.ops.autocast import switched_off, widened
from ember.ops.convert import as_tensor
from ember.ops.decompositions import (
    LinAlgError,
    _check_matrices,
    _cubic_cost,
    _factored,
    _matrices,
    _mT,
    _one_factorization,
    _part_infer,
    _vector_rhs,
)
from ember.ops.dispatch import TensorLike
from ember.ops.indexing import getitem
from ember.ops.join import cat
from ember.ops.linalg import matmul
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, describe, format_shape, shape_error
from ember.ops.shape import unsqueeze
from ember.ops.triangular import identities_like, solve_triangular


def _result(name: str, fields: str, doc: str):
    result = namedtuple(name, fields)  # like torch.return_types.<name>
    result.__doc__ = doc
    return result


LuFactorResult = _result("linalg_lu_factor", "LU pivots", "``lu_factor(A)``: packed L and U, 1-based row swaps.")
LuFactorExResult = _result("linalg_lu_factor_ex", "LU pivots info",
                           "``lu_factor_ex(A)``: ``lu_factor``'s results and getrf's info (0, or the first zero "
                           "pivot).")
LuResult = _result("linalg_lu", "P L U", "``lu(A)``: A = P L U.")
LuUnpackResult = _result("lu_unpack", "P L U", "``lu_unpack(LU, pivots)``: A = P L U.")
InvExResult = _result("linalg_inv_ex", "inverse info", "``inv_ex(A)``: the inverse and getrf's info.")
SolveExResult = _result("linalg_solve_ex", "result info", "``solve_ex(A, B)``: the solution and getrf's info.")


def lu_kernel(xp, a):
    """Packed LU (..., m, n), 1-based int32 pivots (..., k) and int32 info (...) of ``a``, k = min(m, n)."""
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    count = math.prod(batch)  # not -1: a reshape cannot infer it when a side is 0
    lu = a.reshape((count, m, n)).copy()
    pivots = xp.empty((count, k), dtype=np.int32)
    info = xp.zeros(count, dtype=np.int32)
    every = xp.arange(count)
    with np.errstate(invalid="ignore"):
        for j in range(k):
            p = xp.argmax(xp.abs(lu[:, j:, j]), axis=1) + j
            pivots[:, j] = p + 1
            moved = p != j
            if moved.any():
                which, to = every[moved], p[moved]
                row = lu[which, j, :].copy()
                lu[which, j, :] = lu[which, to, :]
                lu[which, to, :] = row
            pivot = lu[:, j, j]
            zero = pivot == 0
            if zero.any():
                info[(info == 0) & zero] = j + 1
                pivot = xp.where(zero, 1, pivot)  # (the column below is zero too: nothing to scale)
            if j + 1 < m:
                lu[:, j + 1:, j] /= pivot[:, None]
                if j + 1 < n:
                    lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:]
    return lu.reshape(a.shape), pivots.reshape(batch + (k,)), info.reshape(batch)


# --- lu_factor: two ops over one factorization ------------------------------------------------------------------
# The packed LU is differentiable; pivots and info, integers, are the parts of a second op with no gradient (their
# Tensors never require one). Within one call of the functions below, the three forwards share one factorization.


_PARTS = ("LU", "pivots", "info")


def _lu_forward(xp, x, *, part="LU"):
    return _factored(x, "lu", lambda: lu_kernel(xp, x))[_PARTS.index(part)]


def _lu_infer(x, *, part="LU"):
    if part not in _PARTS:
        raise ValueError(f"lu_factor: part must be one of {list(_PARTS)}, got {part!r}")
    _check_matrices("lu_factor", [x], square=False)
    m, n = x.shape[-2:]
    batch = tuple(x.shape[:-2])
    if part == "LU":
        return Spec(tuple(x.shape), x.dtype)
    if part == "info":
        return Spec(batch, np.dtype(np.int32))
    return Spec(batch + ((None if m is None or n is None else min(m, n)),), np.dtype(np.int32))


def _lu_grad(p, low, up, g_low, g_up):
    """The gradient for A = P L U (L (m, k) unit lower, U (k, n) upper) from those of L's strict lower part and
    U's upper one: P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T when square, with the wide (U = [U1 U2]) and tall
    (L = [L1; L2]) parts entering as PyTorch's rule has them."""
    m, n = low.shape[-2], up.shape[-1]
    if m == n:
        inner = tril(matmul(_mT(low), g_low), -1) + triu(matmul(g_up, _mT(up)))
        left = solve_triangular(_mT(low), inner, upper=True, unitriangular=True)
        return matmul(p, solve_triangular(_mT(up), left, upper=False, left=False))
    if m < n:
        up1, up2 = getitem(up, (Ellipsis, slice(None, m))), getitem(up, (Ellipsis, slice(m, None)))
        g1, g2 = getitem(g_up, (Ellipsis, slice(None, m))), getitem(g_up, (Ellipsis, slice(m, None)))
        inner = tril(matmul(_mT(low), g_low) - matmul(g2, _mT(up2)), -1) + triu(matmul(g1, _mT(up1)))
        first = solve_triangular(_mT(up1), inner, upper=False, left=False)
        return matmul(p, solve_triangular(_mT(low), cat([first, g2], -1), upper=True, unitriangular=True))
    low1, low2 = getitem(low, (Ellipsis, slice(None, n), slice(None))), getitem(low, (Ellipsis, slice(n, None),
                                                                                      slice(None)))
    g1, g2 = (getitem(g_low, (Ellipsis, slice(None, n), slice(None))),
              getitem(g_low, (Ellipsis, slice(n, None), slice(None))))
    inner = tril(matmul(_mT(low1), g1), -1) + triu(matmul(g_up, _mT(up)) - matmul(_mT(low2), g2))
    top = solve_triangular(_mT(low1), inner, upper=True, unitriangular=True)
    return matmul(p, solve_triangular(_mT(up), cat([top, g2], -2), upper=False, left=False))


def _lu_vjp(ctx, g):
    a = ctx.inputs[0]
    k = min(a.shape[-2:])
    p, low, up = lu_unpack(*_factor("lu_factor", a, True)[:2])
    g_low = getitem(tril(g, -1), (Ellipsis, slice(None), slice(None, k)))
    g_up = getitem(triu(g), (Ellipsis, slice(None, k), slice(None)))
    return (_lu_grad(p, low, up, g_low, g_up),)


LU_FACTOR = defop("lu_factor", forward=_lu_forward, infer=_part_infer("lu_factor", _lu_infer, ("LU",)),
                  vjp=_lu_vjp, cost=_cubic_cost, onnx=NO_ONNX)
LU_PIVOTS = defop("lu_pivots", forward=_lu_forward, infer=_part_infer("lu_pivots", _lu_infer, ("pivots", "info")),
                  vjp=NON_DIFFERENTIABLE, cost=_cubic_cost, onnx=NO_ONNX)


def _pivot_permutation(xp, pivots, *, dtype):
    """P (..., m, m) with P^T A the rows of A after getrf's swaps (m = the pivots' length; see ``lu_permutation``)."""
    k = pivots.shape[-1]
    count = math.prod(pivots.shape[:-1])
    flat = pivots.reshape((count, k)).astype(np.int64) - 1
    order = xp.broadcast_to(xp.arange(k), (count, k)).copy()
    every = xp.arange(count)
    for j in range(k):
        to = flat[:, j]
        row = order[:, j].copy()
        order[:, j] = order[every, to]
        order[every, to] = row
    p = xp.zeros((count, k, k), dtype=dtype)
    p[every[:, None], order, xp.arange(k)[None, :]] = 1  # P[order[i], i] = 1: (P^T A)[i] = A[order[i]]
    return p.reshape(pivots.shape[:-1] + (k, k))


def _permutation_forward(xp, pivots, *, m, dtype):
    if pivots.size and bool(((pivots < 1) | (pivots > m)).any()):  # (NumPy's indexing would wrap a 0 or -1 round)
        raise ValueError(f"lu_permutation: the pivots (of lu_unpack, lu_solve) must lie in 1..{m}, LU's rows "
                         f"counted from 1 as lu_factor gives them, got {int(pivots.min())}..{int(pivots.max())}")
    if m > pivots.shape[-1]:  # a tall matrix: the rows past its k pivots stay where they are
        extra = xp.broadcast_to(xp.arange(pivots.shape[-1] + 1, m + 1, dtype=pivots.dtype),
                                pivots.shape[:-1] + (m - pivots.shape[-1],))
        pivots = xp.concatenate([pivots, extra], -1)
    return _pivot_permutation(xp, pivots, dtype=np.dtype(dtype))


def _permutation_infer(pivots, *, m, dtype):
    if pivots.dtype != np.dtype(np.int32) or pivots.ndim < 1:
        raise TypeError(f"lu_unpack (lu_permutation): LU_pivots must be int32 (..., k), got "
                        f"{pivots.dtype}{format_shape(pivots.shape)}")
    if m.__class__ is not int or m < 0:
        raise ValueError(f"lu_unpack (lu_permutation): m must be a non-negative int, got {m!r}")
    if pivots.shape[-1] is not None and pivots.shape[-1] > m:
        raise ValueError(f"lu_unpack (lu_permutation): {pivots.shape[-1]} pivots for a matrix of {m} rows")
    return Spec(tuple(pivots.shape[:-1]) + (m, m), np.dtype(dtype))


LU_PERMUTATION = defop(
    "lu_permutation", forward=_permutation_forward, infer=_permutation_infer, vjp=NON_DIFFERENTIABLE,
    cost=lambda out, pivots, **attrs: Cost(0, out.nbytes or 0), onnx=NO_ONNX)


# --- the public functions --------------------------------------------------------------------------------------


def _factor(name: str, a, pivot: bool) -> tuple:
    if pivot is not True:
        raise ValueError(f"{name}: only pivot=True is available (LU without pivoting is not, as on PyTorch's CPU)")
    a = _matrices(name, a, square=False)
    with _one_factorization():
        return (dispatch.apply(LU_FACTOR, (a,)), dispatch.apply(LU_PIVOTS, (a,), {"part": "pivots"}),
                dispatch.apply(LU_PIVOTS, (a,), {"part": "info"}))


def lu_factor_ex(a, *, pivot: bool = True, check_errors: bool = False) -> LuFactorExResult:
    """``(LU, pivots, info)`` of each matrix (..., m, n), as ``torch.linalg.lu_factor_ex``: LU holds L below the
    diagonal (its unit diagonal implied) and U on and above it; ``pivots`` (..., min(m, n)) are getrf's 1-based row
    swaps (int32); ``info`` is 0, or the 1-based column of the first zero pivot (U singular). ``check_errors``
    raises ``LinAlgError`` for such a matrix (eagerly)."""
    lu, pivots, info = _factor("lu_factor_ex", a, pivot)
    if check_errors:
        _raise_if_singular("lu_factor_ex", info)
    return LuFactorExResult(lu, pivots, info)


def _raise_if_singular(name: str, info: TensorLike) -> None:
    if getattr(info, "symbolic", False):
        return  # a graph value: no numbers to check
    codes = np.asarray(info.numpy())
    if codes.any():
        index = int(np.flatnonzero(codes.reshape(-1))[0])
        where = f" (batch element {index})" if codes.ndim else ""
        column = int(codes.reshape(-1)[index])
        raise LinAlgError(f"{name}: U[{column - 1},{column - 1}] is zero{where}: the matrix is singular")


def lu_factor(a, *, pivot: bool = True) -> LuFactorResult:
    """``(LU, pivots)``, as ``torch.linalg.lu_factor``; a singular matrix (a zero pivot) raises ``LinAlgError``
    (eagerly), ``lu_factor_ex`` returns its ``info`` instead.

    >>> lu, pivots = ember.linalg.lu_factor(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))  # pivots [2, 2]
    """
    lu, pivots, info = _factor("lu_factor", a, pivot)
    _raise_if_singular("lu_factor", info)
    return LuFactorResult(lu, pivots)


def torch_lu(a, pivot: bool = True, get_infos: bool = False) -> tuple:
    """PyTorch's older ``torch.lu``/``Tensor.lu``: ``(LU, pivots)``, with ``get_infos`` ``(LU, pivots, infos)``, as
    ``lu_factor_ex`` (a singular matrix is no error: its info is the column of the first zero pivot)."""
    lu, pivots, info = lu_factor_ex(a, pivot=pivot)
    return (lu, pivots, info) if get_infos else (lu, pivots)


def torch_lu_solve(b, lu_data, lu_pivots) -> TensorLike:
    """PyTorch's older ``torch.lu_solve(b, LU_data, LU_pivots)``/``Tensor.lu_solve``: ``lu_solve`` with B first."""
    return lu_solve(lu_data, lu_pivots, b)


def _check_pivots(name: str, lu: TensorLike, pivots: TensorLike) -> None:
    """Refuse pivots that are not lu_factor's for ``lu``: (*, min(m, n)) with LU's batch dimensions; others would
    permute by a part of the swaps, or by another matrix's (PyTorch refuses them or reads past their end)."""
    lu_shape, shape = tuple(lu.shape), tuple(pivots.shape)
    expected = lu_shape[:-2] + ((None if None in lu_shape[-2:] else min(lu_shape[-2:])),)
    if len(shape) != len(expected) or any(a is not None and b is not None and a != b for a, b in zip(shape, expected)):
        raise shape_error(name, [Spec(lu_shape, lu.dtype), Spec(shape, pivots.dtype)],
                          "pivots must be (*, min(m, n)) for LU (*, m, n), one batch as lu_factor gives them")


def lu_unpack(lu_data, lu_pivots, unpack_data: bool = True, unpack_pivots: bool = True) -> LuUnpackResult:
    """``torch.lu_unpack``: P (..., m, m), L (..., m, k) and U (..., k, n) from ``lu_factor``'s results, A = P L U;
    a part not unpacked is an empty tensor."""
    lu, pivots = as_tensor(lu_data), as_tensor(lu_pivots)
    _check_matrices("lu_unpack", [Spec(tuple(lu.shape), lu.dtype)], square=False)
    m, n = lu.shape[-2:]
    k = min(m, n)
    empty = as_tensor(np.zeros((0,), lu.dtype), lu)
    p = low = up = empty
    if unpack_pivots:
        _permutation_infer(Spec(tuple(pivots.shape), pivots.dtype), m=m, dtype=lu.dtype)
        _check_pivots("lu_unpack", lu, pivots)
        p = dispatch.apply(LU_PERMUTATION, (pivots,), {"m": m, "dtype": np.dtype(lu.dtype)})
    if unpack_data:
        identity = as_tensor(np.eye(m, k, dtype=lu.dtype), lu)
        low = tril(getitem(lu, (Ellipsis, slice(None), slice(None, k))), -1) + identity
        up = triu(getitem(lu, (Ellipsis, slice(None, k), slice(None))))
    return LuUnpackResult(p, low, up)


def lu(a, *, pivot: bool = True) -> LuResult:
    """``(P, L, U)`` with ``A = P L U``, as ``torch.linalg.lu``: P a permutation (m, m), L (m, k) unit lower
    triangular, U (k, n) upper triangular; gradients flow through L and U (a singular A is fine)."""
    lu_data, pivots, _ = _factor("lu", a, pivot)
    return LuResult(*lu_unpack(lu_data, pivots))


def lu_solve(lu_data, pivots, b, *, left: bool = True, adjoint: bool = False) -> TensorLike:
    """X with ``A X = B`` for ``A = P L U`` given by ``lu_factor``'s results, as ``torch.linalg.lu_solve``:
    ``adjoint`` solves ``A^T X = B``, ``left=False`` solves ``X A = B`` (or ``X A^T = B``); batch dimensions
    broadcast. Gradients flow to LU (its triangles) and B."""
    lu_data, b = widened(as_tensor(lu_data), as_tensor(b))  # (float32 in an autocast region, as PyTorch's)
    with switched_off(lu_data):  # (the permutation's product would lower B)
        return _lu_solve(lu_data, pivots, b, left, adjoint)


def _lu_solve(lu_data: TensorLike, pivots, b: TensorLike, left: bool, adjoint: bool) -> TensorLike:
    specs = [Spec(tuple(lu_data.shape), lu_data.dtype), Spec(tuple(b.shape), b.dtype)]
    _check_matrices("lu_solve", specs)
    if lu_data.dtype != b.dtype:
        raise TypeError(f"lu_solve: LU and B must have one dtype, got {describe(specs)}")
    if b.ndim < 2 or b.shape[-2 if left else -1] != lu_data.shape[-1]:
        raise shape_error("lu_solve", specs, "B must be (*, n, k) for LU (*, n, n) ((*, k, n) with left=False)")
    _check_pivots("lu_solve", lu_data, as_tensor(pivots))
    if not left:  # X A = B is A^T X^T = B^T
        return _mT(_lu_solve(lu_data, pivots, _mT(b), True, not adjoint))
    p, low, up = lu_unpack(lu_data, pivots)
    if adjoint:  # A^T = U^T L^T P^T
        y = solve_triangular(_mT(low), solve_triangular(_mT(up), b, upper=False), upper=True, unitriangular=True)
        return matmul(p, y)
    y = solve_triangular(low, matmul(_mT(p), b), upper=False, unitriangular=True)
    return solve_triangular(up, y, upper=True)


def inv_ex(a, *, check_errors: bool = False) -> InvExResult:
    """``(inverse, info)``, as ``torch.linalg.inv_ex``: ``info`` is getrf's (0, or the first zero pivot, where the
    inverse holds inf or NaN); ``check_errors`` raises ``LinAlgError`` instead (eagerly)."""
    a = _matrices("inv_ex", a)
    lu_data, pivots, info = _factor("inv_ex", a, True)
    if check_errors:
        _raise_if_singular("inv_ex", info)
    return InvExResult(lu_solve(lu_data, pivots, identities_like(a)), info)


def solve_ex(a, b, *, left: bool = True, check_errors: bool = False) -> SolveExResult:
    """``(result, info)`` of ``A X = B`` (``X A = B`` with ``left=False``), as ``torch.linalg.solve_ex``: B (..., n)
    or (..., n, k) as ``linalg.solve`` takes it, ``info`` getrf's."""
    a, b = _matrices("solve_ex", a), as_tensor(b)
    vector = left and _vector_rhs(a, b)
    lu_data, pivots, info = _factor("solve_ex", a, True)
    if check_errors:
        _raise_if_singular("solve_ex", info)
    x = lu_solve(lu_data, pivots, unsqueeze(b, -1) if vector else b, left=left)
    return SolveExResult(getitem(x, (Ellipsis, 0)) if vector else x, info)
