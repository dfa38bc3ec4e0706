"""Eviction policies: which rows leave the table. The table runs them after optimizer updates (every
``evict_every`` updates) and on ``HashEmbedding.evict()``; evicted rows are reused by new ids.

A policy has ``select(table) -> rows`` (table rows to remove) and ``needs``, the metadata columns it
reads (the table keeps them). The capacity cap is the table's own
(``capacity`` and ``capacity_policy``), applied after the policies.
"""

from __future__ import annotations

import numpy as np


class StepTTL:
    """Remove rows not looked up in training or updated during the last ``steps`` table steps (updates).

    >>> emb = ember.embedding.HashEmbedding(8, eviction=StepTTL(1000))
    """

    def __init__(self, steps: int):
        if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"StepTTL: steps must be an int >= 1, got {steps!r}")
        self.steps = int(steps)

    needs = ("last_step",)  # the metadata column it reads

    def select(self, table) -> np.ndarray:
        rows = table.live_rows()
        last = table.meta["last_step"].read(table.layout.plan(rows))  # the step a row was last written for
        return rows[table.step - last >= self.steps]

    def __repr__(self) -> str:
        return f"StepTTL({self.steps})"


class L2Norm:
    """Remove rows whose L2 norm is below ``min_norm`` (rows an L1-regularised optimizer drove to zero).

    >>> emb = ember.embedding.HashEmbedding(8, eviction=L2Norm(1e-6))
    """

    def __init__(self, min_norm: float):
        if not min_norm > 0:
            raise ValueError(f"L2Norm: min_norm must be > 0, got {min_norm!r}")
        self.min_norm = float(min_norm)

    needs = ()  # reads the values, no metadata

    def select(self, table) -> np.ndarray:
        rows = table.live_rows()
        values = table.values.read(table.layout.plan(rows)).astype(np.float32)
        return rows[np.sqrt(np.einsum("ij,ij->i", values, values)) < self.min_norm]

    def __repr__(self) -> str:
        return f"L2Norm({self.min_norm})"


def over_capacity(table, excluded: np.ndarray, excess: int) -> np.ndarray:
    """``excess`` rows to remove, not among ``excluded``: the least frequently used ("lfu", ties: least
    recently used) or the least recently used ("lru", ties: least frequently used). Remaining ties go by
    key, not by row number, so a restored table (numbered differently) evicts the same ids."""
    rows = np.setdiff1d(table.live_rows(), excluded, assume_unique=True)
    plan = table.layout.plan(rows)
    freq = table.meta["freq"].read(plan)
    last = table.meta["last_step"].read(plan)
    keys = table.index.key_of_row[rows]
    order = np.lexsort((keys, last, freq) if table.capacity_policy == "lfu" else (keys, freq, last))
    return rows[order[:excess]]
