"""PyTorch's statistics composed from reductions and products: ``cov`` and ``corrcoef`` (variables in rows,
observations in columns, with frequency and reliability weights), ``std_mean`` and ``var_mean`` (PyTorch's
default correction of 1, unlike ``ember.var``'s NumPy default of 0)."""

from __future__ import annotations

from ember.backend.dtypes import COMPLEX, FLOATING
from ember.ops.convert import as_tensor, cast, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import clip, maximum, sqrt
from ember.ops.indexing import diagonal
from ember.ops.infer import differ
from ember.ops.linalg import matmul
from ember.ops.reduction import mean, std, sum, var
from ember.ops.shape import reshape, transpose, unsqueeze


def _weights(name: str, w, n, integer: bool):
    if w is None:
        return None
    w = as_tensor(w)
    if w.ndim != 1 or differ(w.shape[0], n):
        raise ValueError(f"cov: {name} must be 1-D with one weight per observation ({n}), got shape {list(w.shape)}")
    if integer and w.dtype in FLOATING:
        raise TypeError(f"cov: {name} must have an integer dtype, got {w.dtype}")
    if not integer and w.dtype not in FLOATING:
        raise TypeError(f"cov: {name} must have a floating dtype, got {w.dtype}")
    if not w.symbolic and bool((w.array < 0).any()):
        raise ValueError(f"cov: {name} must be non-negative")
    return w


def cov(x, *, correction: int = 1, fweights=None, aweights=None) -> TensorLike:
    """The covariance matrix of the variables in the rows of ``x`` (a 1-D ``x`` is one variable, giving a 0-d
    result) over the observations in its columns, as ``torch.cov``: ``correction`` is subtracted from the number of
    observations (1: unbiased), ``fweights`` repeat observations (integers), ``aweights`` weigh them."""
    x = as_tensor(x)
    if x.ndim > 2:
        raise ValueError(f"cov: expects a 1-D or 2-D tensor (variables by observations), got shape {list(x.shape)}")
    one_variable = x.ndim < 2
    x = to_float(reshape(x, (1, -1)) if one_variable else x)
    n = x.shape[1]
    if n is None:
        raise ValueError(f"cov: the number of observations (the size of the last dimension, unknown (None) in "
                         f"{list(x.shape)}) sets the divisor; build the graph with it known")
    if x.shape[0] is None:
        raise ValueError(f"cov: whether the unknown (None) number of variables in {list(x.shape)} is 1 (a 0-d result) "
                         "is not known while the graph is built")
    fw = _weights("fweights", fweights, n, integer=True)
    aw = _weights("aweights", aweights, n, integer=False)
    w = None if fw is None else cast(fw, x.dtype)
    if aw is not None:
        w = cast(aw, x.dtype) if w is None else w * aw
    if w is None:
        # (no observations: mean refuses them, and the empty product over 0 below gives PyTorch's NaN whatever this is)
        average = mean(x, 1, keepdims=True) if n else sum(x, 1, keepdims=True)
        count = float(n - correction)
    else:
        total = sum(w)
        average = sum(x * w, 1, keepdims=True) / total
        count = total - (correction if aw is None or correction == 0 else correction * sum(w * aw) / total)
    centred = x - average
    weighted = centred if w is None else centred * w
    # (a count <= 0 gives inf and NaN, as PyTorch's, which warns)
    count = maximum(count, 0.0) if isinstance(count, TensorLike) else max(count, 0.0)
    c = matmul(centred, transpose(weighted)) / count
    return reshape(c, ()) if x.shape[0] == 1 else c  # (PyTorch's squeeze)


def corrcoef(x) -> TensorLike:
    """Pearson's correlation coefficients of the variables in the rows of ``x`` (``cov`` normalized by the
    standard deviations, clipped to [-1, 1]), as ``torch.corrcoef``."""
    c = cov(x)
    if c.ndim == 0:
        return c / c
    spread = sqrt(diagonal(c, 0, 0, 1))
    return clip(c / unsqueeze(spread, 1) / unsqueeze(spread, 0), -1.0, 1.0)


def _moments_args(name: str, dim, unbiased, keepdim, correction, axis, keepdims):
    if isinstance(dim, bool):  # PyTorch's overload std_mean(x, unbiased)
        dim, unbiased = None, dim
    if dim in ((), []):  # PyTorch's dim=() is every dimension (NumPy's axis=() none)
        dim = None
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}: got both dim= and axis=; give one")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}: give one of unbiased= and correction=")
    ddof = int(bool(unbiased)) if unbiased is not None else 1 if correction is None else correction
    return dim, bool(keepdim), ddof


def std_mean(x, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction: int | None = None,
             axis=None, keepdims: bool | None = None) -> tuple:
    """``(std, mean)`` over ``dim`` (every element by default), as ``torch.std_mean``: ``correction`` defaults
    to 1 (``unbiased=False`` is 0)."""
    dim, keepdim, ddof = _moments_args("std_mean", dim, unbiased, keepdim, correction, axis, keepdims)
    x = as_tensor(x)
    x = x if x.dtype in COMPLEX else to_float(x)
    return std(x, dim, keepdims=keepdim, correction=ddof), mean(x, dim, keepdim)


def var_mean(x, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction: int | None = None,
             axis=None, keepdims: bool | None = None) -> tuple:
    """``(var, mean)`` over ``dim`` (every element by default), as ``torch.var_mean``: ``correction`` defaults
    to 1 (``unbiased=False`` is 0)."""
    dim, keepdim, ddof = _moments_args("var_mean", dim, unbiased, keepdim, correction, axis, keepdims)
    x = as_tensor(x)
    x = x if x.dtype in COMPLEX else to_float(x)
    return var(x, dim, keepdims=keepdim, correction=ddof), mean(x, dim, keepdim)
