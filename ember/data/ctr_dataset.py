"""CTR batches: a click log under feature columns, read a batch at a time with the ids deduplicated.

``CTRDataset(table, columns)`` transforms the table once, then ``take_batch`` (what the DataLoader's
worker thread calls while the current step runs) slices a batch and deduplicates its keys: the embedding
then looks up each distinct key once and the optimizer updates each touched row once. A ``prepare``
hook (an embedding's ``prefetch``, say) also runs in that thread on the batch's distinct keys.

>>> loader = DataLoader(CTRDataset(table, criteo_columns()), batch_size=512, shuffle=True)
>>> for batch in loader:
...     loss = step(batch)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ember.data.criteo import CTRTable
from ember.data.features import FeatureColumns
from ember.tensor import Tensor


class CTRBatch:
    """One batch: ``labels`` (B,) and ``dense`` (B, D) float32 Tensors, ``keys`` (B, F) int64 salted ids,
    their distinct values ``unique`` and ``inverse`` (``unique[inverse] == keys``), ``bags`` (CSR of keys
    per bag field), ``combiners`` (how each bag is pooled: "mean", "sum" or "max"; None leaves it to the
    model's field embedding), ``extra_labels`` (B, T) Tensor or None, and ``prefetched``: what a ``prepare``
    hook resolved ahead of the step (table rows of ``unique``, by table)."""

    __slots__ = ("labels", "dense", "keys", "unique", "inverse", "bags", "combiners", "extra_labels", "prefetched")

    def __init__(self, labels, dense, keys: np.ndarray, bags: tuple = (), extra_labels=None, dedup: bool = True,
                 combiners: tuple | None = None):
        self.labels = labels if isinstance(labels, Tensor) else Tensor._make(np.asarray(labels, np.float32), None)
        self.dense = dense if isinstance(dense, Tensor) else Tensor._make(np.asarray(dense, np.float32), None)
        self.keys = keys
        self.bags = tuple(bags)
        if combiners is not None and len(combiners) != len(self.bags):
            raise ValueError(f"CTRBatch: {len(combiners)} combiners for {len(self.bags)} bags")
        self.combiners = None if combiners is None else tuple(combiners)
        if extra_labels is not None and not isinstance(extra_labels, Tensor):
            extra_labels = Tensor._make(np.asarray(extra_labels, np.float32), None)
        self.extra_labels = extra_labels
        self.unique = self.inverse = None
        self.prefetched = {}
        if dedup:
            self.unique, inverse = np.unique(keys, return_inverse=True)
            self.inverse = inverse.reshape(keys.shape)

    def __len__(self) -> int:
        return self.keys.shape[0]

    def __repr__(self) -> str:
        distinct = "" if self.unique is None else f", distinct={len(self.unique)}"
        return f"CTRBatch(rows={len(self)}, fields={self.keys.shape[1]}, bags={len(self.bags)}{distinct})"


class CTRDataset:
    """A ``CTRTable`` under ``FeatureColumns``, transformed once; each item (or ``take_batch``) gives a
    ``CTRBatch``. ``dedup`` deduplicates each batch's keys; ``prepare(batch)`` runs on each batch too (in
    the DataLoader's worker thread when it prefetches).

    >>> ds = CTRDataset(table, criteo_columns())
    >>> batch = ds.take_batch(np.arange(512))
    """

    def __init__(self, table: CTRTable, columns: FeatureColumns, dedup: bool = True,
                 prepare: Callable | None = None):
        if not isinstance(table, CTRTable):
            raise TypeError(f"CTRDataset: table must be a CTRTable, got {type(table).__name__}")
        self.table, self.columns = table, columns
        self.features = columns.transform(table.columns())
        self.dedup, self.prepare = dedup, prepare

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, index: int) -> CTRBatch:
        return self.take_batch(np.array([index], np.int64))

    def take_batch(self, indices: np.ndarray) -> CTRBatch:
        """Rows ``indices`` as one ``CTRBatch`` (deduplicated, then passed to ``prepare``)."""
        f, t = self.features, self.table
        extra = None if t.extra_labels is None else t.extra_labels[indices]
        batch = CTRBatch(t.labels[indices], f.dense[indices], f.keys[indices],
                         tuple(b.take_rows(indices) for b in f.bags), extra, self.dedup, f.combiners or None)
        if self.prepare is not None:
            self.prepare(batch)
        return batch
