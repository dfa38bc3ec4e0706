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

    __slots__ = ("shape", "strides", "classes", "unsigned", "limit", "valid", "general", "mean", "count", "top",
                 "top_column", "shifted", "shifted_flat", "exp", "total", "rows", "picked", "starts", "offsets", "ones")

    def __init__(self, shape: tuple, dtype, target_dtype, reduction: str, general: Callable):
        rows, classes = shape
        dtype = np.dtype(dtype)
        self.shape, self.classes, self.general = shape, classes, general
        self.strides = (classes * dtype.itemsize, dtype.itemsize)
        self.unsigned = _UNSIGNED[np.dtype(target_dtype).itemsize]
        self.limit = np.uint64(classes)
        self.valid = np.ones(rows, bool).tobytes()
        self.mean = reduction == "mean"
        self.count = dtype.type(rows)
        self.top = np.empty(rows, dtype)
        self.top_column = self.top.reshape(rows, 1)
        self.shifted = np.empty(shape, dtype)
        self.shifted_flat = self.shifted.reshape(-1)
        self.exp = np.empty(shape, dtype)
        self.total = np.empty((rows, 1), dtype)
        self.rows = self.total.reshape(-1)
        self.picked = np.empty(rows, dtype)
        self.starts = np.arange(rows) * classes
        self.offsets = np.empty(rows, self.starts.dtype)
        # the row sums as eager mode's ``sum_last`` computes them: by a product with ones, or a reduction
        self.ones = sum_ones(classes, dtype, "column") if sums_rows(shape, dtype, 1) else None

    def __call__(self, logits, target, g):
        # every target a class (a negative one is a huge unsigned number), checked without a reduction's setup
        if logits.strides != self.strides or (target.view(self.unsigned) < self.limit).tobytes() != self.valid:
            return self.general(np, logits, target, g)  # ignored or invalid targets, another layout
        top, shifted, exp, total, rows, offsets = (self.top, self.shifted, self.exp, self.total, self.rows,
                                                   self.offsets)
        if self.classes <= 8:  # the row max column by column: fewer passes than a reduction over short rows
            np.maximum(logits[:, 0], logits[:, 1], out=top) if self.classes > 1 else np.copyto(top, logits[:, 0])
            for j in range(2, self.classes):
                np.maximum(top, logits[:, j], out=top)
        else:
            np.maximum.reduce(logits, 1, None, self.top_column, True)
        np.subtract(logits, self.top_column, out=shifted)
        np.exp(shifted, out=exp)
        if self.ones is not None:
            np.dot(exp, self.ones, out=total)
        else:
            np.add.reduce(exp, 1, None, total, True)
        np.add(self.starts, target, out=offsets)
        # the loss: log(sum(exp)) less the target's shifted logit, per row, then reduced (computed into ``rows``
        # after the gradient has read ``total``)
        grad = np.divide(exp, total)
        np.log(rows, out=rows)
        rows -= self.shifted_flat.take(offsets, out=self.picked)
        loss = np.add.reduce(rows, None)
        grad.reshape(-1)[offsets] -= 1
        if self.mean:
            loss = loss / self.count
            grad *= g / self.count
        else:
            grad *= g
        return loss, grad


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
