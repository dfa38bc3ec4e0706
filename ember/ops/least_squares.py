"""``linalg.lstsq``, ``linalg.matrix_rank`` and ``linalg.cond``, composed from the decompositions (no op records of
their own, so their gradients are those of ``pinv``, ``svdvals``, ``inv_ex`` and the norms: PyTorch's).

``lstsq`` fills its results as PyTorch's CPU drivers do: the solution is the minimum-norm one (gelsd's, through the
pseudo-inverse with singular values at most ``rcond`` times the largest counted as zero); ``rank`` for every driver
but 'gels'; ``singular_values`` for 'gelsd' and 'gelss'; ``residuals`` (the squared column norms of A X - B) for
every driver but 'gelsy', when m > n and every matrix has full rank (in a graph, where the rank is not known while
it is built, whenever m > n).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember.ops.autocast import switched_off, widened
from ember.ops.convert import as_tensor
from ember.ops.decompositions import _matrices, eigvalsh, pinv, svdvals
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import abs, gt, maximum, where
from ember.ops.indexing import getitem
from ember.ops.linalg import matmul
from ember.ops.lu import inv_ex
from ember.ops.matrix_functions import matrix_norm
from ember.ops.reduction import amax, sum
from ember.ops.shape import squeeze, unsqueeze

LstsqResult = namedtuple("linalg_lstsq", "solution residuals rank singular_values")
LstsqResult.__doc__ = "``lstsq(A, B)``: the least-squares solution and what the driver reports with it."

_DRIVERS = (None, "gels", "gelsy", "gelsd", "gelss")


def _default_rtol(a: TensorLike) -> float:
    return float(np.finfo(a.dtype).eps) * max(a.shape[-2:])


def _driver_rtol(a: TensorLike, rcond: float | None, driver: str) -> float:
    """The rank cutoff (relative to the largest singular value) LAPACK's driver applies for ``rcond``, which
    PyTorch passes on unchanged: each driver reads a value outside its range its own way."""
    if rcond is None or driver == "gels":  # (gels: QR, full rank assumed, takes no rcond: PyTorch ignores it)
        return _default_rtol(a)
    rcond = float(rcond)
    eps = float(np.finfo(a.dtype).eps)
    if driver == "gelsd" and not 0 < rcond < 1:
        return eps / 2  # (xLALSD's own: LAPACK's eps, half NumPy's)
    if driver == "gelss" and rcond < 0:
        return eps
    if driver == "gelsy" and rcond < 0:
        return 0.0  # (every column's condition estimate is below 1 / rcond)
    return rcond


def _rank_of_values(values: TensorLike, atol, rtol) -> TensorLike:
    """How many of ``values`` (..., k), largest first or not, exceed ``max(atol, rtol * largest)``."""
    if values.shape[-1] == 0:
        return sum(gt(values, 0.0), -1)
    largest = amax(values, -1, True)
    scaled = _per_matrix(rtol, values) * largest
    cutoff = scaled if atol is None else maximum(_per_matrix(atol, values), scaled)
    return sum(gt(values, cutoff), -1)


def _per_matrix(tol, values: TensorLike):
    """A tolerance beside ``values`` (..., k): a tensor holds one per matrix, so it gains the values' last axis."""
    return unsqueeze(as_tensor(tol, values), -1) if isinstance(tol, TensorLike) else tol


def matrix_rank(a, tol=None, hermitian: bool = False, *, atol=None, rtol=None) -> TensorLike:
    """The numerical rank of each matrix (int64), as ``torch.linalg.matrix_rank``: the singular values (with
    ``hermitian``, the absolute eigenvalues of the symmetric matrix's lower triangle) above
    ``max(atol, rtol * largest)``; ``rtol`` defaults to ``eps * max(m, n)`` unless ``atol`` is given above zero.
    ``tol`` (PyTorch's older spelling) is ``atol`` with ``rtol=0``.

    >>> ember.linalg.matrix_rank(ember.ones(3, 3))  # 1
    """
    if tol is not None:
        if atol is not None or rtol is not None:
            raise ValueError("matrix_rank: give tol, or atol and rtol, not both")
        atol, rtol = tol, 0.0
    a = _matrices("matrix_rank", a, square=bool(hermitian))
    if rtol is None:  # eps * max(m, n) where atol is not above 0 (per matrix for a tensor atol, as PyTorch's)
        if isinstance(atol, TensorLike):
            rtol = where(gt(atol, 0.0), 0.0, _default_rtol(a))
        else:
            rtol = 0.0 if atol is not None and float(atol) > 0 else _default_rtol(a)
    values = abs(eigvalsh(a)) if hermitian else svdvals(a)
    return _rank_of_values(values, atol, rtol)


_COND_ORDERS = (None, "fro", "nuc", np.inf, -np.inf, 1, -1, 2, -2)


def cond(a, p=None) -> TensorLike:
    """The condition number of each matrix in the norm ``p``, as ``torch.linalg.cond``: None or 2 (the largest over
    the smallest singular value, any shape), -2 (its inverse), or 'fro', 'nuc', inf, -inf, 1, -1
    (``norm(A) * norm(inv(A))``, square matrices; inf for a singular one)."""
    if p not in _COND_ORDERS:
        raise ValueError(f"cond: p must be one of None, 'fro', 'nuc', inf, -inf, 1, -1, 2, -2, got {p!r}")
    a = _matrices("cond", a, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        values = svdvals(a)
        if values.shape[-1] == 0:  # matrices with a zero side: 0, as PyTorch's
            return sum(values, axis=-1)
        first, last = getitem(values, (Ellipsis, 0)), getitem(values, (Ellipsis, -1))
        return first / last if p != -2 else last / first
    if a.shape[-1] == 0:  # matrices with no elements: 0, as PyTorch's (the -1 and -inf norms have no value)
        return matrix_norm(a, "fro")
    inverse, info = inv_ex(a)
    singular = gt(info, 0)
    # a singular matrix's inverse holds infs and NaNs, which the nuclear norm's SVD refuses (for the whole batch)
    inverse = where(unsqueeze(unsqueeze(singular, -1), -1), 0.0, inverse)
    value = matrix_norm(a, p) * matrix_norm(inverse, p)
    return where(singular, float("inf"), value)


def lstsq(a, b, rcond: float | None = None, *, driver: str | None = None) -> LstsqResult:
    """The least-squares solution X of ``A X = B`` for A (..., m, n) and B (..., m, k) (or (..., m): a vector, when B
    has one dimension less than A), batch dimensions broadcast, as ``torch.linalg.lstsq`` (see the module docstring for
    the drivers' results); ``rcond`` (default ``eps * max(m, n)``) sets the rank cutoff ('gels' ignores it; one
    outside the driver's range, such as NumPy's old -1, means the driver's machine epsilon, as LAPACK's).

    >>> a, b = ember.randn(5, 3, dtype=ember.float64), ember.randn(5, 2, dtype=ember.float64)
    >>> x = ember.linalg.lstsq(a, b, driver="gelsd").solution  # (3, 2)
    """
    if driver not in _DRIVERS:
        raise ValueError(f"lstsq: driver must be one of {list(_DRIVERS)}, got {driver!r}")
    a, (b,) = _matrices("lstsq", a, square=False), widened(as_tensor(b))
    with switched_off(a):  # (its products in float32 too, as PyTorch's autocast runs lstsq)
        return _lstsq(a, b, rcond, driver)


def _lstsq(a: TensorLike, b: TensorLike, rcond: float | None, driver: str | None) -> LstsqResult:
    if b.dtype != a.dtype:
        raise TypeError(f"lstsq: A and B must have one dtype, got {a.dtype} and {b.dtype}")
    vector = b.ndim == a.ndim - 1  # (PyTorch's lstsq rule, by the number of dimensions alone)
    if vector:
        b = unsqueeze(b, -1)
    if b.ndim < 2 or b.shape[-2] != a.shape[-2]:
        raise ValueError(f"lstsq: expects A (*, m, n) and B (*, m, k) or (*, m), got shapes {list(a.shape)} and "
                         f"{list(b.shape if not vector else b.shape[:-1])}")
    driver = driver or "gelsy"
    m, n = a.shape[-2:]
    rtol = _driver_rtol(a, rcond, driver)
    x = matmul(pinv(a, rtol=rtol), b)
    empty = as_tensor(np.zeros((0,), a.dtype), a)
    values = svdvals(a)
    rank = (as_tensor(np.zeros((0,), np.int64), a) if driver == "gels" else _rank_of_values(values, None, rtol))
    residuals = empty
    if m > n and driver != "gelsy" and _full_rank(a, values, rtol, driver):
        difference = matmul(a, x) - b
        residuals = sum(difference * difference, -2)
    singular_values = values if driver in ("gelsd", "gelss") else empty
    return LstsqResult(squeeze(x, -1) if vector else x, residuals, rank, singular_values)


def _full_rank(a: TensorLike, values: TensorLike, rtol: float, driver: str) -> bool:
    """Whether every matrix has rank n (gels assumes it; a graph being built cannot tell, and says yes)."""
    if driver == "gels" or getattr(a, "symbolic", False):
        return True
    s = np.asarray(values.data)
    return bool(np.all((s > rtol * s[..., :1]).sum(-1) == a.shape[-1]))
