"""``tf.nn.embedding_lookup``: rows of one table or of a table split into shards (TF's 'mod' and 'div'
partition strategies), optionally clipped to an L2 norm."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, int64, op
from ember.compat.tf.array_ops import gather
from ember.compat.tf.clip_ops import safe_norm
from ember.compat.tf.host_ops import py_func
from ember.ops.indexing import table_rows

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


def _partition(sizes: list, strategy: str):
    """The host function routing flat ids to the shards as TF-1 does: 'mod' puts id p in shard p % n at row
    p // n; 'div' gives the shards contiguous ranges of ids, the first (total % n) shards one id more. It
    returns each shard's rows and, in the ids' shape, where each id's row is in the shards' looked-up rows
    concatenated (TF-1's dynamic_partition and dynamic_stitch)."""
    n, total = len(sizes), sum(sizes)
    per, extras = divmod(total, n)

    def route(given: np.ndarray) -> list:
        ids = given.reshape(-1).astype(np.int64)
        if strategy == "mod":
            shard, row = ids % n, ids // n
        else:
            low = ids < extras * (per + 1)  # the ids in the larger shards
            rest = ids - extras * (per + 1)
            shard = np.where(low, ids // (per + 1), extras + (rest // per if per else n))
            row = np.where(low, ids % (per + 1), rest % per if per else 0)
        inside = (ids >= 0) & (shard < n)
        inside[inside] &= row[inside] < np.asarray(sizes)[shard[inside]]
        if not inside.all():
            k = int(np.flatnonzero(~inside)[0])
            raise IndexError(f"tf.nn.embedding_lookup: ids must lie in [0, {total}) ({n} shards of {sizes} rows, "
                             f"partition_strategy={strategy!r}), got {int(ids[k])}")
        grouped = np.argsort(shard, kind="stable")
        order = np.empty_like(grouped)
        order[grouped] = np.arange(grouped.size)
        return [row[shard == k] for k in range(n)] + [order.reshape(given.shape)]

    return route


def embedding_lookup(params, ids, partition_strategy: str = "mod", name: str | None = None,
                     validate_indices: bool = True, max_norm=None) -> Tensor:
    """The rows of ``params`` at ``ids`` (any shape), as TF-1's: ``params`` is a table or a list of shards
    of one (split by ``partition_strategy``, 'mod' or 'div'); with ``max_norm``, each looked-up row whose L2
    norm is above it is scaled down to that norm. Each shard is looked up with its own ids only, so its
    gradient names only the rows looked up in it (TF-1's IndexedSlices, which an optimizer applies by rows)."""
    shards = [as_tf(p) for p in (params if isinstance(params, (list, tuple)) else [params])]
    if not shards:
        raise ValueError("tf.nn.embedding_lookup: params must be a tensor or a non-empty list of shards")
    if partition_strategy not in ("mod", "div"):
        raise ValueError(f"tf.nn.embedding_lookup: partition_strategy must be 'mod' or 'div', got "
                         f"{partition_strategy!r}")
    ids = as_tf(ids)
    if ids.dtype is not None and ids.dtype.kind not in "iu":
        raise TypeError(f"tf.nn.embedding_lookup: ids must be int32 or int64, got '{ids.name}' of dtype {ids.dtype}")
    limit = None if max_norm is None else float(max_norm)

    def clipped(rows, i):
        if limit is None:
            return rows
        axes = tuple(range(i.ndim, rows.ndim))
        return rows * limit / ember.maximum(safe_norm(rows, axes), limit)

    if len(shards) > 1:
        return _sharded(shards, ids, partition_strategy, clipped, name or "embedding_lookup")

    def fn(i, table):
        i = ember.cast(i, "int64")
        # (embedding, unlike take, refuses a negative id rather than counting it from the end; its gradient is
        # row-sparse for a table of any rank: TF-1's IndexedSlices, which an optimizer applies by rows)
        return clipped(table_rows(i, table, sparse=True), i)

    return op(fn, (ids, *shards), name=name or "embedding_lookup")


def _sharded(shards: list, ids: Tensor, strategy: str, clipped, name: str) -> Tensor:
    """The lookup in a list of shards, as TF-1's: the ids routed to the shards (a host call, as the rows each
    shard gets depend on their values), each shard gathered at its own rows, the results put back in order."""
    sizes = _shard_sizes(shards)
    first = shards[0]
    for shard in shards[1:]:
        if shard.dtype is not None and first.dtype is not None and shard.dtype != first.dtype:
            raise TypeError(f"tf.nn.embedding_lookup: the shards must have one dtype, got '{first.name}' of "
                            f"{first.dtype} and '{shard.name}' of {shard.dtype}")
        if len(shard.shape) != len(first.shape) or any(
                a is not None and b is not None and a != b for a, b in zip(shard.shape[1:], first.shape[1:])):
            raise ValueError(f"tf.nn.embedding_lookup: the shards' rows must have one shape, got '{first.name}' of "
                             f"shape {list(first.shape)} and '{shard.name}' of shape {list(shard.shape)}")
    routed = py_func(_partition(sizes, strategy), [ids], [int64] * (len(shards) + 1), name=f"{name}/partition")
    for t in routed[:-1]:
        t.set_shape([None])
    if ids.shape is not None:
        routed[-1].set_shape(list(ids.shape))
    parts = [gather(shard, rows, name=f"{name}/Gather_{k}") for k, (shard, rows) in enumerate(zip(shards, routed))]

    def stitch(order, *looked_up):
        return clipped(ember.take(ember.concatenate(list(looked_up), 0), order, axis=0), order)

    return op(stitch, (routed[-1], *parts), name=name)
