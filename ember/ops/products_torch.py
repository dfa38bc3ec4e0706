"""PyTorch's other products, composed from ``matmul``, ``outer`` and elementwise ops (their gradients are those
ops'): ``addcmul``, ``addcdiv``, ``mv``, ``addmv``, ``addr``, ``addbmm``, ``inner``, ``vdot``, ``kron``, ``trace``,
``chain_matmul`` (``linalg.multi_dot``: the products in the cheapest order) and the Vandermonde matrices ``vander`` and
``linalg_vander`` (columns from a cumulative product, so a zero entry has a finite gradient)."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import COMPLEX, FLOATING, LOW_PRECISION, bool_, float32
from ember.ops.arrange import flip
from ember.ops.autocast import lowered, unlowered
from ember.ops.complex_parts import conj, real
from ember.ops.convert import as_tensor, cast, promote
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import checked_alpha, lt
from ember.ops.indexing import diagonal, select
from ember.ops.infer import differ
from ember.ops.join import concat
from ember.ops.linalg import dot, matmul
from ember.ops.matrix_chain import multi_dot
from ember.ops.products import _check_ndim, _scaled_sum, bmm, half_precision, in_autocast_dtype, mm, outer, rounded_once
from ember.ops.reduction import cumprod, sum
from ember.ops.shape import reshape, transpose, unsqueeze


def _in_float32(fn, inp, tensor1, tensor2, value):
    """``fn`` of float16 or bfloat16 operands computed in float32 and rounded once, as PyTorch's addcmul and
    addcdiv (step by step, a result near 0 could be off by more than itself); None for other dtypes."""
    inp, tensor1, tensor2 = as_tensor(inp), as_tensor(tensor1), as_tensor(tensor2)
    dtype = promote(promote(inp, tensor1)[0], tensor2)[0].dtype
    if dtype not in LOW_PRECISION:
        return None
    return cast(fn(*(cast(t, float32) for t in (inp, tensor1, tensor2)), value=value), dtype)


def _promoted(name: str, inp, tensor1, tensor2, value) -> tuple:
    """The three operands in the dtype they promote to, and ``value`` checked for it, as PyTorch computes
    addcmul and addcdiv: bfloat16 * bfloat16 is not rounded to bfloat16 when ``inp`` is float16, and
    ``2 * (bool * bool)`` does not widen int8 to int64."""
    inp, tensor1, tensor2 = as_tensor(inp), as_tensor(tensor1), as_tensor(tensor2)
    dtype = promote(promote(inp, tensor1)[0], tensor2)[0].dtype
    operands = tuple(t if t.dtype == dtype else cast(t, dtype) for t in (inp, tensor1, tensor2))
    return operands + (value if value == 1 else checked_alpha(name, dtype, value, "value"),)


def addcmul(inp, tensor1, tensor2, *, value: float = 1) -> TensorLike:
    """``inp + value * tensor1 * tensor2``, broadcast together, as ``torch.addcmul``."""
    wide = _in_float32(addcmul, inp, tensor1, tensor2, value)
    if wide is not None:
        return wide
    inp, tensor1, tensor2, value = _promoted("addcmul", inp, tensor1, tensor2, value)
    product = tensor1 * tensor2
    return inp + (product if value == 1 else value * product)


def addcdiv(inp, tensor1, tensor2, *, value: float = 1) -> TensorLike:
    """``inp + value * tensor1 / tensor2``, broadcast together, as ``torch.addcdiv`` (which refuses integer
    division)."""
    tensor1, tensor2 = as_tensor(tensor1), as_tensor(tensor2)
    inexact = FLOATING | COMPLEX
    if tensor1.dtype not in inexact and tensor2.dtype not in inexact:
        raise TypeError(f"addcdiv: integer division is not supported, got tensor1 {tensor1.dtype} and tensor2 "
                        f"{tensor2.dtype}; give a floating-point tensor")
    wide = _in_float32(addcdiv, inp, tensor1, tensor2, value)
    if wide is not None:
        return wide
    inp, tensor1, tensor2, value = _promoted("addcdiv", inp, tensor1, tensor2, value)
    quotient = tensor1 / tensor2
    return inp + (quotient if value == 1 else value * quotient)


def mv(mat, vec) -> TensorLike:
    """The product of a matrix (n, m) and a vector (m,), shape (n,)."""
    mat, vec = promote(mat, vec)
    _check_ndim("mv", "the matrix", mat, 2)
    _check_ndim("mv", "the vector", vec, 1)
    if differ(mat.shape[1], vec.shape[0]):
        raise ValueError(f"mv: the matrix of shape {list(mat.shape)} and the vector of shape {list(vec.shape)} "
                         "do not fit (matrix columns must equal the vector's size)")
    with unlowered(mat, on_cuda=False):  # (PyTorch's CPU autocast leaves mv in its inputs' dtype)
        return matmul(mat, vec)


def addmv(inp, mat, vec, *, beta: float = 1.0, alpha: float = 1.0) -> TensorLike:
    """``beta * inp + alpha * (mat @ vec)``, inp broadcast (ignored when beta is 0)."""
    with unlowered(as_tensor(mat), on_cuda=False):  # (PyTorch's CPU autocast leaves addmv in its inputs' dtype)
        wide = rounded_once(addmv, inp, mat, vec, beta, alpha)
        if wide is not None:
            return wide
        return _scaled_sum("addmv", as_tensor(inp), mv(mat, vec), beta, alpha)


def addr(inp, vec1, vec2, *, beta: float = 1.0, alpha: float = 1.0) -> TensorLike:
    """``beta * inp + alpha * outer(vec1, vec2)``, inp broadcast (ignored when beta is 0), computed as PyTorch's
    elementwise kernel: the vectors in the dtype all three promote to, and ``(alpha * vec1) * vec2``."""
    inp, vec1, vec2 = as_tensor(inp), as_tensor(vec1), as_tensor(vec2)
    dtype = promote(promote(inp, vec1)[0], vec2)[0].dtype
    vec1, vec2 = (v if v.dtype == dtype else cast(v, dtype) for v in (vec1, vec2))
    if dtype in LOW_PRECISION:  # the kernel's scalars are in the tensors' dtype too (alpha 0.3 is 0.2999 in float16)
        alpha, beta = (float(np.asarray(x, dtype)) if np.asarray(x).dtype.kind in "iuf" else x for x in (alpha, beta))
    if alpha != 1:
        vec1 = vec1 * checked_alpha("addr", dtype, alpha)
    return _scaled_sum("addr", inp, outer(vec1, vec2), beta, 1)


def addbmm(inp, batch1, batch2, *, beta: float = 1.0, alpha: float = 1.0) -> TensorLike:
    """``beta * inp + alpha * sum_i(batch1[i] @ batch2[i])``, inp broadcast (ignored when beta is 0)."""
    stepped = in_autocast_dtype(addbmm, inp, batch1, batch2, beta, alpha)
    if stepped is None:
        stepped = _addbmm_in_steps(inp, batch1, batch2, beta, alpha)
    if stepped is not None:
        return stepped
    # (the sum, float32 under autocast, back in the products' dtype, as PyTorch's addbmm)
    products = bmm(batch1, batch2)
    total = sum(products, 0)
    if products.dtype == bool_:  # (a bool sum counts: the products' OR, bool as the matrix products' own sums)
        total = cast(total, bool_)
    return _scaled_sum("addbmm", as_tensor(inp), lowered(total)[0], beta, alpha)


def _addbmm_in_steps(inp, batch1, batch2, beta, alpha) -> TensorLike | None:
    """addbmm of float16 or bfloat16 operands as PyTorch's: one addmm per matrix of the batches, each computed in
    float32 and rounded (the rounded products summed, then scaled, were an ulp off in places, most elements for
    bfloat16); None for an unknown or empty batch and where ``half_precision`` is."""
    dtype = half_precision(inp, batch1, batch2)
    if dtype is None:
        return None
    inp, batch1, batch2 = as_tensor(inp), as_tensor(batch1), as_tensor(batch2)
    if (batch1.ndim != 3 or batch2.ndim != 3 or not batch1.shape[0] or differ(batch1.shape[0], batch2.shape[0])
            or differ(batch1.shape[2], batch2.shape[1])):
        return None  # (bmm's checks and errors)
    batch1, batch2 = cast(batch1, float32), cast(batch2, float32)
    out = inp
    for i in range(batch1.shape[0]):
        product = matmul(select(batch1, 0, i), select(batch2, 0, i))
        out = cast(_scaled_sum("addbmm", cast(out, float32), product, beta if i == 0 else 1, alpha), dtype)
    return out


def inner(a, b) -> TensorLike:
    """The sum of products over the last dimension of both, shape ``a.shape[:-1] + b.shape[:-1]``; a 0-d operand
    multiplies, as ``torch.inner``."""
    a, b = promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if differ(a.shape[-1], b.shape[-1]):
        raise ValueError(f"inner: the last dimensions differ, shapes {list(a.shape)} and {list(b.shape)}")
    if a.ndim == 1 and b.ndim == 1:  # (torch.dot, which PyTorch's autocast leaves in its inputs' dtype)
        return dot(a, b)
    if b.ndim == 1:
        return matmul(a, b)
    if b.ndim == 2:
        return matmul(a, transpose(b))
    # b's leading dimensions as one: a (..., k) @ (k, rows of b), then those rows unfolded
    out = matmul(a, transpose(reshape(b, (-1, b.shape[-1]))))
    shape = tuple(a.shape[:-1]) + tuple(b.shape[:-1])
    if shape.count(None) > 1:
        raise ValueError(f"inner: at most one unknown (None) size, got shapes {list(a.shape)} and {list(b.shape)}")
    return reshape(out, tuple(-1 if n is None else n for n in shape))


def vdot(a, b) -> TensorLike:
    """The dot product of two 1-D tensors of one size, the first conjugated (``torch.vdot``)."""
    a, b = promote(a, b)
    a = conj(a)
    _check_ndim("vdot", "the first vector", a, 1)
    _check_ndim("vdot", "the second vector", b, 1)
    if differ(a.shape[0], b.shape[0]):
        raise ValueError(f"vdot: the vectors differ in size, shapes {list(a.shape)} and {list(b.shape)}")
    with unlowered(a):  # (PyTorch's autocast leaves vdot in its inputs' dtype)
        return matmul(a, b)


def kron(a, b) -> TensorLike:
    """The Kronecker product: block (i, j, ...) is ``a[i, j, ...] * b``; the operand with fewer dimensions gets
    leading ones, as ``torch.kron``."""
    a, b = promote(a, b)
    ndim = max(a.ndim, b.ndim)
    sa, sb = (1,) * (ndim - a.ndim) + tuple(a.shape), (1,) * (ndim - b.ndim) + tuple(b.shape)
    if None in sa + sb:
        raise ValueError(f"kron: needs known sizes, got shapes {list(a.shape)} and {list(b.shape)}")
    # a's axes interleaved with b's: (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...), then each pair merged
    a = reshape(a, tuple(n for m in sa for n in (m, 1)))
    b = reshape(b, tuple(n for m in sb for n in (1, m)))
    return reshape(a * b, tuple(m * n for m, n in zip(sa, sb)))


def trace(x) -> TensorLike:
    """The sum of a matrix's main diagonal (integers summed in int64, as ``torch.trace``)."""
    x = as_tensor(x)
    _check_ndim("trace", "the input", x, 2)
    return sum(diagonal(x, 0, 0, 1), -1)


def chain_matmul(*matrices) -> TensorLike:
    """The product of two or more matrices in the cheapest order (``torch.chain_matmul``, which
    ``linalg.multi_dot`` replaces); one matrix is returned as it is."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    mats = [as_tensor(m) for m in matrices]
    for i, m in enumerate(mats):
        _check_ndim("chain_matmul", f"matrix {i}", m, 2)
    if len(mats) == 1:
        return mats[0]
    return mm(*mats) if len(mats) == 2 else multi_dot(mats)


def _powers(x: TensorLike, n: int) -> TensorLike:
    """``x[..., None] ** [0, 1, ..., n - 1]`` as the running product of ``[1, x, x, ...]`` (its gradient at x = 0
    is finite; written with broadcasting, so an unknown leading size is fine)."""
    column = unsqueeze(x, -1)
    parts = real(column) if x.dtype in COMPLEX else column
    ones = 1 - cast(lt(parts, parts), x.dtype)  # (x < x is false everywhere, NaN included)
    if n == 1:
        return ones
    repeated = column * as_tensor(np.ones(n - 1, x.dtype), x)
    return cumprod(concat([ones, repeated], -1), -1)


def _size(name: str, n, default) -> int:
    if n is None:
        if default is None:
            raise ValueError(f"{name}: N defaults to the size of the input's last dimension, which is unknown (None) "
                             "while the graph is built; give N")
        return default
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{name}: N must be a non-negative int, got {n!r}")
    return n


def vander(x, N: int | None = None, increasing: bool = False) -> TensorLike:  # noqa: N803  (PyTorch's name)
    """The Vandermonde matrix of a 1-D tensor, as ``torch.vander``: column j is ``x ** (N - 1 - j)``
    (``increasing``: ``x ** j``); N defaults to the size of x."""
    x = as_tensor(x)
    _check_ndim("vander", "the input", x, 1)
    n = _size("vander", N, x.shape[0])
    if x.dtype not in FLOATING and x.dtype not in COMPLEX:  # integers and bools give int64 powers, as torch's
        x = cast(x, np.int64)
    if n == 0:
        return reshape(x[:0], (x.shape[0], 0))
    powers = _powers(x, n)
    return powers if increasing else flip(powers, (-1,))


def linalg_vander(x, *, N: int | None = None) -> TensorLike:  # noqa: N803  (PyTorch's name)
    """``torch.linalg.vander``: the increasing powers ``x[..., None] ** [0, ..., N - 1]`` of a tensor of at least
    one dimension, shape (..., n, N); N (at least 2) defaults to n."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("linalg.vander: expects a tensor of at least one dimension, got a 0-d tensor")
    n = _size("linalg.vander", N, x.shape[-1])
    if n < 2:
        raise ValueError(f"linalg.vander: N must be at least 2, got {n}")
    return _powers(x, n)
