"""Readers of files on disk: CSV tables and libsvm/svmlight sparse files."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ember.data.collate import collate_fn_map
from ember.data.dataset import TensorDataset
from ember.data.parsing import TARGET_TYPES, Cell, is_number, parse_floats, parse_targets
from ember.tensor import Tensor

# --- CSV -------------------------------------------------------------------------------------------------
_DELIMITERS = (",", ";", "\t", "|")


def _delimiter_hint(text: str, delimiter: str) -> str:
    """A hint naming another delimiter that ``text`` contains, or ''."""
    for other in _DELIMITERS:
        if other != delimiter and other in text:
            return f" ({other!r} appears in it: is the delimiter {other!r} rather than {delimiter!r}?)"
    return ""


def _read_rows(path: str, delimiter: str) -> tuple[list[list[str]], list[int], list[str]]:
    """The non-blank records of a CSV file, the line each starts on, and the raw text of each line."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        text = f.read()
    raw_lines = text.splitlines()
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter, strict=True)
    rows, lines = [], []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ValueError(f"read_csv: {path}, line {start}: {exc} (a quote opened on this line is never "
                             "closed, or a field has text after its closing quote)") from exc
        if reader.line_num > start and any("\n" in field or "\r" in field for field in row):
            raise ValueError(f"read_csv: {path}, line {start}: a quoted field runs on to line {reader.line_num} "
                             "(an unterminated quote?)")
        if len(row) > 1 or (row and row[0].strip()):  # skip blank lines; ",," is a row of missing values
            rows.append(row)
            lines.append(start)
    return rows, lines, raw_lines


def _target_index(target_column, names: list[str] | None, width: int, path: str) -> int | None:
    if target_column is None:
        return None
    if isinstance(target_column, str):
        if names is None:
            raise ValueError("read_csv: a target column given by name needs header=True")
        if target_column not in names:
            raise ValueError(f"read_csv: no column {target_column!r} in {path}; columns are {names}")
        return names.index(target_column)
    if isinstance(target_column, bool) or not isinstance(target_column, (int, np.integer)):
        raise TypeError(f"read_csv: target_column must be an int, a column name or None, got {target_column!r}")
    if not -width <= target_column < width:
        raise ValueError(f"read_csv: target_column {target_column} is out of range for the {width} columns of {path}")
    return int(target_column) % width


def _parse_csv(path, target_column, delimiter: str, header: bool, target_type: str = "auto", classes=None):
    if target_type not in TARGET_TYPES:
        raise ValueError(f"read_csv: target_type must be one of {TARGET_TYPES}, got {target_type!r}")
    path = os.fspath(path)
    rows, lines, raw = _read_rows(path, delimiter)
    names = [n.strip() for n in rows.pop(0)] if header and rows else None
    header_line = lines.pop(0) if names is not None else None
    if not rows:
        raise ValueError(f"read_csv: {path} has no data rows")
    width = len(names) if names is not None else len(rows[0])
    first_line = header_line or lines[0]
    for row, line in zip(rows, lines):
        if len(row) != width:
            raise ValueError(f"read_csv: {path}, line {line} has {len(row)} fields, expected {width} (as line "
                             f"{first_line}){_delimiter_hint(raw[line - 1], delimiter)}")
    target = _target_index(target_column, names, width, path)
    if target is not None and width == 1:
        hint = _delimiter_hint(raw[first_line - 1], delimiter)
        raise ValueError(f"read_csv: {path} has a single column with delimiter {delimiter!r}, so every row would "
                         f"be a label with no features; its line {first_line}{hint}")

    def cell(i: int, c: int) -> Cell:
        return Cell("read_csv", path, lines[i], c + 1, names[c] if names else None)

    feature_columns = [c for c in range(width) if c != target]
    features = np.empty((len(rows), len(feature_columns)), np.float32)
    for j, c in enumerate(feature_columns):
        features[:, j] = parse_floats([row[c] for row in rows], lambda i, c=c: cell(i, c),
                                      lambda text: _delimiter_hint(text, delimiter))
    if target is None:
        return features, None, None
    targets, class_names = parse_targets([row[target] for row in rows], lambda i: cell(i, target), target_type,
                                         classes)
    return features, targets, class_names


def read_csv(path: str | os.PathLike, target_column: int | str | None = -1, delimiter: str = ",",
             header: bool = True, target_type: str = "auto",
             classes: Sequence | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a numeric CSV table into ``(features, targets)``, strictly.

    Features are float32; an empty field is NaN (a missing value), any other non-number is an error.
    ``target_column`` is a column index or, with a header, a name; ``None`` reads no targets.
    ``target_type`` says what the targets mean: ``"auto"`` (default) reads integers such as ``0, 2, 10``
    as int64, other numbers (``0.5``, ``3.0``, ``1e20``) as float32 regression targets and text as
    classes; ``"integer"``, ``"float"`` and ``"class"`` force one reading. Class labels become int64 codes
    in the order of ``classes`` (default: sorted, numerically for numbers; ``CSVDataset.classes`` keeps
    the names). A blank or mistyped target, an integer beyond int64, a row of the wrong width or an
    unterminated quote is a ValueError naming the file, line and column.

    >>> x, y = read_csv("iris.csv", target_column="species")
    """
    features, targets, _ = _parse_csv(path, target_column, delimiter, header, target_type, classes)
    return features, targets


class CSVDataset(TensorDataset):
    """A CSV table as a dataset of ``(features, target)`` rows (see ``read_csv``); ``classes`` holds the
    class names of text labels (pass a training set's ``classes`` to read a test set with the same codes).

    >>> ds = CSVDataset("train.csv", target_column="label")
    >>> x, y = ds[0]
    """

    def __init__(self, path: str | os.PathLike, target_column: int | str = -1, delimiter: str = ",",
                 header: bool = True, target_type: str = "auto", classes: Sequence | None = None):
        if target_column is None:
            raise ValueError("CSVDataset: needs a target_column; use read_csv for features only")
        features, targets, self.classes = _parse_csv(path, target_column, delimiter, header, target_type, classes)
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
        """Row ``i`` (negative counts from the end) as a 1 x n_features CSR matrix."""
        i = int(self._rows(np.asarray(i)))
        start, stop = int(self.indptr[i]), int(self.indptr[i + 1])
        return CSR(np.array([0, stop - start], np.int64), self.indices[start:stop], self.values[start:stop],
                   (1, self.shape[1]))

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        """Row numbers with negative ones counted from the end (``indptr[i + 1]`` of -1 would be row 0's start)."""
        n = len(self.indptr) - 1
        if rows.size and (rows.min() < -n or rows.max() >= n):
            bad = rows[(rows < -n) | (rows >= n)][:4].tolist()
            raise IndexError(f"CSR: rows {bad} are out of range for a matrix of {n} rows")
        return np.where(rows < 0, rows + n, rows)

    def take_rows(self, rows: np.ndarray) -> CSR:
        """The given rows (negative ones count from the end), in order, as a new CSR matrix."""
        rows = self._rows(np.asarray(rows, np.int64))
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


_FIELD = re.compile(r"\S+")


def _parse_libsvm_line(line: str, number: int, path: str) -> tuple[str, int, list[int], list[float]]:
    """(label text, its column, indices, values) of one line; '' as label for a blank or comment line."""
    body = line.split("#", 1)[0]
    fields = [(m.group(), m.start() + 1) for m in _FIELD.finditer(body)]
    if not fields:
        return "", 0, [], []
    (label, label_column), *pairs = fields
    indices, values, seen = [], [], set()
    for field, column in pairs:
        where = Cell("read_libsvm", path, number, column)
        name, sep, text = field.partition(":")
        if name == "qid" and sep:
            continue
        if not sep or not re.fullmatch(r"\d+", name):
            raise where.error(f"{field!r} is not an index:value pair")
        index = int(name)
        if index in seen:
            raise where.error(f"index {index} appears twice on the line")
        if index > np.iinfo(np.int64).max:
            raise where.error(f"index {index} does not fit in int64")
        seen.add(index)
        value = parse_floats([text], lambda i, where=where: where)[0]
        if not np.isfinite(value):
            raise where.error(f"the value of {field!r} is " + ("missing" if not text.strip() else "not finite"))
        indices.append(index)
        values.append(value)
    return label, label_column, indices, values


def read_libsvm(path: str | os.PathLike, n_features: int | None = None, zero_based: bool | str = "auto",
                target_type: str = "auto") -> tuple[CSR, np.ndarray]:
    """Read a libsvm/svmlight file (``label index:value ...`` per line) into ``(CSR matrix, labels)``.

    Values are float32, indices int64 (zero-based after reading). ``zero_based="auto"`` treats the
    file as one-based unless some index is 0. ``n_features`` defaults to the largest index + 1.
    ``qid:`` fields and ``#`` comments are skipped. Labels follow ``target_type`` as in ``read_csv``
    (``"auto"``: integers such as ``+1``/``-1`` as int64, other numbers as float32). An index repeated
    on a line, a value that is not a finite number or a bad label is a ValueError naming the file, line
    and column.

    >>> (indptr, indices, values, shape), y = read_libsvm("a9a.txt")
    """
    if zero_based not in (True, False, "auto"):
        raise ValueError(f"read_libsvm: zero_based must be True, False or 'auto', got {zero_based!r}")
    if target_type not in TARGET_TYPES:
        raise ValueError(f"read_libsvm: target_type must be one of {TARGET_TYPES}, got {target_type!r}")
    path = os.fspath(path)
    labels, label_cells, counts, indices, values = [], [], [], [], []
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            label, column, row_indices, row_values = _parse_libsvm_line(line, number, path)
            if not label:
                continue
            labels.append(label)
            label_cells.append((number, column))
            indices.extend(row_indices)
            values.extend(row_values)
            counts.append(len(row_indices))
    if not labels:
        raise ValueError(f"read_libsvm: {path} has no data lines")

    def label_cell(i: int) -> Cell:
        return Cell("read_libsvm", path, *label_cells[i], "label")

    if target_type == "auto":  # the format's labels are numbers: text is a damaged line, not a class name
        for i, label in enumerate(labels):
            if not is_number(label):
                raise label_cell(i).error(f"the label {label!r} is not a number (pass target_type='class' to read "
                                          "text labels as classes)")
    targets, _ = parse_targets(labels, label_cell, target_type)
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
    return matrix, targets


class LibSVMDataset:
    """A libsvm file as a dataset of ``(row, label)``: dense float32 rows, or 1 x n CSR rows with
    ``dense=False`` (a DataLoader then yields CSR batches).

    >>> ds = LibSVMDataset("a9a.txt", n_features=123, dense=False)
    >>> rows, labels = next(iter(DataLoader(ds, batch_size=256)))
    """

    def __init__(self, path: str | os.PathLike, n_features: int | None = None, zero_based: bool | str = "auto",
                 dense: bool = True, target_type: str = "auto"):
        self.matrix, self.labels = read_libsvm(path, n_features, zero_based, target_type)
        self.dense = dense

    @property
    def n_features(self) -> int:
        return self.matrix.shape[1]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        row = self.matrix.row(int(index))
        return (row.to_dense()[0] if self.dense else row), self.labels[index]

    def take_batch(self, indices: np.ndarray) -> list:
        """Rows ``indices`` at once: [dense Tensor or CSR batch, label Tensor], the list ``default_collate`` makes."""
        rows = self.matrix.take_rows(indices)
        return [Tensor._make(rows.to_dense(), None) if self.dense else rows, Tensor._make(self.labels[indices], None)]
