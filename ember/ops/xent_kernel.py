"""Sparse softmax cross-entropy's loss and gradient for one known shape, as generated code calls them.

The joint forward (``ember.ops.loss``) works for any shape; a compiled step calls it with one shape on every
call, so the arrays it only uses inside (the shifted logits, their exps, the row sums, the target offsets)
can be made once. ``SparseXentKernel`` does that and computes the same numbers with the same NumPy calls in the
same order, bit for bit, in a third of the calls; a call it does not cover (an ignored or invalid target, a
layout it was not made for) goes to the general forward.

>>> kernel = SparseXentKernel((32, 3), np.float32, np.int64, "mean", general)
>>> loss, grad = kernel(logits, target, g)        # what general(np, logits, target, g) returns
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ember.ops.kernels import sum_ones, sums_rows

_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # targets seen without their sign


class SparseXentKernel:
    """``(loss, gradient)`` of sparse softmax cross-entropy (``reduction`` "mean" or "sum") of C-ordered
    float32/float64 logits of ``shape`` against integer targets, every one a class; else ``general(np, ...)``.
    The loss is a NumPy scalar and the gradient a new array on every call."""

    __slots__ = ("shape", "strides", "unsigned", "limits", "below", "valid", "general", "parts", "scale", "scales")

    def __init__(self, shape: tuple, dtype, target_dtype, reduction: str, general: Callable):
        rows, classes = shape
        dtype = np.dtype(dtype)
        self.shape, self.general = shape, general
        self.strides = (classes * dtype.itemsize, dtype.itemsize)
        self.unsigned = _UNSIGNED[np.dtype(target_dtype).itemsize]
        # arrays of the comparison's shape, not scalars: NumPy's same-shape loop costs half a scalar operand's
        self.limits = np.full(rows, classes, self.unsigned)
        self.below = np.empty(rows, bool)
        self.valid = np.ones(rows, bool).tobytes()
        self.scale, self.scales = None, None  # the last gradient scale, and an array of the gradient's shape of it
        top = np.empty(rows, dtype)
        shifted = np.empty(shape, dtype)
        total = np.empty((rows, 1), dtype)
        starts = np.arange(rows) * classes
        # short rows: a row's value repeated along its row by a gather, so that the subtraction and division are
        # same-shape loops (NumPy's broadcast over a short last axis costs more than the gather)
        repeat_rows = np.repeat(np.arange(rows), classes) if classes <= 8 else None
        # the row max column by column for short rows (fewer passes than a reduction over them), else reduced
        columns = [(slice(None), j) for j in range(classes)] if classes <= 8 else None
        # the row sums as eager mode's ``sum_last`` computes them: by a product with ones, or a reduction
        ones = sum_ones(classes, dtype, "column") if sums_rows(shape, dtype, 1) else None
        # read in one go on every call
        spread = np.empty(shape, dtype)
        self.parts = (columns, top, top.reshape(rows, 1), shifted, shifted.reshape(-1), np.empty(shape, dtype),
                      ones, total, total.reshape(-1), starts, np.empty(rows, starts.dtype), np.empty(rows, dtype),
                      dtype.type(rows) if reduction == "mean" else None, repeat_rows, spread, spread.reshape(-1))

    def __call__(self, logits, target, g):
        # every target a class (a negative one is a huge unsigned number), checked without a reduction's setup
        if logits.strides != self.strides \
                or np.less(target.view(self.unsigned), self.limits, out=self.below).tobytes() != self.valid:
            return self.general(np, logits, target, g)  # ignored or invalid targets, another layout
        columns, top, top_column, shifted, shifted_flat, exp, ones, total, rows, starts, offsets, picked, count, \
            repeat_rows, spread, spread_flat = self.parts
        if columns is None:
            np.maximum.reduce(logits, 1, None, top_column, True)
        elif len(columns) == 1:
            np.copyto(top, logits[columns[0]])
        else:
            np.maximum(logits[columns[0]], logits[columns[1]], out=top)
            for column in columns[2:]:
                np.maximum(top, logits[column], out=top)
        if repeat_rows is None:
            np.subtract(logits, top_column, out=shifted)
        else:
            top.take(repeat_rows, out=spread_flat)
            np.subtract(logits, spread, out=shifted)
        np.exp(shifted, out=exp)
        if ones is not None:
            np.dot(exp, ones, out=total)
        else:
            np.add.reduce(exp, 1, None, total, True)
        np.add(starts, target, out=offsets)
        if repeat_rows is None:
            grad = np.divide(exp, total)
        else:
            rows.take(repeat_rows, out=spread_flat)
            grad = np.divide(exp, spread)
        # the loss: log(sum(exp)) less the target's shifted logit, per row, then reduced (into ``rows``, the row
        # sums' memory, once the gradient has read them)
        np.log(rows, out=rows)
        rows -= shifted_flat.take(offsets, out=picked)
        loss = np.add.reduce(rows, None)
        grad.reshape(-1)[offsets] -= 1
        if g.__class__ is np.ndarray and not g.ndim:  # a 0-d array: its scalar divides at a third of the cost
            g = g[()]
        if count is None:  # "sum"
            self._scale(grad, g)
            return loss, grad
        self._scale(grad, g / count)
        return loss / count, grad

    def _scale(self, grad, scale) -> None:
        """``grad *= scale``, by an array of the gradient's shape (half a scalar operand's cost) where the scale
        is the last call's (signed zeros and NaN take the scalar: they compare unlike their bits)."""
        if scale.__class__ is self.scale.__class__ and scale == self.scale and scale:
            np.multiply(grad, self.scales, out=grad)
            return
        grad *= scale
        if isinstance(scale, np.generic | float):
            self.scale, self.scales = scale, np.full(grad.shape, scale, np.result_type(grad, scale))


def sparse_xent_kernel(general: Callable, logits, target, g, *, ignore_index: int,
                       reduction: str) -> SparseXentKernel | None:
    """The kernel for inputs like ``logits``, ``target``, ``g`` (anything with a shape and a dtype: a graph's
    values), or None where the general forward is the one to call (unknown sizes, reduction "none", an
    ignore_index that is a class, low-precision logits)."""
    shape = tuple(logits.shape)
    if len(shape) != 2 or None in shape or 0 in shape or reduction not in ("mean", "sum") \
            or np.dtype(logits.dtype) not in (np.dtype(np.float32), np.dtype(np.float64)) \
            or np.dtype(target.dtype).kind not in "iu" or tuple(target.shape) != shape[:1] \
            or 0 <= ignore_index < shape[1]:
        return None
    general = functools.partial(general, ignore_index=ignore_index, reduction=reduction)
    return SparseXentKernel(shape, logits.dtype, target.dtype, reduction, general)
