"""Readers of files on disk: CSV tables and libsvm/svmlight sparse files."""

from __future__ import annotations

import csv
import os
from typing import NamedTuple

import numpy as np

from ember.data.collate import collate_fn_map
from ember.data.dataset import TensorDataset
from ember.tensor import Tensor


# --- CSV -------------------------------------------------------------------------------------------------
def _parse_csv(path, target_column, delimiter: str, header: bool):
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f, delimiter=delimiter) if row]
    names = rows.pop(0) if header and rows else None
    if not rows:
        raise ValueError(f"read_csv: {path} has no data rows")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"read_csv: {path} row {i + 1 + bool(header)} has {len(row)} fields, expected {width}")
    if target_column is None:
        target = None
    elif isinstance(target_column, str):
        if names is None:
            raise ValueError("read_csv: a target column given by name needs header=True")
        if target_column not in names:
            raise ValueError(f"read_csv: no column {target_column!r} in {path}; columns are {names}")
        target = names.index(target_column)
    else:
        target = int(target_column)
        if not -width <= target < width:
            raise ValueError(f"read_csv: target_column {target_column} is out of range for {width} columns")
        target %= width
    table = np.array(rows, dtype=object)
    feature_columns = [c for c in range(width) if c != target]
    features = np.empty((len(rows), len(feature_columns)), np.float32)
    for j, c in enumerate(feature_columns):
        try:
            features[:, j] = [float(v) if v.strip() else np.nan for v in table[:, c]]
        except ValueError as exc:
            column = names[c] if names else c
            raise ValueError(f"read_csv: column {column!r} of {path} is not numeric ({exc})") from exc
    if target is None:
        return features, None, None
    return (features, *_parse_targets(table[:, target]))


def _parse_targets(column: np.ndarray):
    """Numeric targets as int64 (when all integral) or float32; text labels as int64 codes + class names."""
    try:
        values = np.array([float(v) for v in column], np.float64)
    except ValueError:
        classes, codes = np.unique(column.astype(str), return_inverse=True)
        return codes.astype(np.int64), [str(c) for c in classes]
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return values.astype(np.int64), None
    return values.astype(np.float32), None


def read_csv(path: str | os.PathLike, target_column: int | str | None = -1, delimiter: str = ",",
             header: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a numeric CSV table into ``(features, targets)``.

    Features are float32 (empty fields become NaN). ``target_column`` is a column index or, with a
    header, a name; ``None`` reads no targets. Integral targets come back int64, other numbers float32,
    and text labels int64 codes in sorted label order (``CSVDataset.classes`` keeps the names).

    >>> x, y = read_csv("iris.csv", target_column="species")
    """
    features, targets, _ = _parse_csv(path, target_column, delimiter, header)
    return features, targets


class CSVDataset(TensorDataset):
    """A CSV table as a dataset of ``(features, target)`` rows (see ``read_csv``).

    >>> ds = CSVDataset("train.csv", target_column="label")
    >>> x, y = ds[0]
    """

    def __init__(self, path: str | os.PathLike, target_column: int | str = -1, delimiter: str = ",",
                 header: bool = True):
        if target_column is None:
            raise ValueError("CSVDataset: needs a target_column; use read_csv for features only")
        features, targets, self.classes = _parse_csv(path, target_column, delimiter, header)
        super().__init__(features, targets)


# --- libsvm / svmlight ------------------------------------------------------------------------------------
class CSR(NamedTuple):
    """A compressed-sparse-row matrix: row ``i`` holds ``values[indptr[i]:indptr[i+1]]`` at columns
    ``indices[indptr[i]:indptr[i+1]]``. A list of CSR rows collates into one CSR batch.

    >>> m = CSR(np.array([0, 1, 1]), np.array([2]), np.array([5.0], np.float32), (2, 3))
    >>> m.to_dense()   # [[0, 0, 5], [0, 0, 0]]
    """

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    shape: tuple

    def row(self, i: int) -> CSR:
        """Row ``i`` as a 1 x n_features CSR matrix."""
        start, stop = int(self.indptr[i]), int(self.indptr[i + 1])
        return CSR(np.array([0, stop - start], np.int64), self.indices[start:stop], self.values[start:stop],
                   (1, self.shape[1]))

    def take_rows(self, rows: np.ndarray) -> CSR:
        """The given rows, in order, as a new CSR matrix."""
        starts, stops = self.indptr[rows], self.indptr[rows + 1]
        lengths = stops - starts
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        positions = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return CSR(indptr, self.indices[positions], self.values[positions], (len(rows), self.shape[1]))

    def to_dense(self) -> np.ndarray:
        """The matrix as a dense array."""
        dense = np.zeros(self.shape, self.values.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        dense[rows, self.indices] = self.values
        return dense


def _collate_csr(batch, *, collate_fn_map):
    n_features = batch[0].shape[1]
    if any(m.shape[1] != n_features for m in batch):
        raise ValueError("collate: CSR rows with different numbers of features")
    counts = np.concatenate([np.diff(m.indptr) for m in batch])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return CSR(indptr, np.concatenate([m.indices for m in batch]), np.concatenate([m.values for m in batch]),
               (len(counts), n_features))


collate_fn_map[CSR] = _collate_csr


def _labels(labels: list[float]) -> np.ndarray:
    values = np.array(labels, np.float64)
    if np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values.astype(np.float32)


def read_libsvm(path: str | os.PathLike, n_features: int | None = None,
                zero_based: bool | str = "auto") -> tuple[CSR, np.ndarray]:
    """Read a libsvm/svmlight file (``label index:value ...`` per line) into ``(CSR matrix, labels)``.

    Values are float32, indices int64 (zero-based after reading). ``zero_based="auto"`` treats the
    file as one-based unless some index is 0. ``n_features`` defaults to the largest index + 1.
    ``qid:`` fields and ``#`` comments are skipped. Labels are int64 when all integral, else float32.

    >>> (indptr, indices, values, shape), y = read_libsvm("a9a.txt")
    """
    if zero_based not in (True, False, "auto"):
        raise ValueError(f"read_libsvm: zero_based must be True, False or 'auto', got {zero_based!r}")
    labels, counts, indices, values = [], [], [], []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            try:
                labels.append(float(fields[0]))
                pairs = [field.split(":", 1) for field in fields[1:] if not field.startswith("qid:")]
                indices.extend(int(i) for i, _ in pairs)
                values.extend(float(v) for _, v in pairs)
            except ValueError as exc:
                raise ValueError(f"read_libsvm: cannot parse line {number} of {path}: {line.strip()!r}") from exc
            counts.append(len(pairs))
    index_array = np.array(indices, np.int64)
    if zero_based is False or (zero_based == "auto" and not np.any(index_array == 0)):
        index_array -= 1
    if np.any(index_array < 0):
        raise ValueError(f"read_libsvm: {path} has index 0 but was read as one-based (zero_based=False)")
    needed = int(index_array.max()) + 1 if index_array.size else 0
    if n_features is None:
        n_features = needed
    elif n_features < needed:
        raise ValueError(f"read_libsvm: {path} has feature index {needed - 1}, beyond n_features={n_features}")
    indptr = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
    matrix = CSR(indptr, index_array, np.array(values, np.float32), (len(counts), n_features))
    return matrix, _labels(labels)


class LibSVMDataset:
    """A libsvm file as a dataset of ``(row, label)``: dense float32 rows, or 1 x n CSR rows with
    ``dense=False`` (a DataLoader then yields CSR batches).

    >>> ds = LibSVMDataset("a9a.txt", n_features=123, dense=False)
    >>> rows, labels = next(iter(DataLoader(ds, batch_size=256)))
    """

    def __init__(self, path: str | os.PathLike, n_features: int | None = None, zero_based: bool | str = "auto",
                 dense: bool = True):
        self.matrix, self.labels = read_libsvm(path, n_features, zero_based)
        self.dense = dense

    @property
    def n_features(self) -> int:
        return self.matrix.shape[1]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        row = self.matrix.row(int(index))
        return (row.to_dense()[0] if self.dense else row), self.labels[index]

    def take_batch(self, indices: np.ndarray):
        """Rows ``indices`` at once: (dense Tensor or CSR batch, label Tensor)."""
        rows = self.matrix.take_rows(indices)
        return (Tensor._make(rows.to_dense(), None) if self.dense else rows), Tensor._make(self.labels[indices], None)
