"""Row-sparse gradients (what an embedding lookup sends to its weight when ``sparse=True``), and PyTorch's
``torch.sparse`` functions over sparse COO and CSR tensors (``mm``, ``addmm``, ``sum``; ``softmax`` and ``log_softmax``
of COO tensors; see ``ember.sparse_coo`` and ``ember.csr``)."""

from __future__ import annotations

import threading

import numpy as np

from ember.backend.devices import array_module

_marks = threading.local()  # per thread: scratch arrays


def _mark_array(num_rows: int) -> np.ndarray:
    """intp scratch of ``num_rows`` entries: a view of one array per thread, grown when too small. (An array
    per size piled up: a hash table's gradient has a new number of rows at nearly every step.)"""
    mark = getattr(_marks, "rows", None)
    if mark is None or mark.size < num_rows:
        mark = _marks.rows = np.empty(num_rows, np.intp)
    return mark[:num_rows]


def unique_rows(indices: np.ndarray, values: np.ndarray, num_rows: int) -> tuple:
    """``(indices, values)`` of a NumPy row-sparse gradient with repeated indices merged: each index once, in
    order of first occurrence, its rows summed in order of occurrence. Without repeats the inputs come back.

    No sort: each position is written into a scratch array of ``num_rows`` (the table's row count) at its
    index and read back, so a position that does not read itself repeats an earlier index. O(n), where
    ``np.unique`` and argsort cost O(n log n) and several passes.
    """
    n = indices.shape[0]
    if n < 2:
        return indices, values
    mark = _mark_array(num_rows)
    positions = np.arange(n)
    mark[indices] = positions  # raises IndexError for an index outside the table
    first = mark.take(indices)
    if (first == positions).all():
        return indices, values
    mark[indices[::-1]] = positions[::-1]  # now each index's first occurrence is the one kept
    first = mark.take(indices)
    keep = first == positions
    slot = (np.cumsum(keep) - 1).take(first)  # position -> its row of the result
    rows = values[keep]
    # the repeated indices' rows, grouped (a sort of those few only) and summed by the same segmented sum
    # as ``coalesce``, so both give the same bits
    involved = np.flatnonzero(np.bincount(slot).take(slot) > 1)
    order = involved.take(np.argsort(slot.take(involved), kind="stable"))
    grouped = slot.take(order)
    starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
    rows[grouped.take(starts)] = np.add.reduceat(values.take(order, axis=0), starts, axis=0)
    return indices[keep], rows


def _key_marks(num_keys: int) -> np.ndarray:
    """A per-thread scratch array of ``num_keys`` int32 positions (half the memory of intp to miss in)."""
    marks = getattr(_marks, "by_keys", None)
    if marks is None:
        marks = _marks.by_keys = {}
    mark = marks.get(num_keys)
    if mark is None:
        marks.clear()  # one size at a time: a model's tables together may have millions of rows
        mark = marks[num_keys] = np.empty(num_keys, np.int32)
    return mark


def sum_repeated_rows(keys: np.ndarray, rows: np.ndarray, num_keys: int) -> bool:
    """In place on NumPy arrays: every row of ``rows`` whose key repeats becomes the sum of all rows of that key,
    summed in order of occurrence (the bits ``unique_rows`` gives). Gathering, updating and writing back all
    the rows, repeats included, then writes each key's row once with its merged gradient (repeats write the
    same value). ``keys`` are row numbers below ``num_keys`` (several tables' rows: each table's indices plus
    an offset of its own). Returns whether any key repeats.

    The same scratch trick as ``unique_rows``, once for all the tables of a step: no sort but of the few
    repeated positions.
    """
    n = keys.shape[0]
    if n < 2:
        return False
    if n >= 2**31:
        raise ValueError(f"sum_repeated_rows: {n} rows are more than the int32 positions it tracks")
    mark = _key_marks(num_keys)
    positions = np.arange(n, dtype=np.int32)
    mark[keys] = positions  # raises IndexError for a key outside [-num_keys, num_keys); the last write wins
    latest = mark.take(keys)  # each key's last occurrence
    if (latest == positions).all():
        return False
    # Positions that are not their key's last occurrence (few), grouped by that last one (a sort of those
    # few only), each group followed by its last occurrence: the key's positions in order of occurrence.
    earlier = np.flatnonzero(latest != positions)
    last = latest.take(earlier)
    order = np.argsort(last, kind="stable")
    earlier, last = earlier.take(order), last.take(order)
    starts = np.flatnonzero(np.concatenate(([True], last[1:] != last[:-1])))
    ends = np.append(starts[1:], last.size)
    members = np.insert(earlier, ends, last.take(starts))
    sums = np.add.reduceat(rows.take(members, axis=0), starts + np.arange(starts.size), axis=0)
    rows[members] = sums.repeat(ends - starts + 1, axis=0)
    return True


class RowSparse:
    """A gradient that is zero except for some rows: ``dense[indices[i]] += values[i]``.

    Indices may repeat; ``coalesce()`` sums duplicates. Sparse optimizers read ``indices`` and
    ``values`` directly; everything else may call ``to_dense()``. ``distinct=True`` is a promise by the
    maker that no index repeats (a hash lookup's gradient, one row per distinct id), so consumers may skip
    merging repeats; sums and every other constructor leave it False.
    """

    __slots__ = ("indices", "values", "shape", "distinct")

    def __init__(self, indices, values, shape: tuple, distinct: bool = False):
        self.indices = indices  # integer array, shape (nnz,)
        self.values = values  # Tensor, shape (nnz, *shape[1:])
        self.shape = tuple(shape)
        self.distinct = distinct

    @property
    def dtype(self):
        return self.values.dtype

    def coalesce(self) -> RowSparse:
        """Merge repeated indices by summing their rows; indices come out sorted."""
        from ember.tensor import Tensor

        xp = array_module(self.indices)
        indices, values = self.indices.reshape(-1), self.values.array
        if indices.size < 2 or bool((indices[1:] > indices[:-1]).all()):
            return self  # already sorted without repeats (a hash table's update hands its rules such ones)
        if xp is np and indices.size:  # sort, then one segmented sum: about twice as fast as unique + add.at
            order = np.argsort(indices, kind="stable")
            ordered = indices[order]
            starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
            rows = np.add.reduceat(values[order], starts, axis=0)
            return RowSparse(ordered[starts], Tensor._make(rows, None), self.shape)
        unique, inverse = xp.unique(indices, return_inverse=True)
        rows = xp.zeros((unique.shape[0],) + self.shape[1:], values.dtype)
        xp.add.at(rows, inverse.reshape(-1), values)
        return RowSparse(unique, Tensor._make(rows, None), self.shape)

    def to_dense(self):
        """The same gradient as a dense Tensor."""
        from ember.tensor import Tensor

        xp = array_module(self.indices)
        dense = xp.zeros(self.shape, self.values.dtype)
        xp.add.at(dense, self.indices, self.values.array)
        return Tensor._make(dense, None)

    def add(self, other):
        """Sum with another gradient: stays sparse with a RowSparse, becomes dense with a Tensor."""
        if other.__class__ is RowSparse:
            from ember.tensor import Tensor

            xp = array_module(self.indices)
            indices = xp.concatenate([self.indices, other.indices])
            values = xp.concatenate([self.values.array, other.values.array])
            return RowSparse(indices, Tensor._make(values, None), self.shape)
        dense = other.array.copy()
        array_module(dense).add.at(dense, self.indices, self.values.array)
        return other._make(dense, None)

    def __repr__(self) -> str:
        return f"RowSparse(shape={list(self.shape)}, rows={len(self.indices)}, dtype={self.dtype})"


# torch.sparse's functions over COO and CSR tensors (after everything above, which uses the builtin sum)
from ember.csr import SparseCSCTensor, SparseCSRTensor, addmm, mm, sum  # noqa: A004, E402
from ember.sparse_coo import SparseCOOTensor, log_softmax, softmax  # noqa: E402

__all__ = ["RowSparse", "SparseCOOTensor", "SparseCSCTensor", "SparseCSRTensor", "addmm", "log_softmax", "mm",
           "softmax", "sum", "sum_repeated_rows", "unique_rows"]
