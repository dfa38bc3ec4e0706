"""Row-sparse gradients: what an embedding lookup sends to its weight when ``sparse=True``."""

from __future__ import annotations

import numpy as np

from ember.backend.devices import array_module


class RowSparse:
    """A gradient that is zero except for some rows: ``dense[indices[i]] += values[i]``.

    Indices may repeat; ``coalesce()`` sums duplicates. Sparse optimizers read ``indices`` and
    ``values`` directly; everything else may call ``to_dense()``.
    """

    __slots__ = ("indices", "values", "shape")

    def __init__(self, indices, values, shape: tuple):
        self.indices = indices  # integer array, shape (nnz,)
        self.values = values  # Tensor, shape (nnz, *shape[1:])
        self.shape = tuple(shape)

    @property
    def dtype(self):
        return self.values.dtype

    def coalesce(self) -> RowSparse:
        """Merge repeated indices by summing their rows; indices come out sorted."""
        from ember.tensor import Tensor

        xp = array_module(self.indices)
        indices, values = self.indices.reshape(-1), self.values.data
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
        xp.add.at(dense, self.indices, self.values.data)
        return Tensor._make(dense, None)

    def add(self, other):
        """Sum with another gradient: stays sparse with a RowSparse, becomes dense with a Tensor."""
        if other.__class__ is RowSparse:
            from ember.tensor import Tensor

            xp = array_module(self.indices)
            indices = xp.concatenate([self.indices, other.indices])
            values = xp.concatenate([self.values.data, other.values.data])
            return RowSparse(indices, Tensor._make(values, None), self.shape)
        dense = other.data.copy()
        array_module(dense).add.at(dense, self.indices, self.values.data)
        return other._make(dense, None)

    def __repr__(self) -> str:
        return f"RowSparse(shape={list(self.shape)}, rows={len(self.indices)}, dtype={self.dtype})"
