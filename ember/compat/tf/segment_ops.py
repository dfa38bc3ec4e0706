"""TF-1's segment reductions beyond ``unsorted_segment_sum`` and ``mean``, ``tf.math.bincount`` and the
``tf.tensor_scatter_nd_*`` updates of a tensor's copy.

The sorted ``tf.math.segment_*`` reductions and ``bincount`` have as many rows as the largest id (value) plus
one: as ``value_sized``'s ops, a host call reads that size from the ids when the Session runs, and checks them
as TF's kernels do (not negative, sorted), naming the op and the first bad id.
"""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, as_tf_dtype, int8, int32, int64, op, truediv
from ember.compat.tf.host_ops import py_func
from ember.compat.tf.math_ops import _flat_index, check_index_vectors, check_segment_ids
from ember.compat.tf.state_ops import _combined

__all__ = [
    "bincount", "segment_max", "segment_mean", "segment_min", "segment_prod", "segment_sum", "tensor_scatter_add",
    "tensor_scatter_nd_add", "tensor_scatter_nd_sub", "tensor_scatter_nd_update", "tensor_scatter_sub",
    "tensor_scatter_update", "unsorted_segment_max", "unsorted_segment_min", "unsorted_segment_prod",
]

_REDUCE = {"max": "amax", "min": "amin", "prod": "prod"}


def _identity(reduce: str, dtype: np.dtype):
    """What TF's kernels start a segment from: the dtype's lowest value for max (-3.4e38 for float32, not
    -inf), its highest for min, 1 for prod; an empty segment keeps it."""
    if reduce == "prod":
        return 1
    limits = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    return limits.min if reduce == "max" else limits.max


def _reduce_segments(data, ids, n: int, reduce: str):
    """``data``'s rows reduced per id into ``n`` segments; the rows of a negative id are dropped (they go to a
    spare segment ``n``, cut off)."""
    rest = tuple(data.shape[ids.ndim:])
    ids = ember.reshape(ember.cast(ids, int64), (-1,))
    ids = ember.where(ember.ge(ids, 0), ids, n)
    base = ember.full((n + 1,) + rest, _identity(reduce, data.dtype), dtype=data.dtype)
    out = ember.index_reduce(base, 0, ids, ember.reshape(data, (-1,) + rest), _REDUCE[reduce])
    return out[:n]


def _check_prefix(what: str, d, i) -> None:
    if tuple(d.shape[:i.ndim]) != tuple(i.shape):
        raise ValueError(f"tf.math.{what}: segment_ids of shape {list(i.shape)} must be a prefix of data's shape "
                         f"{list(d.shape)}")


def _unsorted(reduce: str):
    what = f"unsorted_segment_{reduce}"

    def unsorted(data, segment_ids, num_segments, name: str | None = None) -> Tensor:
        n = int(num_segments)

        def fn(d, i):
            _check_prefix(what, d, i)
            i = check_segment_ids(what, i, n)
            return _reduce_segments(d, i, n, reduce)

        return op(fn, (as_tf(data), as_tf(segment_ids)), name=name or f"UnsortedSegment{reduce.capitalize()}")

    unsorted.__name__ = what
    empty = {"max": "the dtype's lowest value", "min": "the dtype's highest value", "prod": "1"}[reduce]
    unsorted.__doc__ = (f"The {reduce} of each of ``num_segments`` segments' rows (ids in any order; a negative "
                        f"id's rows are dropped); an empty segment gives {empty}, as TF's.")
    return unsorted


unsorted_segment_max = _unsorted("max")
unsorted_segment_min = _unsorted("min")
unsorted_segment_prod = _unsorted("prod")


def _sorted_ids(what: str):
    """The host check of a sorted segment op's ids; its result's length is the number of segments."""
    def count(ids):
        ids = np.asarray(ids)
        negative = np.flatnonzero(ids < 0)
        if negative.size:
            k = int(negative[0])
            raise ValueError(f"tf.math.{what}: segment ids must be >= 0, got segment_ids[{k}] = {int(ids[k])}")
        down = np.flatnonzero(np.diff(ids) < 0)
        if down.size:
            k = int(down[0]) + 1
            raise ValueError(f"tf.math.{what}: segment ids are not increasing: segment_ids[{k}] = {int(ids[k])} "
                             f"after {int(ids[k - 1])}")
        return np.zeros(int(ids.max()) + 1 if ids.size else 0, np.int8)

    return count


def _sorted(reduce: str):
    what = f"segment_{reduce}"

    def segment(data, segment_ids, name: str | None = None) -> Tensor:
        data, ids = as_tf(data), as_tf(segment_ids)
        if ids.shape is not None and len(ids.shape) != 1:
            raise ValueError(f"tf.math.{what}: segment_ids must be 1-D, got '{ids.name}' of shape {list(ids.shape)}")
        sizer = py_func(_sorted_ids(what), [ids], int8, name=f"{name or what}/num_segments")
        sizer.set_shape([None])

        def fn(d, i, s):
            if i.ndim != 1 or d.ndim == 0 or i.shape[0] != d.shape[0]:
                raise ValueError(f"tf.math.{what}: segment_ids of shape {list(i.shape)} must be 1-D with one id per "
                                 f"row of data, of shape {list(d.shape)}")
            n = int(s.shape[0])
            if reduce == "sum":
                return _reduce_sum(d, i, n)
            if reduce == "mean":
                total = _reduce_sum(d, i, n)
                counts = ember.reshape(_reduce_sum(ember.ones(tuple(i.shape), dtype=d.dtype), i, n),
                                       (n,) + (1,) * (d.ndim - 1))
                counts = ember.maximum(counts, ember.ones((), dtype=d.dtype))
                if d.dtype.kind in "iu":  # C's integer division, as TF's kernel divides
                    return ember.div(total, counts, rounding_mode="trunc")
                return truediv(total, counts)
            out = _reduce_segments(d, i, n, reduce)
            if reduce == "prod":
                return out
            # TF's sorted max and min give 0 for an empty segment (the unsorted ones keep the dtype's limit)
            hit = ember.reshape(ember.gt(_reduce_sum(ember.ones(tuple(i.shape), dtype=int32), i, n), 0),
                                (n,) + (1,) * (d.ndim - 1))
            return ember.where(hit, out, ember.zeros((), dtype=d.dtype))

        return op(fn, (data, ids, sizer), name=name or f"Segment{reduce.capitalize()}")

    segment.__name__ = what
    segment.__doc__ = (f"The {reduce} of the rows of each segment of the sorted, non-negative 1-D ``segment_ids`` "
                       f"(one per row): max(id) + 1 rows, an empty segment {'1' if reduce == 'prod' else '0'}, as "
                       "TF's.")
    return segment


def _reduce_sum(d, i, n: int):
    rows = ember.zeros((n,) + tuple(d.shape[1:]), dtype=d.dtype)
    return ember.index_add(rows, ember.cast(i, int64), d, axis=0)


segment_sum = _sorted("sum")
segment_mean = _sorted("mean")
segment_max = _sorted("max")
segment_min = _sorted("min")
segment_prod = _sorted("prod")


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=int32, name: str | None = None) -> Tensor:
    """How often each value of the non-negative integer ``arr`` (any shape) occurs, or the sum of its
    ``weights``: max(arr) + 1 bins (0 for an empty ``arr``), at least ``minlength`` and at most ``maxlength``
    (larger values are skipped). The bins have ``weights``' dtype, else ``dtype``, as TF-1's."""
    arr = as_tf(arr)
    if arr.dtype is not None and arr.dtype.kind not in "iu":
        raise TypeError(f"tf.math.bincount: arr must hold integers, got '{arr.name}' of dtype {arr.dtype}")
    low = 0 if minlength is None else int(minlength)
    high = None if maxlength is None else int(maxlength)

    def size(values):
        values = np.asarray(values).reshape(-1)
        negative = np.flatnonzero(values < 0)
        if negative.size:
            k = int(negative[0])
            raise ValueError(f"tf.math.bincount: arr must hold non-negative values, got arr[{k}] = {int(values[k])} "
                             "(flattened)")
        n = max(int(values.max()) + 1 if values.size else 0, low)
        return np.zeros(n if high is None else min(n, high), np.int8)

    sizer = py_func(size, [arr], int8, name=f"{name or 'bincount'}/size")
    sizer.set_shape([None])
    out_dtype = as_tf_dtype(dtype)
    counted = (arr, sizer) if weights is None else (arr, sizer, as_tf(weights))

    def fn(a, s, w=None):
        n = int(s.shape[0])
        if w is not None and tuple(w.shape) != tuple(a.shape):
            raise ValueError(f"tf.math.bincount: weights of shape {list(w.shape)} must have arr's shape "
                             f"{list(a.shape)}")
        values = ember.reshape(ember.cast(a, int64), (-1,))
        w = ember.ones(tuple(values.shape), dtype=out_dtype) if w is None else ember.reshape(w, (-1,))
        kept = ember.lt(values, n)  # (only maxlength cuts values off)
        w = ember.where(kept, w, ember.zeros((), dtype=w.dtype))
        return ember.index_add(ember.zeros((n,), dtype=w.dtype), ember.where(kept, values, 0), w, axis=0)

    return op(fn, counted, name=name or "bincount")


def _tensor_scatter(how: str, what: str):
    def scatter(tensor, indices, updates, name: str | None = None) -> Tensor:
        def fn(t, i, u):
            if i.dtype.kind not in "iu":
                raise TypeError(f"tf.{what}: indices must be integers, got {i.dtype}")
            if t.dtype != u.dtype:
                raise TypeError(f"tf.{what}: updates of dtype {u.dtype} for a tensor of dtype {t.dtype}")
            shape = tuple(t.shape)
            k = i.shape[-1] if i.ndim else 0
            expected = tuple(i.shape[:-1]) + shape[k:]
            if i.ndim == 0 or k > len(shape) or tuple(u.shape) != expected:
                raise ValueError(f"tf.{what}: updates of shape {list(u.shape)} for indices of shape {list(i.shape)} "
                                 f"into a tensor of shape {list(shape)}; they must have shape {list(expected)}")
            i = check_index_vectors(what, i, shape)
            flat, _ = _flat_index(what, shape, i)
            rest = shape[k:]
            rows = ember.reshape(t, (int(np.prod(shape[:k], dtype=np.int64)),) + rest)
            changed = _combined(how, rows, ember.reshape(flat, (-1,)), ember.reshape(u, (-1,) + rest), rest)
            return ember.reshape(changed, shape)

        return op(fn, (as_tf(tensor), as_tf(indices), as_tf(updates)), name=name or what)

    scatter.__name__ = what
    done = {"update": "written (the last of a repeated index wins)", "add": "added", "sub": "subtracted"}[how]
    scatter.__doc__ = (f"A copy of ``tensor`` with ``updates`` {done} at the index vectors of ``indices``' last "
                       "axis; an index outside the tensor is refused when the op runs.")
    return scatter


tensor_scatter_nd_update = tensor_scatter_update = _tensor_scatter("update", "tensor_scatter_nd_update")
tensor_scatter_nd_add = tensor_scatter_add = _tensor_scatter("add", "tensor_scatter_nd_add")
tensor_scatter_nd_sub = tensor_scatter_sub = _tensor_scatter("sub", "tensor_scatter_nd_sub")
