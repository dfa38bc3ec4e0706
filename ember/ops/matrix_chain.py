"""``torch.linalg``'s products and reshaped systems, composed from other ops: ``multi_dot`` (the chain multiplied in
its cheapest order), ``vecdot``, ``linalg.diagonal``, ``tensorinv`` and ``tensorsolve``."""

from __future__ import annotations

import math

from ember.ops.autocast import lowered, switched_off
from ember.ops.complex_parts import conj
from ember.ops.convert import as_tensor
from ember.ops.decompositions import inv, solve
from ember.ops.dispatch import TensorLike
from ember.ops.indexing import diagonal as _diagonal
from ember.ops.infer import as_int, check_axis
from ember.ops.linalg import matmul
from ember.ops.reduction import sum
from ember.ops.registry import Spec
from ember.ops.shape import permute, reshape, squeeze, unsqueeze


def _chain_order(dims: list) -> list:
    """split[i][j]: where the cheapest product of matrices i..j (matrix t is dims[t] x dims[t + 1]) splits."""
    count = len(dims) - 1
    if count == 3:  # PyTorch's rule for three: (AB)C unless A(BC) is cheaper (a tie is (AB)C, not the first split)
        a, b, c, d = dims
        return [[0, 0, 0 if b * d * (a + c) < a * c * (b + d) else 1], [0, 0, 1], [0, 0, 0]]
    cost = [[0] * count for _ in range(count)]
    split = [[0] * count for _ in range(count)]
    for length in range(1, count):
        for i in range(count - length):
            j = i + length
            cost[i][j] = math.inf
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s
    return split


def multi_dot(tensors) -> TensorLike:
    """The product of two or more matrices in the order of fewest multiplications, as ``torch.linalg.multi_dot``:
    the first may be a vector (a row) and the last a vector (a column), their dimension dropped from the result.

    >>> ember.linalg.multi_dot([ember.ones(3), ember.ones(3, 4), ember.ones(4)])  # 12
    """
    tensors = [as_tensor(t) for t in tensors]
    if len(tensors) < 2:
        raise ValueError(f"multi_dot: expects at least two tensors, got {len(tensors)}")
    first, last = tensors[0].ndim == 1, tensors[-1].ndim == 1
    if first:
        tensors[0] = unsqueeze(tensors[0], 0)
    if last:
        tensors[-1] = unsqueeze(tensors[-1], -1)
    shapes = [tuple(t.shape) for t in tensors]
    for index, t in enumerate(tensors):
        if t.ndim != 2 or t.dtype != tensors[0].dtype:
            raise ValueError(f"multi_dot: expects 2-D tensors of one dtype (the first and last may be 1-D), got "
                             f"{[f'{u.dtype}{list(s)}' for u, s in zip(tensors, shapes)]} (tensor {index})")
    for index in range(len(shapes) - 1):
        inner = (shapes[index][1], shapes[index + 1][0])
        if None not in inner and inner[0] != inner[1]:
            raise ValueError(f"multi_dot: tensors {index} and {index + 1} cannot be multiplied (shapes "
                             f"{list(shapes[index])} and {list(shapes[index + 1])})")
    if any(None in shape for shape in shapes):  # a graph's unknown size: no costs to weigh, left to right
        result = tensors[0]
        for t in tensors[1:]:
            result = matmul(result, t)
    else:
        split = _chain_order([shapes[0][0]] + [s[1] for s in shapes])

        def product(i: int, j: int) -> TensorLike:
            return tensors[i] if i == j else matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

        result = product(0, len(tensors) - 1)
    if first:
        result = squeeze(result, 0)
    if last:
        result = squeeze(result, -1)
    return result


def vecdot(x, y, *, dim: int = -1) -> TensorLike:
    """The dot products of the vectors along ``dim`` (shapes broadcast), as ``torch.linalg.vecdot``: x is
    conjugated when complex."""
    x, y = lowered(as_tensor(x), as_tensor(y))  # (in an autocast region's dtype, as PyTorch's)
    with switched_off(x):  # (summed in that dtype, as PyTorch's: sum's own policy would widen the products)
        product = conj(x) * y
        return sum(product, check_axis("vecdot", dim, product.ndim, [Spec(tuple(x.shape), x.dtype),
                                                                       Spec(tuple(y.shape), y.dtype)]))


def diagonal(a, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> TensorLike:
    """``torch.linalg.diagonal``: the diagonals of the matrices along ``dim1`` and ``dim2`` (the last two)."""
    return _diagonal(a, offset, dim1, dim2)


def tensorinv(a, ind: int = 2) -> TensorLike:
    """The inverse of ``a`` read as a linear map from its last dimensions to its first ``ind`` ones, as
    ``torch.linalg.tensorinv``: shape ``a.shape[ind:] + a.shape[:ind]``; the two products of sizes must agree."""
    a = as_tensor(a)
    ind = as_int("tensorinv", ind, "ind")
    if ind <= 0:
        raise ValueError(f"tensorinv: ind must be a positive integer, got {ind}")
    rows, cols = math.prod(a.shape[:ind]), math.prod(a.shape[ind:])
    if rows != cols:
        raise ValueError(f"tensorinv: the product of the first ind={ind} dimensions ({rows}) must equal that of the "
                         f"rest ({cols}), shape {list(a.shape)}")
    return reshape(inv(reshape(a, (rows, cols))), tuple(a.shape[ind:]) + tuple(a.shape[:ind]))


def tensorsolve(a, b, dims=None) -> TensorLike:
    """X with ``tensordot(A, X, X.ndim) = B``, as ``torch.linalg.tensorsolve``: X has shape ``A.shape[B.ndim:]``
    after the dimensions ``dims`` of A (if given) are moved to the end."""
    a, b = as_tensor(a), as_tensor(b)
    if dims is not None:
        specs = [Spec(tuple(a.shape), a.dtype)]
        moved = [check_axis("tensorsolve", d, a.ndim, specs) for d in dims]
        a = permute(a, tuple([d for d in range(a.ndim) if d not in moved] + moved))
    result_shape = tuple(a.shape[b.ndim:])
    rows, cols = math.prod(b.shape), math.prod(result_shape)
    if tuple(a.shape[:b.ndim]) != tuple(b.shape) or rows != cols:
        raise ValueError(f"tensorsolve: expects A of shape B.shape + X.shape with prod(X.shape) = prod(B.shape), got "
                         f"A {list(a.shape)} and B {list(b.shape)}")
    x = solve(reshape(a, (rows, cols)), reshape(b, (rows,)))
    return reshape(x, result_shape)
