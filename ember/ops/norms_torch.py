"""PyTorch's norm functions outside ``torch.linalg``, composed from ``norm`` and ``matrix_norm``: ``torch.norm``
(``ember.norm`` and ``Tensor.norm``), ``dist``, ``renorm``, ``frobenius_norm``, ``nuclear_norm`` and ``pdist`` (the
condensed distances of a set of rows; a zero distance gets gradient 0 for p = 2, as PyTorch's)."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import COMPLEX
from ember.ops.composed import norm
from ember.ops.convert import as_tensor, promote, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import where
from ember.ops.indexing import take
from ember.ops.infer import check_axis
from ember.ops.matrix_functions import _float_dtype, matrix_norm
from ember.ops.products import _chebyshev
from ember.ops.registry import Spec


def _inexact(x) -> TensorLike:
    """``x`` as a floating tensor, or complex as it is (the norms of complex tensors are those of the moduli)."""
    x = as_tensor(x)
    return x if x.dtype in COMPLEX else to_float(x)


def _p(name: str, p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or p != p:
        raise TypeError(f"{name}: p must be a number, got {p!r}")
    return float(p)


def torch_norm(x, p: float | str | None = "fro", axis=None, keepdims: bool = False, *, dtype=None) -> TensorLike:
    """The norm of ``x`` over ``axis`` (``dim``; every element when None), as ``torch.norm``: a number ``p`` (None
    meaning 2) and "fro" (over at most two dimensions) give the vector p-norm of the elements, "nuc" the nuclear
    norm (the sum of singular values) of the matrices along the two dimensions ``axis`` names (a 2-D ``x`` when
    ``axis`` is None). ``torch.linalg.norm`` reads a number ``ord`` over two dimensions as a matrix norm instead.

    >>> ember.norm(ember.eye(3), p="nuc")   # 3.0
    """
    x = as_tensor(x)
    if dtype is not None:
        x = _float_dtype("norm", x, dtype)
    axes = (axis,) if isinstance(axis, int) else None if axis is None else tuple(axis)
    if p == "nuc":
        return matrix_norm(x, "nuc", tuple(range(x.ndim)) if axes is None else axes, keepdims)
    if p == "fro":
        if axes is not None and len(axes) > 2:
            raise ValueError(f"norm: p='fro' takes at most two dimensions, got dim={axis!r}")
        return norm(x, 2, axes, keepdims)
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
    return norm(x, 2 if p is None else p, axes, keepdims)


def dist(x, other, p: float = 2) -> TensorLike:
    """The p-norm of ``x - other`` (broadcast together) over all elements, as ``torch.dist``."""
    x, other = promote(_inexact(x), _inexact(other))
    return norm(x - other, _p("dist", p))


def renorm(x, p: float, dim: int, maxnorm: float) -> TensorLike:
    """``x`` with each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to norm ``maxnorm``, as
    ``torch.renorm`` (which divides by the norm plus 1e-7)."""
    x = as_tensor(x)
    p = _p("renorm", p)
    if p <= 0:
        raise ValueError(f"renorm: p must be positive, got {p}")
    if maxnorm < 0:
        raise ValueError(f"renorm: maxnorm must be non-negative, got {maxnorm}")
    if x.ndim < 2:
        raise ValueError(f"renorm: expects a tensor of at least 2 dimensions, got shape {list(x.shape)}")
    dim = check_axis("renorm", dim, x.ndim, [Spec(x.shape, x.dtype)])
    x = _inexact(x)
    norms = norm(x, p, tuple(a for a in range(x.ndim) if a != dim), True)
    return x * where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)


def frobenius_norm(x, dim=None, keepdim: bool = False) -> TensorLike:
    """The square root of the sum of squares over ``dim`` (one or two dimensions; every element when None), as
    ``torch.frobenius_norm``."""
    x = _inexact(x)
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) > 2:
            raise ValueError(f"frobenius_norm: dim names at most 2 dimensions, got {dim!r}")
        dim = dims
    return norm(x, 2, dim, keepdim)


def nuclear_norm(x, dim=None, keepdim: bool = False) -> TensorLike:
    """The sum of the singular values of a matrix (``dim``: the two dimensions holding the matrices of a
    batch), as ``torch.nuclear_norm``; ``nuclear_norm(x, True)`` keeps the dimensions."""
    if isinstance(dim, bool):  # PyTorch's overload nuclear_norm(x, keepdim)
        dim, keepdim = None, dim
    x = as_tensor(x)
    if dim is None:
        if x.ndim != 2:
            raise ValueError(f"nuclear_norm: expects a 2-D tensor (or dim=), got shape {list(x.shape)}")
        dim = (0, 1)
    return matrix_norm(x, "nuc", tuple(dim), keepdim)


def pdist(x, p: float = 2) -> TensorLike:
    """The p-norm distance between each pair of rows i < j of ``x`` (N, M), in the order of the upper triangle
    read row by row, shape (N (N - 1) / 2,), as ``torch.nn.functional.pdist``."""
    x = to_float(as_tensor(x))
    p = _p("pdist", p)
    if x.ndim != 2:
        raise ValueError(f"pdist: expects a 2-D tensor (rows of vectors), got shape {list(x.shape)}")
    if p < 0:
        raise ValueError(f"pdist: p must be non-negative, got {p}")
    if x.shape[0] is None:
        raise ValueError(f"pdist: needs a known number of rows, got shape {list(x.shape)}")
    first, second = np.triu_indices(x.shape[0], 1)
    diff = take(x, first, 0) - take(x, second, 0)
    if p == np.inf:  # (the gradient in full to each tied coordinate, as cdist's)
        return _chebyshev(diff)
    return norm(diff, p, -1)
