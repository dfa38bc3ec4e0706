"""Criteo-format click logs: a strict reader and a writer.

A Criteo line is tab-separated: the label (0 or 1), 13 integer features ``I1..I13`` and 26 categorical
features ``C1..C26`` written as hexadecimal hashes; any feature may be empty (missing). ``read_criteo``
returns a ``CTRTable``: labels (N,) float32, dense (N, 13) float32 with NaN for a missing value, and
categorical (N, 26) int64 with -1 for a missing value. A malformed field raises a ValueError that names the
file, the line and the column.

>>> table = read_criteo("day_0_sample.txt")
>>> table.dense.shape, table.categorical.shape
((100000, 13), (100000, 26))
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

NUM_DENSE = 13
NUM_CATEGORICAL = 26
DENSE_NAMES = tuple(f"I{i}" for i in range(1, NUM_DENSE + 1))
CATEGORICAL_NAMES = tuple(f"C{i}" for i in range(1, NUM_CATEGORICAL + 1))
MISSING = -1  # a missing categorical value
_ID_MASK = (1 << 63) - 1  # hex ids wider than 63 bits keep their low 63 bits (they are hashes already)
_CHUNK_LINES = 65536
_HEX = re.compile(r"[0-9a-fA-F]+")
_INTEGER = re.compile(r"[-+]?[0-9]+")
_NOT_INTEGER = re.compile(r"[^0-9+\-\t]")  # in a column's fields joined by tabs: int() takes "1_0", spaces
_INT64 = np.iinfo(np.int64)


@dataclass
class CTRTable:
    """Columns of a click log: ``labels`` (N,) float32, ``dense`` (N, D) float32 (NaN = missing),
    ``categorical`` (N, C) int64 (-1 = missing), their column names, and optional ``extra_labels``
    (N, T) float32 for further tasks (a conversion label, say).

    ``columns()`` gives the named columns as a dict, the input of ``ember.data.features``.

    >>> table.columns()["C3"][:2]
    array([ 912347, 1022301])
    """

    labels: np.ndarray
    dense: np.ndarray
    categorical: np.ndarray
    dense_names: tuple = DENSE_NAMES
    categorical_names: tuple = CATEGORICAL_NAMES
    extra_labels: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.labels)
        for name, array, width in (("dense", self.dense, len(self.dense_names)),
                                   ("categorical", self.categorical, len(self.categorical_names))):
            if array.ndim != 2 or array.shape != (n, width):
                raise ValueError(f"CTRTable: {name} must have shape {[n, width]} (rows, columns), "
                                 f"got {list(array.shape)}")
        if self.extra_labels is not None and (self.extra_labels.ndim != 2 or len(self.extra_labels) != n):
            raise ValueError(f"CTRTable: extra_labels must have shape [{n}, tasks], "
                             f"got {list(self.extra_labels.shape)}")

    def __len__(self) -> int:
        return len(self.labels)

    def columns(self) -> dict[str, np.ndarray]:
        """The named feature columns: ``{"I1": dense[:, 0], ..., "C1": categorical[:, 0], ...}``."""
        named = {name: self.dense[:, j] for j, name in enumerate(self.dense_names)}
        named.update({name: self.categorical[:, j] for j, name in enumerate(self.categorical_names)})
        return named

    def take(self, rows) -> CTRTable:
        """The given rows (an index array or a slice) as a new table."""
        extra = None if self.extra_labels is None else self.extra_labels[rows]
        return CTRTable(self.labels[rows], self.dense[rows], self.categorical[rows], self.dense_names,
                        self.categorical_names, extra, dict(self.info))


def _fail(path, line: int, column: int, name: str, text: str, why: str):
    raise ValueError(f"read_criteo: {path}, line {line}, column {column} ({name}): {why}, got {text!r}")


def _parse_dense(values: list, path, first_line: int, column: int, name: str) -> np.ndarray:
    if _NOT_INTEGER.search("\t".join(values)):  # int() also takes "1_000" and spaces; sign misplaced: int() fails
        for i, value in enumerate(values):
            if value and not _INTEGER.fullmatch(value):
                _fail(path, first_line + i, column, name, value, "expected an integer or an empty field")
    text = np.array(values, dtype=object)
    empty = text == ""
    out = np.full(len(values), np.nan, np.float32)
    try:
        out[~empty] = np.array(text[~empty], dtype=np.int64)
    except (ValueError, OverflowError):
        for i, value in enumerate(values):
            try:
                number = None if value == "" else int(value)
            except ValueError:
                _fail(path, first_line + i, column, name, value, "expected an integer or an empty field")
            if number is not None and not _INT64.min <= number <= _INT64.max:
                _fail(path, first_line + i, column, name, value, "the integer does not fit in int64")
        raise
    return out


def _parse_hex(values: tuple, path, first_line: int, column: int, name: str) -> np.ndarray:
    ids = {"": MISSING}
    for value in set(values).difference(ids):  # each distinct id parsed once; the mapping runs at C speed
        try:
            if not _HEX.fullmatch(value):  # int(value, 16) also takes a sign, "0x", "_" and spaces
                raise ValueError(value)
            ids[value] = int(value, 16) & _ID_MASK
        except ValueError:
            _fail(path, first_line + values.index(value), column, name, value,
                  "expected a hexadecimal id or an empty field")
    return np.fromiter(map(ids.__getitem__, values), np.int64, len(values))


def _parse_chunk(lines: list[str], path, first_line: int, has_label: bool):
    width = NUM_DENSE + NUM_CATEGORICAL + int(has_label)
    rows = [line.rstrip("\r\n").split("\t") for line in lines]
    for i, fields in enumerate(rows):
        if len(fields) != width:
            raise ValueError(f"read_criteo: {path}, line {first_line + i}: expected {width} tab-separated fields "
                             f"({'label, ' if has_label else ''}13 integer, 26 categorical), got {len(fields)}")
    columns = list(zip(*rows))
    labels = np.zeros(len(rows), np.float32)
    offset = 0
    if has_label:
        offset = 1
        for i, value in enumerate(columns[0]):
            if value not in ("0", "1"):
                _fail(path, first_line + i, 1, "label", value, "expected 0 or 1")
        labels = (np.array(columns[0], dtype=object) == "1").astype(np.float32)
    dense = np.stack([_parse_dense(columns[offset + j], path, first_line, offset + j + 1, DENSE_NAMES[j])
                      for j in range(NUM_DENSE)], axis=1)
    base = offset + NUM_DENSE
    categorical = np.stack([_parse_hex(columns[base + j], path, first_line, base + j + 1, CATEGORICAL_NAMES[j])
                            for j in range(NUM_CATEGORICAL)], axis=1)
    return labels, dense, categorical


def read_criteo(path: str | os.PathLike, limit: int | None = None, has_label: bool = True) -> CTRTable:
    """Read a Criteo-format file (``label, I1..I13, C1..C26``, tab-separated; fields may be empty).

    ``limit`` stops after that many lines; ``has_label=False`` reads files without the label column
    (Criteo's test set), giving zero labels. Blank lines are errors, as are wrong field counts, labels
    other than 0/1, non-integer ``I`` fields and non-hex ``C`` fields: the message names file, line and
    column (1-based).

    >>> table = read_criteo("train.txt", limit=1_000_000)
    """
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"read_criteo: limit must be a non-negative int or None, got {limit!r}")
    parts, first_line = [], 1
    with open(path, encoding="ascii", errors="strict") as f:
        while limit is None or first_line - 1 < limit:
            want = _CHUNK_LINES if limit is None else min(_CHUNK_LINES, limit - first_line + 1)
            lines = []
            for line in f:
                lines.append(line)
                if len(lines) == want:
                    break
            if not lines:
                break
            parts.append(_parse_chunk(lines, path, first_line, has_label))
            first_line += len(lines)
            if len(lines) < want:
                break
    if not parts:
        return CTRTable(np.zeros(0, np.float32), np.zeros((0, NUM_DENSE), np.float32),
                        np.zeros((0, NUM_CATEGORICAL), np.int64))
    labels, dense, categorical = (np.concatenate(p) for p in zip(*parts))
    return CTRTable(labels, dense, categorical)


def _check_writable(table: CTRTable) -> None:
    """Refuse values the text format would change: it holds 0/1 labels, integer features and hex ids."""
    labels = np.asarray(table.labels)
    bad = np.flatnonzero((labels != 0) & (labels != 1))
    if bad.size:
        raise ValueError(f"write_criteo: labels must be 0 or 1, got {float(labels[bad[0]]):g} in row {bad[0]}")
    dense = np.asarray(table.dense, np.float64)
    present = ~np.isnan(dense)
    bad_dense = present & ((dense != np.round(dense)) | (np.abs(dense) > 2.0**63))
    if bad_dense.any():
        row, col = (int(i) for i in np.argwhere(bad_dense)[0])
        value = float(table.dense[row, col])
        raise ValueError(f"write_criteo: {table.dense_names[col]} holds {value:g} in row {row}; the Criteo format "
                         "writes integer features (bucketize or round them first)")
    categorical = np.asarray(table.categorical)
    bad_ids = categorical < MISSING
    if bad_ids.any():
        row, col = (int(i) for i in np.argwhere(bad_ids)[0])
        raise ValueError(f"write_criteo: {table.categorical_names[col]} holds {int(categorical[row, col])} in row "
                         f"{row}; categorical ids are non-negative (hex), -1 for a missing value")


def write_criteo(path: str | os.PathLike, table: CTRTable) -> None:
    """Write a 13-dense, 26-categorical ``CTRTable`` as a Criteo-format file (missing values empty).

    >>> write_criteo("synthetic.txt", make_synthetic_ctr(10_000, seed=0).table)
    """
    if table.dense.shape[1] != NUM_DENSE or table.categorical.shape[1] != NUM_CATEGORICAL:
        raise ValueError(f"write_criteo: the Criteo format holds 13 dense and 26 categorical columns, got "
                         f"{table.dense.shape[1]} and {table.categorical.shape[1]}")
    _check_writable(table)
    dense = [["" if np.isnan(v) else str(int(v)) for v in column] for column in table.dense.T]
    categorical = [["" if v == MISSING else format(int(v), "08x") for v in column] for column in table.categorical.T]
    labels = [str(int(v)) for v in table.labels]
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="ascii") as f:
            for row in zip(labels, *dense, *categorical):
                f.write("\t".join(row))
                f.write("\n")
        os.replace(tmp, path)
    except BaseException:  # (a full disk, an interrupt): no partial file left beside the target
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
