"""``torch.linalg``'s functions composed from the decompositions and the elementwise ops (no op records of their
own): ``matrix_power``, ``vector_norm``, ``matrix_norm``, ``norm``, ``logdet``, ``linalg.cross``, and the older
top-level spellings ``inverse``, ``pinverse``, ``torch.cholesky``, ``torch.qr`` and ``torch.svd``."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember.backend.dtypes import COMPLEX, FLOATING, as_dtype, result_type
from ember.ops.composed import norm as _vector_p_norm
from ember.ops.convert import as_tensor, cast, promote, to_float
from ember.ops.decompositions import _check_matrices, _mT, cholesky, inv, pinv, qr, slogdet, svd, svdvals
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import abs, lt, where
from ember.ops.infer import as_int, check_axis, differ
from ember.ops.linalg import matmul
from ember.ops.products import cross as _cross
from ember.ops.products import same_rank
from ember.ops.reduction import amax, amin, sum
from ember.ops.registry import Spec, shape_error
from ember.ops.shape import permute, squeeze, unsqueeze

SvdResult = namedtuple("svd", ["U", "S", "V"])  # torch.svd's (V, not Vh)
QrResult = namedtuple("qr", ["Q", "R"])


def matrix_power(x, n: int) -> TensorLike:
    """``x`` multiplied by itself ``n`` times (square matrices, batched), as ``torch.linalg.matrix_power``: n = 0
    gives identity matrices, a negative n powers the inverse. Repeated squaring, so gradients come from matmul."""
    x = as_tensor(x)
    n = as_int("matrix_power", n, "n")
    spec = Spec(x.shape, x.dtype)
    if n < 0:  # (the inverse's float matrices; a power of 0 or more is a product, of any dtype, as PyTorch's)
        _check_matrices("matrix_power", [spec])
    elif x.ndim < 2 or differ(x.shape[-1], x.shape[-2]):
        raise shape_error("matrix_power", [spec], "expects square matrices (a tensor of at least 2 dimensions, the "
                                                  "last two equal)")
    if n == 0:  # identity matrices, connected to x as PyTorch's are (a zero gradient)
        size = x.shape[-1]
        return where(as_tensor(np.ones((size, size), bool), x), as_tensor(np.eye(size, dtype=x.dtype), x), x)
    if n < 0:
        x, n = inv(x), -n
    if n == 3:  # (x @ x) @ x, as PyTorch's (the squaring below gives x @ (x @ x), rounded otherwise)
        return matmul(matmul(x, x), x)
    result = None
    while n:
        if n & 1:
            result = x if result is None else matmul(result, x)
        n >>= 1
        if n:
            x = matmul(x, x)
    return result


def _float_dtype(name: str, x: TensorLike, dtype) -> TensorLike:
    """``x`` (cast to ``dtype`` when given) as a floating or complex tensor; PyTorch's norms keep a complex input
    complex and a real one real, and refuse a ``dtype`` that is not floating or complex, or narrower than the input."""
    kind = "complex" if x.dtype in COMPLEX else "real"
    if dtype is not None:
        dtype = as_dtype(dtype)
        if dtype not in FLOATING and dtype not in COMPLEX:
            raise TypeError(f"{name}: dtype should be floating point or complex, got {dtype} (input {x.dtype})")
        if (dtype in COMPLEX) != (kind == "complex"):
            raise TypeError(f"{name}: dtype should be {kind} for {kind} inputs, got {dtype} for {x.dtype}")
        if result_type(x.dtype, dtype) != dtype:
            raise TypeError(f"{name}: the input's dtype {x.dtype} does not convert to dtype={dtype} without narrowing")
    if kind == "complex":
        return x if dtype is None else cast(x, dtype)
    x = to_float(x, name) if dtype is None else cast(x, dtype)
    if x.dtype not in FLOATING:
        raise TypeError(f"{name}: expects a floating-point tensor, got {x.dtype}")
    return x


def vector_norm(x, ord: float = 2, dim=None, keepdim: bool = False, *, dtype=None) -> TensorLike:  # noqa: A002
    """The vector ``ord``-norm over ``dim`` (all elements, flattened, by default), as ``torch.linalg.vector_norm``:
    ``ord`` 2, 1, inf, -inf, 0 (the count of non-zeros) or any other number. A zero vector's 2-norm has gradient 0."""
    if isinstance(ord, str):
        raise ValueError(f"vector_norm: ord must be a number, got {ord!r}")
    x = _float_dtype("vector_norm", as_tensor(x), dtype)
    return _vector_p_norm(x, ord, None if dim in ((), []) else dim, keepdim)  # (dim=(): every dimension, as PyTorch)


def _two_dims(name: str, x: TensorLike, dim) -> tuple[int, int]:
    if len(tuple(dim)) != 2:
        raise ValueError(f"{name}: dim must name two dimensions, got {dim!r}")
    specs = [Spec(x.shape, x.dtype)]
    first, second = (check_axis(name, d, x.ndim, specs) for d in dim)
    if first == second:
        raise ValueError(f"{name}: dim names dimension {first} twice (shape {list(x.shape)})")
    return first, second


def _to_end(x: TensorLike, first: int, second: int) -> TensorLike:
    """``x`` with the dimensions ``first`` and ``second`` moved to the end, in that order."""
    rest = [d for d in range(x.ndim) if d not in (first, second)]
    order = tuple(rest + [first, second])
    return x if order == tuple(range(x.ndim)) else permute(x, order)


def _kept(value: TensorLike, first: int, second: int, keepdim: bool) -> TensorLike:
    if keepdim:
        for d in sorted((first, second)):
            value = unsqueeze(value, d)
    return value


_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)


def matrix_norm(x, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> TensorLike:  # noqa: A002
    """The matrix norm of the matrices along ``dim``, as ``torch.linalg.matrix_norm``: "fro" (Frobenius), "nuc"
    (the sum of singular values), 2 / -2 (the largest / smallest singular value), 1 / -1 (the largest /
    smallest column sum of absolute values), inf / -inf (the same over rows)."""
    if ord not in _MATRIX_ORDS:
        raise ValueError(f"matrix_norm: ord must be one of 'fro', 'nuc', 1, -1, 2, -2, inf, -inf, got {ord!r}")
    x = _float_dtype("matrix_norm", as_tensor(x), dtype)
    if x.ndim < 2:
        raise ValueError(f"matrix_norm: expects at least 2 dimensions, got shape {list(x.shape)}")
    first, second = _two_dims("matrix_norm", x, dim)
    if ord == "fro":
        return _vector_p_norm(x, 2, (first, second), keepdim)
    if ord in (1, -1, np.inf, -np.inf):  # sum over one dimension, the extreme over the other
        summed, over = (first, second) if ord in (1, -1) else (second, first)
        sums = sum(abs(x), summed, True)
        value = _extreme(sums, over, ord > 0, ord, x)
        return value if keepdim else squeeze(value, (first, second))
    values = svdvals(_to_end(x, first, second))
    if ord == "nuc":
        value = sum(values, -1)
    else:
        value = _extreme(values, -1, ord == 2, ord, x)
        value = squeeze(value, -1)
    return _kept(value, first, second, keepdim)


def _extreme(values: TensorLike, axis: int, largest: bool, ord, x: TensorLike) -> TensorLike:  # noqa: A002
    """The largest (smallest) of ``values`` along ``axis``, kept: 0 for none, a norm's smallest value, as PyTorch's;
    the smallest of none is an error naming the norm."""
    if values.shape[axis] != 0:
        return (amax if largest else amin)(values, axis, True)
    if not largest:
        raise ValueError(f"matrix_norm: the {ord} norm of matrices with no elements has no value (input shape "
                         f"{list(x.shape)})")
    return sum(values, axis, True)  # zeros of the kept shape


def norm(x, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> TensorLike:  # noqa: A002
    """``torch.linalg.norm``: with ``dim`` an int, or ``ord`` None and ``dim`` None (the flattened input), the
    vector norm; with ``dim`` two dimensions, or ``ord`` given for a 2-D input and no ``dim``, the matrix norm
    (``ord`` None meaning "fro"). A number ``ord`` with ``dim`` None needs a 1-D or 2-D input."""
    x = as_tensor(x)
    if isinstance(dim, int) or (dim is not None and len(tuple(dim)) == 1):
        dim = dim if isinstance(dim, int) else tuple(dim)[0]
        return vector_norm(x, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is not None:
        return matrix_norm(x, "fro" if ord is None else ord, tuple(dim), keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(x, 2, None, keepdim, dtype=dtype)
    if x.ndim == 2:
        return matrix_norm(x, ord, (-2, -1), keepdim, dtype=dtype)
    if x.ndim == 1:
        return vector_norm(x, ord, None, keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: with ord={ord!r} and no dim, the input must be 1-D or 2-D, got shape "
                     f"{list(x.shape)}")


def logdet(x) -> TensorLike:
    """The log of each square matrix's determinant, as ``torch.logdet``: NaN for a negative determinant, -inf for
    a singular matrix."""
    sign, logabsdet = slogdet(x)
    return where(lt(sign, 0), float("nan"), logabsdet)


def linalg_cross(a, b, *, dim: int = -1) -> TensorLike:
    """The cross product of 3-vectors along ``dim`` (the last by default), as ``torch.linalg.cross``."""
    a, b = promote(a, b)
    same_rank("linalg.cross", a, b)
    return _cross(a, b, dim)


def torch_cholesky(x, upper: bool = False) -> TensorLike:
    """``torch.cholesky``: the lower (or with ``upper``, upper) Cholesky factor (``linalg.cholesky``)."""
    return cholesky(x, upper=upper)


def inverse(x) -> TensorLike:
    """``torch.inverse``: the inverse of each square matrix (``linalg.inv``)."""
    return inv(x)


def pinverse(x, rcond: float = 1e-15) -> TensorLike:
    """``torch.pinverse``: the pseudo-inverse, singular values at most ``rcond`` times the largest counting as 0."""
    return pinv(x, rtol=rcond)


def torch_qr(x, some: bool = True) -> QrResult:
    """``torch.qr``: ``(Q, R)``, reduced (``some=True``) or complete."""
    q, r = qr(x, "reduced" if some else "complete")
    return QrResult(q, r)


def torch_svd(x, some: bool = True, compute_uv: bool = True) -> SvdResult:
    """``torch.svd``: ``(U, S, V)`` with ``A = U diag(S) V^T`` (V, not Vh), reduced when ``some``; without
    ``compute_uv``, U and V are zero matrices of shapes (m, m) and (n, n) whatever ``some``, as PyTorch's."""
    if not compute_uv:
        x = as_tensor(x)
        m, n = x.shape[-2:]
        s = svdvals(x)
        batch = tuple(x.shape[:-2])
        zeros = (as_tensor(np.zeros(batch + (m, m), x.dtype), x), as_tensor(np.zeros(batch + (n, n), x.dtype), x))
        return SvdResult(zeros[0], s, zeros[1])
    u, s, vh = svd(x, full_matrices=not some)
    return SvdResult(u, s, _mT(vh))

