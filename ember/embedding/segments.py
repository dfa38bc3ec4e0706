"""Batch bookkeeping without sorting where possible: the distinct rows of a batch, and per-row sums.

A batch of table rows usually repeats rows (popular ids). ``Deduper`` finds the distinct rows and each
entry's position among them by scattering entry numbers into a scratch array indexed by row and reading
them back (two passes, no sort); past ``max_scratch_rows`` rows it falls back to ``np.unique``.
``segment_sum`` adds the gradient rows of repeated entries in the order and with the reduction that
``RowSparse.coalesce`` uses, so a hash table's update equals a dense table's bit for bit.
"""

from __future__ import annotations

import numpy as np

from ember.backend.rows import put_rows


class Deduper:
    """``dedupe(rows, top) -> (unique, inverse)`` for rows in ``[-1, top)``: ``unique[inverse] == rows``."""

    def __init__(self, max_scratch_rows: int = 1 << 25):
        self.max_scratch_rows = int(max_scratch_rows)  # 4 bytes a row of scratch, up to 128 MiB
        self.scratch = np.zeros(0, np.int32)

    def __call__(self, rows: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
        n = rows.size
        if top + 1 > self.max_scratch_rows or n >= 2**31:
            self.scratch = np.zeros(0, np.int32)  # a table past the limit stays past it: give the memory back
            unique, inverse = np.unique(rows, return_inverse=True)
            return unique, inverse.reshape(-1)
        if self.scratch.size < top + 1:
            self.scratch = np.empty(max(top + 1, 2 * self.scratch.size, 1024), np.int32)
        shifted = rows + 1  # -1 (no row) gets its own scratch entry
        entry = np.arange(n, dtype=np.int32)
        self.scratch[shifted] = entry  # among repeats one write survives: that entry stands for the row
        representative = self.scratch[shifted]
        first = np.flatnonzero(representative == entry)
        number = np.empty(n, np.intp)
        number[first] = np.arange(first.size)
        return rows[first], number[representative]


def segment_sum(values: np.ndarray, inverse: np.ndarray, m: int) -> np.ndarray:
    """``out[k] = sum of values[i] for inverse[i] == k``, in entry order (as ``RowSparse.coalesce``)."""
    n = values.shape[0]
    out = np.empty((m,) + values.shape[1:], values.dtype)
    # every entry placed at its row (whole rows as single items); rows that repeat are overwritten below
    put_rows(np, out, inverse, values)
    if m == n:  # nothing repeats: a permutation
        return out
    entries = np.flatnonzero(np.bincount(inverse, minlength=m).take(inverse) > 1)
    keys = inverse.take(entries)
    order = entries.take(np.argsort(keys.astype(np.uint16) if m <= 1 << 16 else keys, kind="stable"))  # radix
    grouped = inverse.take(order)
    starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
    put_rows(np, out, grouped.take(starts), np.add.reduceat(np.take(values, order, axis=0), starts, axis=0))
    return out
