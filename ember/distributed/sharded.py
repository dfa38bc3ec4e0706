"""Embedding tables split row-wise across ranks: each id lives on the rank its hash picks.

A lookup deduplicates the batch's ids, sends each to its owner (all-to-all), the owner reads (or creates)
the rows in its local ``HashEmbedding`` shard, and the rows travel back (all-to-all, differentiable): in
backward the gradients follow the same route to their owners, whose sparse optimizers update the rows and
the slots stored beside them. No rank holds the whole table.
"""

from __future__ import annotations

import numpy as np

from ember.distributed.group import default_group
from ember.distributed.ops import all_to_all
from ember.embedding.hashing import as_keys, mix64
from ember.embedding.layers import HashEmbedding
from ember.nn.module import Module
from ember.ops.indexing import take
from ember.ops.shape import reshape
from ember.tensor import Tensor


def shard_of(keys: np.ndarray, world_size: int) -> np.ndarray:
    """The rank that owns each int64 key (a mixed hash, so consecutive ids spread over ranks)."""
    return (mix64(keys.astype(np.int64, copy=False).view(np.uint64) ^ np.uint64(0x5BD1E995))
            % np.uint64(world_size)).astype(np.int64)


class ShardedHashEmbedding(Module):
    """A ``HashEmbedding`` whose rows are spread over the ranks of the process group, by id.

    Every rank calls it with its own batch of ids (collectively: all ranks, every step) and gets
    ``ids.shape + (embedding_dim,)`` rows back. Keyword arguments go to this rank's ``HashEmbedding`` shard
    (``initializer``, ``seed``, ``admission``, ``eviction``...); new rows depend only on id and seed, so a
    sharded table trains exactly as one table in one process would. Optimize ``parameters()`` with any
    sparse optimizer; ``DistributedDataParallel`` leaves these parameters alone (they are not replicas).

    >>> emb = dist.ShardedHashEmbedding(16, seed=0)
    >>> rows = emb(np.array([[3, 10**12], [7, 3]]))     # (2, 2, 16) on every rank
    """

    sharded = True  # DistributedDataParallel skips the parameters of sharded modules

    def __init__(self, embedding_dim: int, **shard_options) -> None:
        super().__init__()
        self.shard = HashEmbedding(embedding_dim, **shard_options)
        self.embedding_dim = self.shard.embedding_dim

    def extra_repr(self) -> str:
        return f"{self.embedding_dim}, world_size={default_group().size}, local_rows={len(self.shard)}"

    def forward(self, ids) -> Tensor:
        group = default_group()
        keys = as_keys(ids)
        unique, inverse = np.unique(keys.reshape(-1), return_inverse=True)
        owner = shard_of(unique, group.size)
        order = np.argsort(owner, kind="stable")
        send_counts = np.bincount(owner, minlength=group.size)
        wanted, recv_counts = group.all_to_all(unique[order], send_counts)
        rows = self.shard(wanted)
        returned = all_to_all(rows, recv_counts.tolist(), send_counts.tolist())
        if returned.requires_grad and group.size > 1:
            # as DistributedDataParallel averages dense gradients, a row's gradient is the mean over ranks
            # of the ranks' gradients: training matches one process on the global batch
            scale = 1.0 / group.size
            returned.register_hook(lambda g: g * scale)
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        out = take(returned, position[inverse.reshape(-1)], axis=0)
        return reshape(out, tuple(keys.shape) + (self.embedding_dim,))
