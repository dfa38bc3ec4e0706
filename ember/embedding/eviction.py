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
        newest_idle = table.step - self.steps  # last_step: the step a row was last written for
        return _scan(table, table.meta["last_step"], lambda last: last <= newest_idle)

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
        def small(values):
            values = values.astype(np.float32, copy=False)
            return np.sqrt(np.einsum("ij,ij->i", values, values)) < self.min_norm

        return _scan(table, table.values, small)

    def __repr__(self) -> str:
        return f"L2Norm({self.min_norm})"


def _scan(table, pool, test) -> np.ndarray:
    """Live rows (ascending) whose entries in ``pool`` pass ``test``, a chunk at a time: a pass over a
    100M-row table holds one chunk's temporaries, not arrays of every row."""
    found = []
    for i, chunk in enumerate(pool.chunks):
        lo = int(table.layout.starts[i])
        if lo >= table.top:
            break
        found.append(np.flatnonzero(test(chunk[: table.top - lo])) + lo)
    rows = np.concatenate(found) if found else np.zeros(0, np.int64)
    if table.free.size:  # rows given back hold stale entries
        rows = rows[~np.isin(rows, table.free)]
    return rows


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
