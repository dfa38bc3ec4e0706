"""TF-1 ops whose result size depends on the values: ``tf.boolean_mask``, ``tf.where(condition)``, ``tf.unique``
and ``tf.unique_with_counts``.

Ember's graphs size every value from the feeds' shapes, so the value-dependent part of each of these is a
host call (``host_ops.py_func``): a Session computes it from its inputs' values in a run of its own and feeds
the result to the rest of the graph. Only integer positions come from the host; the values are taken with
``tf.gather``, so gradients flow through ``tf.boolean_mask`` to the masked tensor as in TF-1 (the positions
have none, as in TF-1).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, as_tf_dtype, int32, int64, op
from ember.compat.tf.array_ops import gather
from ember.compat.tf.array_ops import where as _select
from ember.compat.tf.host_ops import py_func

__all__ = ["boolean_mask", "unique", "unique_with_counts", "where"]

UniqueOutput = namedtuple("Unique", ["y", "idx"])
UniqueWithCountsOutput = namedtuple("UniqueWithCounts", ["y", "idx", "count"])


def _rank(name: str, t: Tensor, what: str) -> int:
    if t.shape is None:
        raise ValueError(f"tf.{name}: the rank of {what} '{t.name}' must be known while the graph is built")
    return len(t.shape)


def boolean_mask(tensor, mask, name: str = "boolean_mask", axis=None) -> Tensor:
    """The entries of ``tensor`` where the bool ``mask`` is true: ``mask`` covers dimensions ``axis`` to
    ``axis + mask.ndim`` of ``tensor`` (``axis`` default 0), which become one dimension of the true count."""
    tensor, mask = as_tf(tensor), as_tf(mask)
    if mask.dtype is not None and mask.dtype.kind != "b":
        raise TypeError(f"tf.boolean_mask: the mask must be bool, got '{mask.name}' of dtype {mask.dtype}")
    k, n = _rank("boolean_mask", mask, "the mask"), _rank("boolean_mask", tensor, "the tensor")
    axis = 0 if axis is None else int(axis)
    axis = axis + n if axis < 0 else axis
    if k == 0:
        raise ValueError("tf.boolean_mask: the mask must have at least one dimension, got a scalar")
    if not 0 <= axis <= n - k:
        raise ValueError(f"tf.boolean_mask: a mask of rank {k} at axis {axis} does not fit '{tensor.name}' of rank {n}")
    for i, (m, t) in enumerate(zip(mask.shape, tensor.shape[axis:axis + k])):
        if m is not None and t is not None and m != t:
            raise ValueError(f"tf.boolean_mask: the mask's shape {list(mask.shape)} differs from dimensions "
                             f"{axis}..{axis + k - 1} of '{tensor.name}' {list(tensor.shape)} (dimension {i})")
    positions = py_func(lambda m: np.flatnonzero(m).astype(np.int64), [mask], int64, name=f"{name}/Where")
    positions.set_shape([None])

    def merged(x, m):  # the masked dimensions as one, once the mask is seen to cover them (sizes fed)
        if tuple(m.shape) != tuple(x.shape[axis:axis + k]):
            raise ValueError(f"tf.boolean_mask: the mask's shape {list(m.shape)} differs from dimensions "
                             f"{axis}..{axis + k - 1} of '{tensor.name}' {list(x.shape)}")
        return ember.reshape(x, tuple(x.shape[:axis]) + (-1,) + tuple(x.shape[axis + k:])) if k != 1 else x

    flat = op(merged, (tensor, mask), name=f"{name}/Reshape")
    return gather(flat, positions, axis=axis, name=f"{name}/GatherV2")


def where(condition, x=None, y=None, name: str | None = None) -> Tensor:
    """``where(condition, x, y)``: elements of ``x`` where true, of ``y`` elsewhere; ``where(condition)``: the
    (count, rank) int64 coordinates of the true elements, in row-major order."""
    if x is not None or y is not None:
        return _select(condition, x, y, name=name)
    condition = as_tf(condition)
    rank = _rank("where", condition, "the condition")
    out = py_func(lambda c: np.argwhere(c).astype(np.int64), [condition], int64, name=name or "Where")
    out.set_shape([None, rank])
    return out


def _first_order_unique(values: np.ndarray):
    """(distinct values in order of first appearance, each element's index into them, their counts)."""
    distinct, first, inverse, counts = np.unique(values, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return distinct[order], rank[inverse.reshape(-1)], counts[order]


def _unique_parts(x, out_idx, name: str, with_counts: bool):
    x = as_tf(x)
    if _rank(name, x, "the input") != 1:
        raise ValueError(f"tf.{name}: the input must be 1-D, got '{x.name}' of shape {list(x.shape)}")
    index_dtype = int32 if out_idx is None else as_tf_dtype(out_idx)
    if np.dtype(index_dtype).kind not in "iu":
        raise TypeError(f"tf.{name}: out_idx must be an integer dtype, got {index_dtype}")

    def parts(values):
        distinct, index, counts = _first_order_unique(values)
        found = [distinct, index.astype(index_dtype)]
        return found + [counts.astype(index_dtype)] if with_counts else found

    dtypes = [x.dtype, index_dtype] + ([index_dtype] if with_counts else [])
    outputs = py_func(parts, [x], dtypes, name=name)
    outputs[0].set_shape([None])
    outputs[1].set_shape(list(x.shape))
    if with_counts:
        outputs[2].set_shape([None])
    return outputs


def unique(x, out_idx=None, name: str | None = None):
    """``(y, idx)``: the distinct elements of 1-D ``x`` in order of first appearance, and each element's index
    into them (``out_idx`` dtype, int32 by default), as TF-1's ``tf.unique``. No gradient."""
    return UniqueOutput(*_unique_parts(x, out_idx, name or "Unique", False))


def unique_with_counts(x, out_idx=None, name: str | None = None):
    """``(y, idx, count)``: ``unique`` and how often each distinct element occurs."""
    return UniqueWithCountsOutput(*_unique_parts(x, out_idx, name or "UniqueWithCounts", True))
