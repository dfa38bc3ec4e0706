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
from ember.distributed.placement import agree_on_table, keep_owned_rows, replace_hash_embeddings, table_settings
from ember.embedding.hashing import as_keys, mix64
from ember.embedding.layers import HashEmbedding
from ember.embedding.lookup import lookup
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
    (``initializer``, ``seed``, ``admission``, ``eviction``...), alike on every rank: construction checks that
    the ranks agree (a ValueError naming the setting) and takes rank 0's seeds where they were drawn
    (``seed=None``); new rows depend only on id and seed, so a
    sharded table trains exactly as one table in one process would, except that ``capacity`` bounds each shard (the
    whole table holds up to ``capacity`` rows per rank, and each shard evicts among its own rows). Optimize
    ``parameters()`` with any
    sparse optimizer; ``DistributedDataParallel`` leaves these parameters alone (they are not replicas).

    >>> emb = dist.ShardedHashEmbedding(16, seed=0)
    >>> rows = emb(np.array([[3, 10**12], [7, 3]]))     # (2, 2, 16) on every rank
    """

    sharded = True  # DistributedDataParallel skips the parameters of sharded modules
    distributed_table = True

    def __init__(self, embedding_dim: int, **shard_options) -> None:
        super().__init__()
        self.shard = HashEmbedding(embedding_dim, **shard_options)
        agree_on_table(self.shard, table_settings(self.shard), default_group(), "ShardedHashEmbedding")
        self.embedding_dim = self.shard.embedding_dim

    @classmethod
    def from_embedding(cls, embedding: HashEmbedding) -> ShardedHashEmbedding:
        """Shard an existing ``HashEmbedding``, which every rank holds alike (a freshly built model, or one
        loaded from the same checkpoint): it becomes this rank's shard, keeping only the rows this rank owns
        (with their optimizer slots); its initializer, seed and policies stay as they are.

        >>> table = dist.ShardedHashEmbedding.from_embedding(HashEmbedding(16, seed=0))
        """
        if not isinstance(embedding, HashEmbedding):
            raise TypeError(f"ShardedHashEmbedding.from_embedding: expected a HashEmbedding, got "
                            f"{type(embedding).__name__}")
        group = default_group()
        agree_on_table(embedding, table_settings(embedding), group, "ShardedHashEmbedding.from_embedding")
        sharded = cls.__new__(cls)
        Module.__init__(sharded)
        sharded.shard = keep_owned_rows(embedding, lambda keys: shard_of(keys, group.size) == group.rank)
        sharded.embedding_dim = embedding.embedding_dim
        return sharded

    def extra_repr(self) -> str:
        return f"{self.embedding_dim}, world_size={default_group().size}, local_rows={len(self.shard)}"

    def forward(self, ids) -> Tensor:
        group = default_group()
        keys = as_keys(ids, "ShardedHashEmbedding: ids")
        unique, inverse, lookups = np.unique(keys.reshape(-1), return_inverse=True, return_counts=True)
        owner = shard_of(unique, group.size)
        order = np.argsort(owner, kind="stable")
        send_counts = np.bincount(owner, minlength=group.size)
        # each distinct key goes with how often this rank looks it up: the owner's admission policy and lookup
        # counts see every lookup, as one table in one process does
        wanted, recv_counts = group.all_to_all(np.stack([unique[order], lookups[order]], axis=1), send_counts)
        rows = lookup(self.shard.weight, wanted[:, 0], self.shard.training, wanted[:, 1])
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


def shard_embeddings(module: Module) -> Module:
    """Split every ``HashEmbedding`` inside ``module`` across the ranks (``ShardedHashEmbedding.from_embedding``),
    in place; returns ``module`` (or the sharded table when ``module`` is a ``HashEmbedding``). Every rank
    calls it on the same model, before building the optimizers; then wrap the model in
    ``DistributedDataParallel`` for its dense parameters and give each rank its part of every batch.

    >>> model = dist.shard_embeddings(ember.recsys.DeepFM(26, 13, embedding_dim=16))
    >>> ddp = dist.DistributedDataParallel(model)
    """
    return replace_hash_embeddings(module, ShardedHashEmbedding.from_embedding, "dist.shard_embeddings")
