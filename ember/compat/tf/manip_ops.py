"""TF-1's slicing and rearranging functions beyond the basics: ``tf.strided_slice`` with its five masks,
``tf.roll``, ``tf.reverse_sequence`` and ``tf.where_v2``, each a recipe over Ember ops."""

from __future__ import annotations

import builtins

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_operand, as_tf, int64, op
from ember.compat.tf.value_sized import where as _where_true
from ember.ops.host import host_call

__all__ = ["reverse_sequence", "roll", "strided_slice", "where_v2"]


def _ints(what: str, name: str, values) -> list[int]:
    if isinstance(values, Tensor):
        raise TypeError(f"tf.{what}: {name} given as tf.Tensor '{values.name}' is not supported; pass a list of ints")
    values = np.asarray(values)
    if values.ndim > 1 or values.dtype.kind not in "iu":
        raise TypeError(f"tf.{what}: {name} must be an int or a 1-D list of ints, got {values.tolist()!r}")
    return [int(v) for v in values.reshape(-1)]


def _bit(mask: int, i: int) -> builtins.bool:
    return builtins.bool(int(mask) >> i & 1)


def strided_slice(input_, begin, end, strides=None, begin_mask: int = 0, end_mask: int = 0, ellipsis_mask: int = 0,
                  new_axis_mask: int = 0, shrink_axis_mask: int = 0, var=None, name: str | None = None) -> Tensor:
    """``input_[spec]`` for the slice spec that ``begin``, ``end`` and ``strides`` (1s when None) describe, one
    entry each, as TF-1's: bit i of ``begin_mask`` (``end_mask``) leaves entry i's begin (end) open, of
    ``ellipsis_mask`` makes it ``...``, of ``new_axis_mask`` a new axis of size 1 (``tf.newaxis``), of
    ``shrink_axis_mask`` the single index ``begin[i]`` (its axis dropped). Axes past the spec are kept whole;
    begins and ends are clamped to the axis as Python's slices are."""
    begin, end = _ints("strided_slice", "begin", begin), _ints("strided_slice", "end", end)
    strides = [1] * len(begin) if strides is None else _ints("strided_slice", "strides", strides)
    if not len(begin) == len(end) == len(strides):
        raise ValueError(f"tf.strided_slice: begin {begin}, end {end} and strides {strides} must have one entry "
                         "each per slice")
    if bin(int(ellipsis_mask)).count("1") > 1:
        raise ValueError(f"tf.strided_slice: multiple ellipses in the slice spec are not allowed "
                         f"(ellipsis_mask={ellipsis_mask})")
    spec: list = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        if _bit(ellipsis_mask, i):
            spec.append(Ellipsis)
        elif _bit(new_axis_mask, i):
            spec.append(None)
        elif s == 0:
            raise ValueError(f"tf.strided_slice: strides[{i}] must be non-zero, got strides {strides}")
        elif _bit(shrink_axis_mask, i):
            spec.append(b)
        else:
            spec.append(builtins.slice(None if _bit(begin_mask, i) else b, None if _bit(end_mask, i) else e, s))
    spec = tuple(spec)

    def fn(x):
        axis = 0
        for i, part in enumerate(spec):  # a single index must name an element, as TF's kernel asks
            if part is Ellipsis:
                axis = x.ndim - sum(p is not None for p in spec[i + 1:])
            elif isinstance(part, int):
                if axis >= x.ndim or not -x.shape[axis] <= part < x.shape[axis]:
                    raise IndexError(f"tf.strided_slice: index {part} (begin[{i}], shrink_axis_mask) is out of "
                                     f"bounds for input of shape {list(x.shape)}")
                axis += 1
            elif part is not None:
                axis += 1
        if axis > x.ndim:
            raise ValueError(f"tf.strided_slice: a slice spec of {len(begin)} entries for input of shape "
                             f"{list(x.shape)}")
        return x[spec]

    return op(fn, (as_tf(input_),), name=name or "StridedSlice")


def roll(input, shift, axis, name: str | None = None) -> Tensor:
    """``input`` with its elements shifted by ``shift`` along ``axis`` (ints, or lists of one length), those
    pushed past the end coming back at the start; an axis named twice is shifted by the sum."""
    shifts, axes = _ints("roll", "shift", shift), _ints("roll", "axis", axis)
    if len(shifts) != len(axes):
        raise ValueError(f"tf.roll: shift {shifts} and axis {axes} must have the same number of entries")

    def fn(x):
        totals: dict[int, int] = {}
        for s, a in zip(shifts, axes):
            if not -x.ndim <= a < x.ndim:
                raise ValueError(f"tf.roll: axis {a} is out of range for input of shape {list(x.shape)}")
            totals[a % x.ndim] = totals.get(a % x.ndim, 0) + s
        if not totals:
            return x
        return ember.roll(x, tuple(totals.values()), tuple(totals))

    return op(fn, (as_tf(input),), name=name or "Roll")


def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=None, name: str | None = None, seq_dim=None,
                     batch_dim=None) -> Tensor:
    """Each slice ``b`` of ``input`` along ``batch_axis`` (default 0) with its first ``seq_lengths[b]`` elements
    along ``seq_axis`` reversed, the rest kept; a length below 0 or above the axis is refused when the op runs."""
    seq_axis = seq_dim if seq_axis is None else seq_axis
    batch_axis = (0 if batch_dim is None else batch_dim) if batch_axis is None else batch_axis
    if seq_axis is None:
        raise TypeError("tf.reverse_sequence: seq_axis must be given")
    seq_axis, batch_axis = int(seq_axis), int(batch_axis)
    lengths = as_tf(seq_lengths)
    if lengths.dtype is not None and lengths.dtype.kind not in "iu":
        raise TypeError(f"tf.reverse_sequence: seq_lengths must be integers, got '{lengths.name}' of dtype "
                        f"{lengths.dtype}")

    def fn(x, n):
        s, b = seq_axis % builtins.max(x.ndim, 1), batch_axis % builtins.max(x.ndim, 1)
        if not -x.ndim <= seq_axis < x.ndim or not -x.ndim <= batch_axis < x.ndim or s == b:
            raise ValueError(f"tf.reverse_sequence: seq_axis {seq_axis} and batch_axis {batch_axis} must be two "
                             f"different axes of input of shape {list(x.shape)}")
        if n.ndim != 1 or n.shape[0] != x.shape[b]:
            raise ValueError(f"tf.reverse_sequence: seq_lengths of shape {list(n.shape)} must be 1-D with one length "
                             f"per entry of batch axis {b} of input of shape {list(x.shape)}")
        size = int(x.shape[s])

        def checked(lengths):
            bad = np.flatnonzero((lengths < 0) | (lengths > size))
            if bad.size:
                k = int(bad[0])
                raise ValueError(f"tf.reverse_sequence: seq_lengths[{k}] = {int(lengths[k])} is not in [0, {size}] "
                                 f"(the size of seq_axis {s} of input of shape {list(x.shape)})")
            return lengths

        n = host_call(checked, [n], tuple(n.shape), n.dtype, name="tf.reverse_sequence")
        at_seq, at_batch = [1] * x.ndim, [1] * x.ndim
        at_seq[s], at_batch[b] = size, -1
        t = ember.reshape(ember.arange(size, dtype=int64), tuple(at_seq))
        n = ember.reshape(ember.cast(n, int64), tuple(at_batch))
        index = ember.broadcast_to(ember.where(ember.lt(t, n), n - 1 - t, t), tuple(x.shape))
        return ember.gather(x, s, index)

    return op(fn, (as_tf(input), lengths), name=name or "ReverseSequence")


def where_v2(condition, x=None, y=None, name: str | None = None) -> Tensor:
    """``tf.where_v2``: elements of ``x`` where the bool ``condition`` is true, of ``y`` elsewhere, all three
    broadcast together (TF-1's ``tf.where`` takes a 1-D condition's rows instead); with neither ``x`` nor
    ``y``, the coordinates of the true elements, as ``tf.where``."""
    if x is None and y is None:
        return _where_true(condition, name=name)
    if x is None or y is None:
        raise TypeError("tf.where_v2: give both x and y, or neither (the coordinates of the true elements)")
    if isinstance(x, Tensor):
        y = as_operand(y, x)
    elif isinstance(y, Tensor):
        x = as_operand(x, y)
    condition, x, y = as_tf(condition), as_tf(x), as_tf(y)
    if condition.dtype is not None and condition.dtype.kind != "b":
        raise TypeError(f"tf.where_v2: condition must be bool, got '{condition.name}' of dtype {condition.dtype}")
    if x.dtype is not None and y.dtype is not None and x.dtype != y.dtype:
        raise TypeError(f"tf.where_v2: x '{x.name}' of dtype {x.dtype} and y '{y.name}' of dtype {y.dtype} must "
                        "have one dtype")
    return op(ember.where, (condition, x, y), name=name or "SelectV2")
