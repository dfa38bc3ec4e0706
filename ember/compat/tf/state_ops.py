"""TF-1's sparse variable updates: ``tf.scatter_update`` / ``add`` / ``sub`` / ``mul`` / ``div`` / ``max`` /
``min`` and ``tf.scatter_nd_update`` / ``add`` / ``sub``, with the ``Variable`` methods of the same names.

Each is an ``Assign`` of the variable's new value, computed from its current value by Ember ops: running it
updates the variable in place and gives the updated value, as TF-1's ops do. Repeated indices combine as in
TF-1 (``scatter_add`` sums all their updates, ``scatter_mul`` multiplies...); for ``scatter_update`` and
``scatter_nd_update``, whose winner TF leaves unspecified, the last update of an index wins. An index outside
the variable is refused when the op runs, naming the op, the index and the shape.
"""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, constant, op
from ember.compat.tf.variables import Variable
from ember.ops.host import host_call

__all__ = [
    "IndexedSlices", "scatter_add", "scatter_div", "scatter_max", "scatter_min", "scatter_mul", "scatter_nd_add",
    "scatter_nd_sub", "scatter_nd_update", "scatter_sub", "scatter_update",
]

_REDUCE = {"mul": "prod", "div": "prod", "max": "amax", "min": "amin"}
_TYPES = {"update": "ScatterUpdate", "add": "ScatterAdd", "sub": "ScatterSub", "mul": "ScatterMul",
          "div": "ScatterDiv", "max": "ScatterMax", "min": "ScatterMin"}


class IndexedSlices:
    """``tf.IndexedSlices``: the rows ``values`` of a tensor at ``indices`` (its first axis), what the
    ``Variable.scatter_*`` methods take as ``sparse_delta``."""

    def __init__(self, values, indices, dense_shape=None):
        self.values = values
        self.indices = indices
        self.dense_shape = dense_shape

    def __repr__(self) -> str:
        return f"IndexedSlices(indices={self.indices!r}, values={self.values!r})"


def _known(shape) -> bool:
    return shape is not None and None not in shape


def _operands(what: str, ref, indices, updates) -> tuple[Tensor, Tensor]:
    if not isinstance(ref, Variable):
        raise TypeError(f"tf.{what}: ref must be a tf.Variable, got {type(ref).__name__}")
    indices = as_tf(indices)
    if indices.dtype is not None and indices.dtype not in (np.int32, np.int64):
        raise TypeError(f"tf.{what}: indices must be int32 or int64, got {indices.dtype}")
    updates = updates if isinstance(updates, Tensor) else constant(updates, dtype=ref.dtype)
    if updates.dtype is not None and updates.dtype != ref.dtype:
        raise TypeError(f"tf.{what}: updates of dtype {updates.dtype} for '{ref.name}' of dtype {ref.dtype}; "
                        "cast them to the variable's dtype")
    return indices, updates


def _check_range(what: str, flat, rows: int, shown, shape: tuple, nd: bool) -> None:
    """A run-time check that each index (``flat``, in [0, rows) when valid) names a row of the variable; the
    error shows the first bad index as given (``shown``: an int, or an index vector with ``nd``)."""
    def raise_if(positions, given):
        bad = np.flatnonzero((positions < 0) | (positions >= rows))
        if bad.size:
            i = int(bad[0])
            named = given.reshape(positions.size, -1)[i]
            value = named.tolist() if nd else int(named[0])
            raise ValueError(f"tf.{what}: indices[{i}] = {value} is not an index of the variable of shape "
                             f"{list(shape)}")

    host_call(raise_if, [flat, shown], name=f"tf.{what}")


def _check_nonzero(what: str, updates) -> None:
    """Integer division by 0 has no value (NumPy would give 0): refused when the op runs."""
    def raise_if(u):
        if not np.all(u):
            raise ValueError(f"tf.{what}: integer division by zero (updates hold 0)")

    host_call(raise_if, [updates], name=f"tf.{what}")


def _combined(how: str, base, idx, rows, rest: tuple):
    """``base`` (rows of the variable) with ``rows`` (one per entry of the 1-D ``idx``) combined by ``how``."""
    if how == "add":
        return ember.index_add(base, idx, rows, axis=0)
    if how == "sub":
        return ember.index_add(base, idx, -rows, axis=0)
    if how == "update":  # the last update of each index wins
        positions = ember.tensor(np.arange(int(idx.shape[0]), dtype=np.int64))
        winner = ember.index_reduce(ember.full((int(base.shape[0]),), -1, dtype=np.int64), 0, idx, positions, "amax")
        picked = ember.take(rows, ember.maximum(winner, 0), axis=0) if int(idx.shape[0]) else base
        hit = ember.reshape(ember.ge(winner, 0), (-1,) + (1,) * len(rest))
        return ember.where(hit, picked, base)
    combined = ember.index_reduce(ember.ones_like(base) if how == "div" else base, 0, idx, rows, _REDUCE[how])
    if how != "div":
        return combined
    if base.dtype.kind in "iu":  # TF's integer division: rounded toward zero
        return ember.div(base, combined, rounding_mode="trunc")
    return base / combined


def _scatter(how: str, ref: Variable, indices, updates, name: str | None) -> Tensor:
    what = f"scatter_{how}"
    indices, updates = _operands(what, ref, indices, updates)
    shape = tuple(ref.shape)
    if not shape:
        raise ValueError(f"tf.{what}: '{ref.name}' is a scalar; scatter ops need a variable of rank >= 1")
    rest = shape[1:]
    if _known(indices._shape) and _known(updates._shape) and updates._shape and \
            tuple(updates._shape) != tuple(indices._shape) + rest:
        raise ValueError(f"tf.{what}: updates of shape {list(updates._shape)} for indices of shape "
                         f"{list(indices._shape)} into '{ref.name}' of shape {list(shape)}; updates must have "
                         f"shape indices.shape + ref.shape[1:] = {list(indices._shape) + list(rest)}, or be a scalar")

    def fn(v, i, u):
        idx = ember.reshape(ember.cast(i, np.int64), (-1,))
        if u.ndim and tuple(u.shape) != tuple(i.shape) + rest:
            raise ValueError(f"tf.{what}: updates of shape {list(u.shape)} for indices of shape {list(i.shape)} "
                             f"into '{ref.name}' of shape {list(shape)}")
        rows = ember.broadcast_to(u, tuple(i.shape) + rest) if not u.ndim else u
        _check_range(what, idx, shape[0], i, shape, nd=False)
        if how == "div" and u.dtype.kind in "iu":
            _check_nonzero(what, u)
        return _combined(how, v, idx, ember.reshape(rows, (-1,) + rest), rest)

    value = op(fn, (ref, indices, updates), name=f"{name or _TYPES[how]}/value")
    return ref.assign(value, name=name or _TYPES[how])


def _scatter_nd(how: str, ref: Variable, indices, updates, name: str | None) -> Tensor:
    what = f"scatter_nd_{how}"
    indices, updates = _operands(what, ref, indices, updates)
    shape = tuple(ref.shape)
    if indices._shape is None or not indices._shape or indices._shape[-1] is None:
        raise ValueError(f"tf.{what}: indices need a known last axis (the length of the index vectors), got "
                         f"shape {None if indices._shape is None else list(indices._shape)}")
    k = int(indices._shape[-1])
    if k > len(shape) or k < 1:
        raise ValueError(f"tf.{what}: index vectors of length {k} into '{ref.name}' of shape {list(shape)}; "
                         f"the length must be in [1, {len(shape)}]")
    rest = shape[k:]
    if _known(indices._shape) and _known(updates._shape) and \
            tuple(updates._shape) != tuple(indices._shape[:-1]) + rest:
        raise ValueError(f"tf.{what}: updates of shape {list(updates._shape)} for indices of shape "
                         f"{list(indices._shape)} into '{ref.name}' of shape {list(shape)}; updates must have shape "
                         f"indices.shape[:-1] + ref.shape[{k}:] = {list(indices._shape[:-1]) + list(rest)}")
    n_rows = int(np.prod(shape[:k], dtype=np.int64))
    strides = np.cumprod((1,) + shape[1:k][::-1])[::-1].astype(np.int64)
    bounds = np.array(shape[:k], np.int64)

    def fn(v, i, u):
        if tuple(u.shape) != tuple(i.shape[:-1]) + rest:
            raise ValueError(f"tf.{what}: updates of shape {list(u.shape)} for indices of shape {list(i.shape)} "
                             f"into '{ref.name}' of shape {list(shape)}")
        vectors = ember.reshape(ember.cast(i, np.int64), (-1, k))
        inside = ember.all(ember.ge(vectors, 0) & ember.lt(vectors, ember.tensor(bounds)), axis=-1)
        idx = ember.where(inside, ember.sum(vectors * ember.tensor(strides), axis=-1), -1)
        _check_range(what, idx, n_rows, i, shape, nd=True)
        base = ember.reshape(v, (n_rows,) + rest)
        out = _combined(how, base, ember.where(inside, idx, 0), ember.reshape(u, (-1,) + rest), rest)
        return ember.reshape(out, shape)

    kind = "ScatterNd" + how.capitalize()
    value = op(fn, (ref, indices, updates), name=f"{name or kind}/value")
    return ref.assign(value, name=name or kind)


def scatter_update(ref: Variable, indices, updates, use_locking: bool = True, name: str | None = None) -> Tensor:
    """``ref[indices] = updates`` (rows of the first axis; the last update of a repeated index wins); gives the
    updated variable's value."""
    return _scatter("update", ref, indices, updates, name)


def scatter_add(ref: Variable, indices, updates, use_locking: bool = False, name: str | None = None) -> Tensor:
    """``ref[indices] += updates``, the updates of a repeated index all added."""
    return _scatter("add", ref, indices, updates, name)


def scatter_sub(ref: Variable, indices, updates, use_locking: bool = False, name: str | None = None) -> Tensor:
    """``ref[indices] -= updates``, the updates of a repeated index all subtracted."""
    return _scatter("sub", ref, indices, updates, name)


def scatter_mul(ref: Variable, indices, updates, use_locking: bool = False, name: str | None = None) -> Tensor:
    """``ref[indices] *= updates``, the updates of a repeated index all multiplied in."""
    return _scatter("mul", ref, indices, updates, name)


def scatter_div(ref: Variable, indices, updates, use_locking: bool = False, name: str | None = None) -> Tensor:
    """``ref[indices] /= updates``, divided by the product of a repeated index's updates (integers rounded
    toward zero, as TF's)."""
    return _scatter("div", ref, indices, updates, name)


def scatter_max(ref: Variable, indices, updates, use_locking: bool = False, name: str | None = None) -> Tensor:
    """``ref[indices] = maximum(ref[indices], updates)`` over all the updates of a repeated index."""
    return _scatter("max", ref, indices, updates, name)


def scatter_min(ref: Variable, indices, updates, use_locking: bool = False, name: str | None = None) -> Tensor:
    """``ref[indices] = minimum(ref[indices], updates)`` over all the updates of a repeated index."""
    return _scatter("min", ref, indices, updates, name)


def scatter_nd_update(ref: Variable, indices, updates, use_locking: bool = True, name: str | None = None) -> Tensor:
    """The slices of ``ref`` at the index vectors of ``indices``' last axis set to ``updates`` (the last update
    of a repeated vector wins)."""
    return _scatter_nd("update", ref, indices, updates, name)


def scatter_nd_add(ref: Variable, indices, updates, use_locking: bool = False, name: str | None = None) -> Tensor:
    """``updates`` added to the slices of ``ref`` at the index vectors of ``indices``' last axis."""
    return _scatter_nd("add", ref, indices, updates, name)


def scatter_nd_sub(ref: Variable, indices, updates, use_locking: bool = False, name: str | None = None) -> Tensor:
    """``updates`` subtracted from the slices of ``ref`` at the index vectors of ``indices``' last axis."""
    return _scatter_nd("sub", ref, indices, updates, name)


def _sparse_method(how: str):
    def method(self: Variable, sparse_delta: IndexedSlices, use_locking: bool = False,
               name: str | None = None) -> Tensor:
        if not isinstance(sparse_delta, IndexedSlices):
            raise TypeError(f"Variable.scatter_{how}: sparse_delta must be a tf.IndexedSlices(values, indices), "
                            f"got {type(sparse_delta).__name__}")
        return _scatter(how, self, sparse_delta.indices, sparse_delta.values, name)

    method.__name__ = f"scatter_{how}"
    method.__doc__ = f"``tf.scatter_{how}(self, sparse_delta.indices, sparse_delta.values)``."
    return method


def _nd_method(how: str):
    def method(self: Variable, indices, updates, name: str | None = None) -> Tensor:
        return _scatter_nd(how, self, indices, updates, name)

    method.__name__ = f"scatter_nd_{how}"
    method.__doc__ = f"``tf.scatter_nd_{how}(self, indices, updates)``."
    return method


for _how in ("update", "add", "sub", "mul", "div", "max", "min"):
    setattr(Variable, f"scatter_{_how}", _sparse_method(_how))
for _how in ("update", "add", "sub"):
    setattr(Variable, f"scatter_nd_{_how}", _nd_method(_how))
