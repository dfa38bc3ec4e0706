"""TF-1's partitioning, stitching, searching and counting functions (``tf.dynamic_partition``,
``tf.dynamic_stitch``, ``tf.setdiff1d``, ``tf.searchsorted``, ``tf.unravel_index``, ``tf.histogram_fixed_width``...)
and the small sums and clips beside them (``tf.accumulate_n``, ``tf.clip_by_average_norm``).

Where the result's size depends on the values (a partition's rows, a set difference), the positions come from a
host call (``host_ops.py_func``) and the values are taken with ``tf.gather``, so gradients flow to the data as in
TF-1; the positions have none."""

from __future__ import annotations

import builtins

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_operand, as_tf, as_tf_dtype, int32, int64, op
from ember.compat.tf.array_ops import _typed, concat, gather, reshape
from ember.compat.tf.host_ops import py_func
from ember.compat.tf.value_sized import boolean_mask

__all__ = [
    "accumulate_n", "clip_by_average_norm", "dynamic_partition", "dynamic_stitch", "histogram_fixed_width",
    "invert_permutation", "searchsorted", "setdiff1d", "unravel_index",
]


def _index_dtype(what: str, dtype) -> np.dtype:
    dtype = as_tf_dtype(dtype)
    if dtype not in (int32, int64):
        raise TypeError(f"tf.{what}: the index dtype must be int32 or int64, got {dtype}")
    return dtype


def _integers(what: str, t: Tensor, arg: str) -> None:
    if t.dtype is not None and t.dtype not in (int32, int64):
        raise TypeError(f"tf.{what}: {arg} must be int32 or int64, got '{t.name}' of dtype {t.dtype}")


def setdiff1d(x, y, index_dtype=int32, name: str | None = None):
    """``(out, idx)``: the elements of 1-D ``x`` not in 1-D ``y``, in ``x``'s order (repeats kept), and their
    positions in ``x`` (``index_dtype``)."""
    x, y = as_tf(x), as_tf(y)
    dtype = _index_dtype("setdiff1d", index_dtype)
    for t, arg in ((x, "x"), (y, "y")):
        if t.shape is not None and len(t.shape) != 1:
            raise ValueError(f"tf.setdiff1d: {arg} must be 1-D, got '{t.name}' of shape {list(t.shape)}")
    if x.dtype is not None and y.dtype is not None and x.dtype != y.dtype:
        raise TypeError(f"tf.setdiff1d: x and y must have one dtype, got {x.dtype} and {y.dtype}")
    idx = py_func(lambda a, b: np.flatnonzero(~np.isin(a, b)).astype(dtype), [x, y], dtype,
                  name=name or "ListDiff")
    idx.set_shape([None])
    return SetDiffResult(gather(x, idx, name=f"{name or 'ListDiff'}/out"), idx)


class SetDiffResult(builtins.tuple):
    """``setdiff1d``'s ``(out, idx)``, also readable by name."""

    def __new__(cls, out: Tensor, idx: Tensor):
        return super().__new__(cls, (out, idx))

    out = property(lambda self: self[0])
    idx = property(lambda self: self[1])


def dynamic_partition(data, partitions, num_partitions: int, name: str | None = None) -> list:
    """``num_partitions`` tensors: the slices of ``data`` whose ``partitions`` entry (int32 in
    ``[0, num_partitions)``; its shape a prefix of ``data``'s) is ``i``, in order, as TF-1's."""
    data, partitions = as_tf(data), as_tf(partitions)
    count = int(num_partitions)
    if count < 1:
        raise ValueError(f"tf.dynamic_partition: num_partitions must be >= 1, got {count}")
    if partitions.dtype is not None and partitions.dtype != int32:
        raise TypeError(f"tf.dynamic_partition: partitions must be int32, got '{partitions.name}' of dtype "
                        f"{partitions.dtype}")
    if partitions.shape is not None and data.shape is not None and (
            len(partitions.shape) > len(data.shape) or any(
                p is not None and d is not None and p != d for p, d in zip(partitions.shape, data.shape))):
        raise ValueError(f"tf.dynamic_partition: the shape of partitions {list(partitions.shape)} must be a prefix of "
                         f"data's {list(data.shape)}")

    def checked(p):
        if p.size and (p.min() < 0 or p.max() >= count):
            raise ValueError(f"tf.dynamic_partition: partitions must be in [0, {count}), got values from "
                             f"{int(p.min())} to {int(p.max())}")
        return p

    valid = py_func(checked, [partitions], int32, name=f"{name or 'DynamicPartition'}/check")
    valid.set_shape(list(partitions.shape) if partitions.shape is not None else None)
    if partitions.shape is not None and not len(partitions.shape):  # a scalar partition: data as one row
        data, valid = op(lambda a: ember.unsqueeze(a, 0), (data,), name="ExpandDims"), reshape(valid, [1])
    return [boolean_mask(data, op(lambda p, i=i: ember.eq(p, i), (valid,), name="Equal"),
                         name=f"{name or 'DynamicPartition'}_{i}") for i in range(count)]


def dynamic_stitch(indices, data, name: str | None = None) -> Tensor:
    """``merged[indices[m][i...], ...] = data[m][i..., ...]``: the slices of each ``data[m]`` put at the rows
    ``indices[m]`` gives (a later one wins where two name one row; a row none names is zeros), with
    ``max(indices) + 1`` rows, as TF-1's."""
    indices, data = [as_tf(i) for i in indices], [as_tf(d) for d in data]
    if not indices or len(indices) != len(data):
        raise ValueError(f"tf.dynamic_stitch: indices and data must be non-empty lists of one length, got "
                         f"{len(indices)} and {len(data)}")
    rest = None
    for i, d in zip(indices, data):
        if i.dtype is not None and i.dtype != int32:
            raise TypeError(f"tf.dynamic_stitch: indices must be int32, got '{i.name}' of dtype {i.dtype}")
        if i.shape is None or d.shape is None:
            raise ValueError(f"tf.dynamic_stitch: the ranks of '{i.name}' and '{d.name}' must be known")
        k = len(i.shape)
        if len(d.shape) < k or any(a is not None and b is not None and a != b for a, b in zip(i.shape, d.shape)):
            raise ValueError(f"tf.dynamic_stitch: data[m].shape must start with indices[m].shape, got "
                             f"{list(d.shape)} for {list(i.shape)}")
        tail = list(d.shape[k:])
        if rest is not None and (len(tail) != len(rest) or any(
                a is not None and b is not None and a != b for a, b in zip(tail, rest))):
            raise ValueError(f"tf.dynamic_stitch: the slices of data must have one shape, got {rest} and {tail}")
        rest = tail
    if len({d.dtype for d in data}) > 1:
        raise TypeError(f"tf.dynamic_stitch: data must have one dtype, got {[str(d.dtype) for d in data]}")
    flat_index = concat([reshape(i, [-1]) for i in indices], 0)
    rows = concat([op(lambda a, k=len(i.shape): ember.reshape(a, (-1, *a.shape[k:])), (d,), name="Reshape")
                   for i, d in zip(indices, data)], 0)

    def sources(index):  # for each merged row, the last concatenated row naming it; n (a zeros row) for none
        count = int(index.max()) + 1 if index.size else 0
        if index.size and index.min() < 0:
            raise ValueError(f"tf.dynamic_stitch: indices must be >= 0, got {int(index.min())}")
        where = np.full(count, index.size, np.int64)
        where[index] = np.arange(index.size)  # (NumPy assigns in order: the last duplicate wins)
        return where

    picked = py_func(sources, [flat_index], int64, name=f"{name or 'DynamicStitch'}/rows")
    picked.set_shape([None])
    padded = op(lambda a: ember.concatenate([a, ember.zeros((1, *a.shape[1:]), dtype=a.dtype)], 0), (rows,),
                name="Pad")
    return gather(padded, picked, name=name or "DynamicStitch")


def searchsorted(sorted_sequence, values, side: str = "left", out_type=int32, name: str | None = None) -> Tensor:
    """For each of ``values``, where it would go in the innermost axis of ``sorted_sequence`` to keep it sorted
    (``side='left'``: before equal entries, ``'right'``: after); the leading axes of the two match."""
    seq, vals = as_tf(sorted_sequence), as_tf(values)
    if side not in ("left", "right"):
        raise ValueError(f"tf.searchsorted: side must be 'left' or 'right', got {side!r}")
    dtype = _index_dtype("searchsorted", out_type)
    if seq.shape is not None and vals.shape is not None and (
            len(seq.shape) != len(vals.shape) or not len(seq.shape) or any(
                a is not None and b is not None and a != b for a, b in zip(seq.shape[:-1], vals.shape[:-1]))):
        raise ValueError(f"tf.searchsorted: sorted_sequence {list(seq.shape)} and values {list(vals.shape)} must "
                         "have one rank (>= 1) and equal leading dimensions")
    if seq.dtype is not None and vals.dtype is not None and seq.dtype != vals.dtype:
        raise TypeError(f"tf.searchsorted: sorted_sequence and values must have one dtype, got {seq.dtype} and "
                        f"{vals.dtype}")
    return op(lambda s, v: ember.cast(ember.searchsorted(s, v, right=side == "right"), dtype), (seq, vals),
              name=name or "SearchSorted")


def unravel_index(indices, dims, name: str | None = None) -> Tensor:
    """The coordinates of flat ``indices`` in an array of shape ``dims``: shape [len(dims)] + indices' shape,
    row-major, as NumPy's ``np.unravel_index`` stacked."""
    indices, dims = as_tf(indices), as_tf(dims)
    _integers("unravel_index", indices, "indices")
    _integers("unravel_index", dims, "dims")
    if indices.dtype is not None and dims.dtype is not None and indices.dtype != dims.dtype:
        raise TypeError(f"tf.unravel_index: indices and dims must have one dtype, got {indices.dtype} and {dims.dtype}")
    if dims.shape is not None and len(dims.shape) != 1:
        raise ValueError(f"tf.unravel_index: dims must be 1-D, got shape {list(dims.shape)}")

    def fn(i, d):
        # each axis' stride is the product of the sizes after it
        strides = ember.flip(ember.cumprod(ember.flip(ember.concatenate([d[1:], ember.ones((1,), dtype=d.dtype)]),
                                                      0), 0), 0)
        shape = (-1,) + (1,) * i.ndim
        return ember.remainder(ember.floor_divide(ember.unsqueeze(i, 0), ember.reshape(strides, shape)),
                               ember.reshape(d, shape))

    return op(fn, (indices, dims), name=name or "UnravelIndex")


def invert_permutation(x, name: str | None = None) -> Tensor:
    """The inverse of the permutation ``x`` (1-D int32 or int64): ``y[x[i]] = i``; anything but a permutation of
    0..n-1 is refused when the Session runs."""
    x = as_tf(x)
    _integers("invert_permutation", x, "x")
    if x.shape is not None and len(x.shape) != 1:
        raise ValueError(f"tf.invert_permutation: x must be 1-D, got '{x.name}' of shape {list(x.shape)}")

    def inverse(p):
        if sorted(p.tolist()) != list(range(p.size)):
            raise ValueError(f"tf.invert_permutation: x must be a permutation of 0..{p.size - 1}, got {p.tolist()}")
        return np.argsort(p).astype(p.dtype)

    out = py_func(inverse, [x], x.dtype or int32, name=name or "InvertPermutation")
    out.set_shape(list(x.shape) if x.shape is not None else [None])
    return out


def histogram_fixed_width(values, value_range, nbins: int = 100, dtype=int32, name: str | None = None) -> Tensor:
    """Counts of ``values`` in ``nbins`` equal bins over ``value_range`` [lo, hi]; values below lo count in the
    first bin, values at or above hi in the last, as TF-1's."""
    values, limits = as_tf(values), as_tf(value_range)
    out_dtype = _index_dtype("histogram_fixed_width", dtype)
    bins = int(nbins)
    if bins < 1:
        raise ValueError(f"tf.histogram_fixed_width: nbins must be >= 1, got {bins}")
    if limits.shape is not None and list(limits.shape) != [2]:
        raise ValueError(f"tf.histogram_fixed_width: value_range must have shape [2], got {list(limits.shape)}")

    def fn(v, r):
        v, r = ember.cast(ember.reshape(v, (-1,)), "float64"), ember.cast(r, "float64")
        scaled = (v - r[0]) / (r[1] - r[0]) * bins
        index = ember.cast(ember.clip(ember.floor(scaled), 0, bins - 1), "int64")
        hits = ember.eq(ember.unsqueeze(index, 1), ember.unsqueeze(ember.arange(bins, dtype="int64"), 0))
        return ember.cast(ember.sum(ember.cast(hits, "int64"), axis=0), out_dtype)

    return _typed(op(fn, (values, limits), name=name or "HistogramFixedWidth"), (bins,), out_dtype)


def accumulate_n(inputs, shape=None, tensor_dtype=None, name: str | None = None) -> Tensor:
    """The elementwise sum of a list of tensors of one shape and dtype (``shape`` and ``tensor_dtype``, when
    given, must match them), as ``tf.add_n``."""
    inputs = [as_tf(t) for t in inputs]
    if not inputs:
        raise ValueError("tf.accumulate_n: inputs must be a non-empty list of tensors")
    dtypes = {t.dtype for t in inputs}
    if len(dtypes) > 1 or tensor_dtype is not None and as_tf_dtype(tensor_dtype) not in dtypes:
        raise TypeError(f"tf.accumulate_n: the inputs must have one dtype{'' if tensor_dtype is None else ', '}"
                        f"{'' if tensor_dtype is None else str(as_tf_dtype(tensor_dtype))}, got "
                        f"{[str(t.dtype) for t in inputs]}")
    shapes = [list(shape)] if shape is not None else []
    shapes += [list(t.shape) for t in inputs if t.shape is not None]
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or any(a is not None and b is not None and a != b for a, b in zip(s, shapes[0])):
            raise ValueError(f"tf.accumulate_n: the inputs must have one shape (shape={shape}), got "
                             f"{[None if t.shape is None else list(t.shape) for t in inputs]}")
    return op(lambda *xs: builtins.sum(xs[1:], xs[0]), (*inputs,), name=name or "AccumulateN")


def clip_by_average_norm(t, clip_norm, name: str | None = None) -> Tensor:
    """``t * clip_norm / max(clip_norm, l2norm(t) / n)`` for ``t`` of ``n`` elements: ``t`` scaled so that its
    L2 norm per element is at most ``clip_norm``, as TF-1's."""
    t = as_tf(t)

    def fn(x, c):
        c = ember.cast(c, x.dtype)
        count = builtins.max(int(np.prod(x.shape)), 1)
        inverse_norm = ember.rsqrt(ember.sum(x * x))
        return x * c * ember.minimum(inverse_norm * count, 1.0 / c)

    return op(fn, (t, as_operand(clip_norm, t)), name=name or "clip_by_average_norm")
