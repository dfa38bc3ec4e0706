"""``tf.nn.embedding_lookup``: rows of one table or of a table split into shards (TF's 'mod' and 'div'
partition strategies), optionally clipped to an L2 norm."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, op
from ember.compat.tf.clip_ops import safe_norm

__all__ = ["embedding_lookup"]


def _shard_sizes(params: list) -> list:
    sizes = []
    for p in params:
        if p.shape is None or len(p.shape) == 0 or p.shape[0] is None:
            shape = "<unknown>" if p.shape is None else list(p.shape)
            raise ValueError(f"tf.nn.embedding_lookup: the first dimension of every shard must be known while the "
                             f"graph is built; '{p.name}' has shape {shape}")
        sizes.append(int(p.shape[0]))
    return sizes


def _rows(ids, sizes: list, strategy: str):
    """Each id's row in the shards concatenated in order, for TF's partition strategies: 'mod' puts id p in
    shard p % n at row p // n; 'div' gives the shards contiguous ranges of ids, the first (total % n) shards
    one id more."""
    n = len(sizes)
    offsets = ember.tensor(np.cumsum([0] + sizes[:-1]).astype(np.int64))
    if strategy == "mod":
        return ember.take(offsets, ember.remainder(ids, n)) + ember.floor_divide(ids, n)
    per, extras = divmod(sum(sizes), n)
    boundary = extras * (per + 1)  # the ids below it are in the larger shards
    low_shard, low_row = ember.floor_divide(ids, per + 1), ember.remainder(ids, per + 1)
    rest = ember.maximum(ids - boundary, 0)
    high_shard = extras + (ember.floor_divide(rest, per) if per else rest * 0)
    high_row = ember.remainder(rest, per) if per else rest * 0
    low = ember.lt(ids, boundary)
    return ember.take(offsets, ember.where(low, low_shard, high_shard)) + ember.where(low, low_row, high_row)


def embedding_lookup(params, ids, partition_strategy: str = "mod", name: str | None = None,
                     validate_indices: bool = True, max_norm=None) -> Tensor:
    """The rows of ``params`` at ``ids`` (any shape), as TF-1's: ``params`` is a table or a list of shards
    of one (split by ``partition_strategy``, 'mod' or 'div'); with ``max_norm``, each looked-up row whose L2
    norm is above it is scaled down to that norm."""
    shards = [as_tf(p) for p in (params if isinstance(params, (list, tuple)) else [params])]
    if not shards:
        raise ValueError("tf.nn.embedding_lookup: params must be a tensor or a non-empty list of shards")
    if partition_strategy not in ("mod", "div"):
        raise ValueError(f"tf.nn.embedding_lookup: partition_strategy must be 'mod' or 'div', got "
                         f"{partition_strategy!r}")
    ids = as_tf(ids)
    if ids.dtype is not None and ids.dtype.kind not in "iu":
        raise TypeError(f"tf.nn.embedding_lookup: ids must be int32 or int64, got '{ids.name}' of dtype {ids.dtype}")
    sizes = _shard_sizes(shards) if len(shards) > 1 else None
    limit = None if max_norm is None else float(max_norm)

    def fn(i, *tables):
        i = ember.cast(i, "int64")
        table = tables[0] if sizes is None else ember.concat(list(tables), axis=0)
        if sizes is not None:  # an id outside [0, total) stays itself, for the lookup to refuse it as TF does
            inside = ember.ge(i, 0) & ember.lt(i, sum(sizes))
            i = ember.where(inside, _rows(ember.where(inside, i, 0), sizes, partition_strategy), i)
        # (embedding, unlike take, refuses a negative id rather than counting it from the end)
        if table.ndim == 2:  # (its gradient row-sparse: TF-1's IndexedSlices, which an optimizer applies by rows)
            rows = ember.embedding(i, table, sparse=True)
        else:
            rows = ember.reshape(ember.embedding(i, ember.reshape(table, (table.shape[0], -1))),
                                 tuple(i.shape) + tuple(table.shape[1:]))
        if limit is None:
            return rows
        axes = tuple(range(i.ndim, rows.ndim))
        return rows * limit / ember.maximum(safe_norm(rows, axes), limit)

    return op(fn, (ids, *shards), name=name or "embedding_lookup")
