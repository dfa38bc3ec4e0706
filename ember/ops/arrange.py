"""PyTorch's rearranging and selecting functions composed from indexing, ``cat`` and ``where``: ``flip``,
``roll``, ``tril``, ``triu``, ``index_select`` and ``masked_select`` (gradients come from those ops)."""

from __future__ import annotations

import numpy as np

from ember.ops.convert import as_tensor
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import where
from ember.ops.indexing import getitem, take
from ember.ops.infer import as_int, check_axis
from ember.ops.join import concat
from ember.ops.registry import Spec
from ember.ops.shape import broadcast_to, reshape


def _axes(name: str, x: TensorLike, dims) -> list[int]:
    dims = [dims] if not isinstance(dims, (tuple, list)) else list(dims)
    axes = [check_axis(name, d, x.ndim, [Spec(x.shape, x.dtype)]) for d in dims]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: dims {dims} name one dimension twice")
    return axes


def flip(x, dims, *more_dims) -> TensorLike:
    """``x`` reversed along each of ``dims`` (a sequence, or the dims as arguments: ``x.flip(0, 2)``)."""
    x = as_tensor(x)
    dims = (dims, *more_dims) if more_dims else dims
    if x.ndim == 0:
        _axes("flip", x, dims)
        return x
    index = [slice(None)] * x.ndim
    for axis in _axes("flip", x, dims):
        index[axis] = slice(None, None, -1)
    return getitem(x, tuple(index))


def _roll_one(x: TensorLike, shift: int, axis: int) -> TensorLike:
    size = x.shape[axis]
    if size is None:
        raise ValueError(f"roll: dimension {axis} of the tensor of shape {list(x.shape)} must have a known size")
    cut = size - shift % size if size else 0
    if cut in (0, size):
        return x
    before = (slice(None),) * axis
    return concat([getitem(x, before + (slice(cut, None),)), getitem(x, before + (slice(0, cut),))], axis)


def roll(x, shifts, dims=None) -> TensorLike:
    """``x`` shifted by ``shifts`` along ``dims`` (elements leaving one end come back at the other); without
    ``dims`` the flattened tensor is rolled and reshaped back."""
    x = as_tensor(x)
    shifts = [shifts] if not isinstance(shifts, (tuple, list)) else list(shifts)
    shifts = [as_int("roll", s, "shifts") for s in shifts]
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: {len(shifts)} shifts need as many dims")
        return reshape(_roll_one(reshape(x, (-1,)), shifts[0], 0), tuple(x.shape))
    axes = _axes("roll", x, dims) if x.ndim else [0] * len(shifts)
    if len(axes) != len(shifts):
        raise ValueError(f"roll: {len(shifts)} shifts and {len(axes)} dims; give one shift per dim")
    if x.ndim == 0:
        return x
    for shift, axis in zip(shifts, axes):
        x = _roll_one(x, shift, axis)
    return x


def _triangle(name: str, x, diagonal: int, lower: bool) -> TensorLike:
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{name}: needs a matrix or a batch of them, got shape {list(x.shape)}")
    rows, cols = x.shape[-2:]
    if rows is None or cols is None:
        raise ValueError(f"{name}: the last two dimensions of shape {list(x.shape)} must be known")
    diagonal = as_int(name, diagonal, "diagonal")
    keep = np.tri(rows, cols, diagonal, dtype=bool) if lower else ~np.tri(rows, cols, diagonal - 1, dtype=bool)
    return where(as_tensor(keep, x), x, False if x.dtype == np.bool_ else 0)


def tril(x, diagonal: int = 0) -> TensorLike:
    """The lower triangle of the last two dimensions (on and below the ``diagonal``-th diagonal), zeros above."""
    return _triangle("tril", x, diagonal, lower=True)


def triu(x, diagonal: int = 0) -> TensorLike:
    """The upper triangle of the last two dimensions (on and above the ``diagonal``-th diagonal), zeros below."""
    return _triangle("triu", x, diagonal, lower=False)


def index_select(x, axis: int, index) -> TensorLike:
    """The entries of ``x`` at the 1-D ``index`` along ``axis`` (PyTorch's ``index_select(dim, index)``)."""
    x = as_tensor(x)
    index = as_tensor(index, x)
    if index.ndim > 1:
        raise ValueError(f"index_select: the index must be 1-D, got shape {list(index.shape)}")
    return take(x, reshape(index, (-1,)), axis)


def masked_select(x, mask) -> TensorLike:
    """The elements of ``x`` where ``mask`` (broadcast together) is true, as a 1-D tensor (eager only: its
    length depends on the values)."""
    x, mask = as_tensor(x), as_tensor(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"masked_select: the mask must be a bool tensor, got {mask.dtype}")
    shape = np.broadcast_shapes(tuple(x.shape), tuple(mask.shape))
    return getitem(broadcast_to(x, shape), broadcast_to(mask, shape))
