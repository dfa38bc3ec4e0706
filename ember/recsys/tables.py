"""The embedding table behind every CTR model, and the field embedding that reads a ``CTRBatch`` with it.

All fields share one table keyed by field-salted keys (``ember.data.features.field_keys``): one lookup,
one row-sparse gradient and one optimizer update per step instead of one per field.
``make_table`` chooses its storage: a hash table (``ember.embedding.HashEmbedding``, rows created on
first sight, unbounded keys) or a fixed table of ``num_rows`` rows indexed by ``key % num_rows``.
"""

from __future__ import annotations

import numpy as np

from ember import ops
from ember.autograd import apply
from ember.creation import zeros
from ember.data.ctr_dataset import CTRBatch
from ember.embedding import Constant, HashEmbedding, Normal
from ember.embedding.lookup import HASH_LOOKUP, HashTableParameter
from ember.nn import init
from ember.nn.functional import embedding, embedding_bag
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.tensor import Tensor

TABLE_KINDS = ("hash", "fixed")


class FixedTable(Module):
    """A fixed table of ``num_rows`` rows for unbounded int64 keys (row ``key % num_rows``), drawn from
    N(0, ``init_std``), with row-sparse gradients. Distinct keys may share a row (hashing trick).

    >>> table = FixedTable(16, num_rows=1 << 20)
    >>> table(np.array([3, 1 << 40])).shape
    (2, 16)
    """

    def __init__(self, embedding_dim: int, num_rows: int, init_std: float = 0.01):
        super().__init__()
        if num_rows < 1:
            raise ValueError(f"FixedTable: num_rows must be >= 1, got {num_rows}")
        self.embedding_dim, self.num_rows = embedding_dim, num_rows
        self.weight = Parameter(zeros(num_rows, embedding_dim))
        init.normal_(self.weight, 0.0, init_std)

    def forward(self, keys) -> Tensor:
        keys = keys.array if isinstance(keys, Tensor) else np.asarray(keys)
        return embedding(Tensor._make(keys % self.num_rows, None), self.weight, sparse=True)

    def extra_repr(self) -> str:
        return f"{self.num_rows}, {self.embedding_dim}"


def make_table(embedding_dim: int, kind: str = "hash", *, num_rows: int = 1 << 20, init_std: float = 0.01,
               seed: int | None = None, **hash_options) -> Module:
    """An embedding table for int64 keys: ``kind="hash"`` a ``HashEmbedding`` (rows N(0, ``init_std``),
    created on first sight; ``hash_options`` such as ``admission``, ``eviction``, ``capacity``, ``dtype``,
    ``metadata`` go to it), ``"fixed"`` a ``FixedTable`` of ``num_rows`` rows.

    >>> table = make_table(16, "hash", seed=0)
    """
    if kind not in TABLE_KINDS:
        raise ValueError(f"make_table: kind must be one of {TABLE_KINDS}, got {kind!r}")
    if isinstance(init_std, bool) or not isinstance(init_std, (int, float, np.integer, np.floating)) \
            or not init_std >= 0:  # a negative or NaN one read as 0: zero rows, which an FM term never moves
        raise ValueError(f"make_table: init_std must be a number >= 0 (0 for zero rows), got {init_std!r}")
    if kind == "fixed":
        if hash_options:
            raise TypeError(f"make_table: {sorted(hash_options)} apply to hash tables, not kind='fixed'")
        return FixedTable(embedding_dim, num_rows, init_std)
    initializer = Normal(std=init_std) if init_std > 0 else Constant(0.0)
    return HashEmbedding(embedding_dim, initializer=initializer, seed=0 if seed is None else seed, **hash_options)


_COMBINERS = ("sum", "mean", "max")


class FieldEmbedding(Module):
    """Embeddings of a ``CTRBatch``'s fields: (B, F, dim) for F single-valued fields followed by the pooled
    bag fields, each pooled as the batch's ``combiners`` say (its ``Bag`` columns'), else by ``combiner``
    ("mean", "sum" or "max"; an empty bag gives zeros). Each distinct key of the batch is looked up once.

    >>> emb = FieldEmbedding(make_table(16, "fixed"))
    >>> emb(batch).shape      # (batch rows, fields, 16)
    """

    def __init__(self, table: Module, combiner: str = "mean"):
        super().__init__()
        if combiner not in _COMBINERS:
            raise ValueError(f"FieldEmbedding: combiner must be one of {_COMBINERS}, got {combiner!r}")
        self.table = table
        self.combiner = combiner
        self.embedding_dim = table.embedding_dim

    @property
    def _hashed(self) -> bool:
        return isinstance(getattr(self.table, "weight", None), HashTableParameter)

    def _prefetchable(self) -> bool:
        """Hash tables without eviction: a row found now is still that key's row at the step."""
        return self._hashed and not self.table.table.eviction and self.table.table.capacity is None

    def prefetch(self, batch: CTRBatch) -> None:
        """Resolve the table rows of ``batch.unique`` now (inserting new keys), so the step only gathers
        values. Runs in the data loader's thread while the previous step trains; training mode only."""
        if self.training and batch.unique is not None and self._prefetchable():
            # each distinct key counts as often as the batch looks it up (admission thresholds, counts)
            lookups = np.bincount(batch.inverse.reshape(-1), minlength=batch.unique.size)
            rows = self.table.rows(batch.unique, lookups)  # (rows chunk by chunk, the batch's entries among them)
            batch.prefetched[id(self)] = self.table.table.by_chunk(rows, batch.inverse.reshape(-1))

    def forward(self, batch: CTRBatch) -> Tensor:
        if not isinstance(batch, CTRBatch):
            raise TypeError(f"FieldEmbedding: expected a CTRBatch, got {type(batch).__name__}")
        found = batch.prefetched.get(id(self)) if self.training and self._hashed else None
        if found is not None:  # the loader found the rows of the batch's distinct keys: gather and go
            rows, inverse = found
            attrs = {"table": self.table.table, "unique": rows}
            inverse = Tensor._make(inverse.reshape(batch.inverse.shape), None)
            fields = apply(HASH_LOOKUP, (self.table.weight, inverse), attrs)
            dtype = self.table.weight.array.dtype
            if dtype != np.float32:  # a cast model's rows (model.double()), as the table's own lookup gives them
                fields = ops.cast(fields, dtype)
        else:
            fields = self.table(batch.keys)
        if not batch.bags:
            return fields
        combiners = batch.combiners or (self.combiner,) * len(batch.bags)
        pooled = [ops.unsqueeze(self._pool(bag, how), 1) for bag, how in zip(batch.bags, combiners)]
        return ops.concat([fields] + pooled, axis=1)

    def _pool(self, bag, combiner: str) -> Tensor:
        rows = self.table(bag.indices)
        if combiner == "max":  # each bag's largest entries, as PyTorch's embedding_bag (an empty bag: zeros)
            positions = Tensor._make(np.arange(len(bag.indices), dtype=np.int64), None)
            return embedding_bag(positions, rows, Tensor._make(np.asarray(bag.indptr[:-1], np.int64), None),
                                 mode="max")
        counts = np.diff(bag.indptr)
        segments = np.repeat(np.arange(len(counts)), counts)
        zeros = Tensor._make(np.zeros((len(counts), self.embedding_dim), np.float32), None)
        out = ops.index_add(zeros, Tensor._make(segments, None), rows)  # (float16 rows summed in float32)
        if combiner == "mean":
            out = out / Tensor._make(np.maximum(counts, 1).astype(np.float32)[:, None], None)
        return out if out.dtype == rows.dtype else ops.cast(out, rows.dtype)  # a cast model's dtype (.half())

    def extra_repr(self) -> str:
        return f"combiner={self.combiner!r}"
