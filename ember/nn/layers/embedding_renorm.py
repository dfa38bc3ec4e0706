"""``max_norm`` of Embedding and EmbeddingBag: the looked-up rows of the weight renormalized in place, as PyTorch's
``embedding_renorm_``."""

from __future__ import annotations

import numpy as np

from ember import ops as _ops
from ember.autograd import no_grad
from ember.grad_mode import mark_written
from ember.tensor import Tensor


def embedding_renorm_(weight: Tensor, ids, max_norm: float, norm_type: float = 2.0) -> None:
    """Scale each row of ``weight`` that ``ids`` looks up whose ``norm_type``-norm exceeds ``max_norm`` to norm
    ``max_norm`` (by max_norm / (norm + 1e-7)), in place and unrecorded (an ``assign``, so a trace repeats it);
    a backward of anything that read the weight's values before refuses to run, as PyTorch's version check."""
    ids = _ops.reshape(_integer_ids(ids), (-1,))
    with no_grad():
        rows = _renormed(_ops.embedding(ids, weight), max_norm, norm_type)
        if np.dtype(weight.dtype).kind == "c":
            renormed = _ops.index_copy(weight, 0, ids, rows)
        else:  # an id looked up twice has its row twice, the same: amax keeps it (index_copy averages the copies)
            index = _ops.broadcast_to(_ops.reshape(ids, (-1, 1)), tuple(rows.shape))
            renormed = _ops.scatter_reduce(weight, 0, index, rows, "amax", include_self=False)
        _ops.assign(weight, renormed)
    if not weight.symbolic:  # a backward through an earlier read of the weight now refuses, as PyTorch's
        mark_written(weight)


def renormed_rows(weight: Tensor, ids, max_norm: float, norm_type: float = 2.0) -> Tensor:
    """The values ``embedding_renorm_`` and then a lookup of ``ids`` (any shape) give, without writing the weight:
    what an inference graph (an export) computes, where a variable write has no place."""
    return _renormed(_ops.embedding(_integer_ids(ids), weight), max_norm, norm_type)


def _integer_ids(ids) -> Tensor:
    ids = _ops.as_tensor(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding: ids must be integers, got {ids.dtype}")
    return ids


def _renormed(rows: Tensor, max_norm: float, norm_type: float) -> Tensor:
    """``rows`` (along the last axis) of a ``norm_type``-norm above ``max_norm`` scaled by max_norm / (norm + 1e-7)."""
    norms = _ops.cast(_ops.norm(rows, norm_type, axis=-1, keepdims=True), np.float64)
    scale = _ops.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    return rows * _ops.cast(scale, rows.dtype)
