"""Eviction policies: which rows leave the table. The table runs them after optimizer updates (every
``evict_every`` updates) and on ``HashEmbedding.evict()``; evicted rows are reused by new ids.

A policy has ``select(table) -> rows`` (table rows to remove) and ``needs``, the metadata columns it
reads (the table keeps them). The capacity cap is the table's own
(``capacity`` and ``capacity_policy``), applied after the policies.
"""

from __future__ import annotations

import numpy as np

_BLOCK = 1 << 18  # rows scored at a time by the capacity selection (about 50 bytes of temporaries each)


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
        return scan_rows(table, table.meta["last_step"], lambda last: last <= newest_idle)

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

        return scan_rows(table, table.values, small)

    def __repr__(self) -> str:
        return f"L2Norm({self.min_norm})"


def scan_rows(table, pool, test) -> np.ndarray:
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
    key, not by row number, so a restored table (numbered differently) evicts the same ids.

    Nothing sorts the rows: both columns make one 48-bit score a row, and a radix selection finds the
    score of the last row to go, a 16-bit digit per pass over the table (a histogram each), a chunk at a
    time. A last pass gathers the rows below that score and, among the rows at it, the smallest keys.
    Temporaries: a chunk's, and the rows returned.
    """
    if excess <= 0:
        return np.zeros(0, np.int64)
    skipped = np.union1d(table.free, excluded)  # rows given back (stale metadata) or already going
    prefix, need = 0, int(excess)
    for shift in (32, 16, 0):
        counts = np.zeros(1 << 16, np.int64)
        for _, score in _scores(table, skipped):
            if shift < 32:
                score = score[(score >> np.uint64(shift + 16)) == np.uint64(prefix)]
            counts += np.bincount(((score >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.intp),
                                  minlength=1 << 16)
        total = np.cumsum(counts)
        if shift == 32 and total[-1] <= need:  # every candidate goes
            return np.concatenate([rows for rows, _ in _scores(table, skipped, with_rows=True)] or
                                  [np.zeros(0, np.int64)])
        digit = int(np.searchsorted(total, need))  # the first digit whose cumulative count reaches need
        need -= int(total[digit - 1]) if digit else 0
        prefix = (prefix << 16) | digit
    threshold = np.uint64(prefix)
    below, tied = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for rows, score in _scores(table, skipped, with_rows=True):
        below.append(rows[score < threshold])
        tied.append(rows[score == threshold])
    below, tied = np.concatenate(below), np.concatenate(tied)
    if need < tied.size:
        tied = tied[np.argpartition(table.index.key_of_row[tied], need - 1)[:need]]
    return np.concatenate([below, tied])


def _scores(table, skipped: np.ndarray, with_rows: bool = False):
    """(rows or None, uint64 scores) of the live rows not in ``skipped`` (sorted), a block of rows at a time:
    the policy's first column in the high bits, the other below it (``last_step`` shifted to be unsigned)."""
    lfu = table.capacity_policy == "lfu"
    freq_chunks, last_chunks = table.meta["freq"].chunks, table.meta["last_step"].chunks
    for i, (freq_chunk, last_chunk) in enumerate(zip(freq_chunks, last_chunks)):
        start = int(table.layout.starts[i])
        for lo in range(start, min(start + freq_chunk.shape[0], table.top), _BLOCK):
            hi = min(lo + _BLOCK, start + freq_chunk.shape[0], table.top)
            f = freq_chunk[lo - start : hi - start].astype(np.uint64)
            t = (last_chunk[lo - start : hi - start].astype(np.int64) + 2**31).view(np.uint64)
            score = (f << np.uint64(32)) | t if lfu else (t << np.uint64(16)) | f
            first, last = np.searchsorted(skipped, [lo, hi])
            if last > first:
                keep = np.ones(hi - lo, bool)
                keep[skipped[first:last] - lo] = False
                kept = np.flatnonzero(keep)
                yield (kept + lo if with_rows else None), score.take(kept)
            else:
                yield (np.arange(lo, hi, dtype=np.int64) if with_rows else None), score
