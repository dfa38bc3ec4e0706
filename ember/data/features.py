"""Feature columns: named raw columns in, model inputs out (dense floats, categorical ids, id bags).

A column reads one (or, crossed, several) named raw columns and gives either a dense float column, one
categorical id per row, or a bag of ids per row (CSR). ``FeatureColumns`` applies a list of them to a
dict of raw columns and returns a ``FeatureBatch``. Categorical ids become 63-bit **keys** salted by
field (``field_keys``), so one hash table can hold every field's rows without collisions between fields.

>>> columns = FeatureColumns([LogNormalized("I1"), HashBucket("C1"), Crossed(["C1", "C2"])])
>>> batch = columns.transform({"I1": np.array([3.0, np.nan]), "C1": np.array([7, 9]), "C2": np.array([1, 1])})
>>> batch.dense.shape, batch.ids.shape
((2, 1), (2, 2))
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ember.data.readers import CSR

_MASK63 = np.uint64((1 << 63) - 1)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def hash64(values: np.ndarray, salt: int = 0) -> np.ndarray:
    """A deterministic 63-bit hash (SplitMix64's finalizer) of int64 values, or of strings/bytes, as int64.

    >>> hash64(np.array([1, 2, 3]), salt=5)
    """
    values = np.asarray(values)
    if values.dtype.kind in "USO":
        distinct, inverse = np.unique(values.astype(str), return_inverse=True)
        digests = [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") for s in distinct]
        values = np.array(digests, dtype=np.uint64)[inverse.reshape(values.shape)]
    elif values.dtype.kind not in "iub":
        raise TypeError(f"hash64: values must be integers or strings, got dtype {values.dtype}")
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(salt % (1 << 64)) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z & _MASK63).astype(np.int64)


def field_keys(ids: np.ndarray, field: int) -> np.ndarray:
    """Keys of field ``field``'s ids: distinct fields give distinct keys for the same id."""
    return hash64(ids, salt=field + 1)


def _raw(columns: Mapping, key: str, owner: str):
    if key not in columns:
        raise KeyError(f"{owner}: no raw column {key!r}; the input has {sorted(columns)}")
    return columns[key]


def _numeric(columns: Mapping, key: str, owner: str) -> np.ndarray:
    values = np.asarray(_raw(columns, key, owner))
    if values.ndim != 1 or values.dtype.kind not in "iuf":
        raise TypeError(f"{owner}: raw column {key!r} must be a 1-D numeric array, got dtype {values.dtype} "
                        f"and shape {list(values.shape)}")
    return values.astype(np.float64)


def _ids(columns: Mapping, key: str, owner: str) -> np.ndarray:
    values = np.asarray(_raw(columns, key, owner))
    if values.ndim != 1:
        raise TypeError(f"{owner}: raw column {key!r} must be 1-D, got shape {list(values.shape)}")
    return _integral(values, key, owner)


def _integral(values: np.ndarray, key: str, owner: str) -> np.ndarray:
    """Float ids (a column read with NaN for missing values) as int64, NaN as -1; other dtypes as they are."""
    if values.dtype.kind == "f":
        if not np.all(np.isnan(values) | (values == np.round(values))):
            raise TypeError(f"{owner}: raw column {key!r} holds non-integral floats; bucketize it instead")
        values = np.where(np.isnan(values), -1, values).astype(np.int64)
    return values


class FeatureColumn:
    """A column of the model's input. ``kind`` is "dense", "categorical" or "bag"; ``transform(columns)``
    returns (N,) floats, (N,) int64 ids, or a CSR of ids."""

    kind = "categorical"
    name = ""

    def transform(self, columns: Mapping):
        raise NotImplementedError(f"{type(self).__name__} must define transform()")  # abstract

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class LogNormalized(FeatureColumn):
    """A dense column ``log1p(max(x, 0))``; a missing (NaN) value becomes 0 (Criteo's usual transform).

    >>> LogNormalized("I1").transform({"I1": np.array([0.0, 9.0, np.nan])})   # [0, log 10, 0]
    """

    kind = "dense"

    def __init__(self, key: str):
        self.key = self.name = key

    def transform(self, columns: Mapping) -> np.ndarray:
        x = _numeric(columns, self.key, f"LogNormalized({self.key!r})")
        return np.log1p(np.maximum(np.nan_to_num(x, nan=0.0), 0.0)).astype(np.float32)


class Numeric(FeatureColumn):
    """A dense column ``(x - mean) / std``; a missing (NaN) value becomes ``default`` (before scaling).

    >>> Numeric("price", mean=10.0, std=5.0)
    """

    kind = "dense"

    def __init__(self, key: str, mean: float = 0.0, std: float = 1.0, default: float = 0.0):
        if not std > 0:
            raise ValueError(f"Numeric({key!r}): std must be > 0, got {std}")
        self.key = self.name = key
        self.mean, self.std, self.default = mean, std, default

    def transform(self, columns: Mapping) -> np.ndarray:
        x = _numeric(columns, self.key, f"Numeric({self.key!r})")
        return ((np.nan_to_num(x, nan=self.default) - self.mean) / self.std).astype(np.float32)


class Bucketized(FeatureColumn):
    """A categorical id from a numeric column: the bucket of ``x`` among sorted ``boundaries``
    (0 .. len(boundaries)), and len(boundaries) + 1 for a missing value.

    >>> Bucketized("age", [18, 30, 50]).transform({"age": np.array([10, 30, 70])})   # [0, 2, 3]
    """

    def __init__(self, key: str, boundaries: Sequence[float]):
        boundaries = np.asarray(boundaries, np.float64)
        if boundaries.ndim != 1 or boundaries.size == 0 or np.any(np.diff(boundaries) <= 0):
            raise ValueError(f"Bucketized({key!r}): boundaries must be a non-empty increasing list, "
                             f"got {boundaries.tolist()}")
        self.key = self.name = key
        self.boundaries = boundaries

    @property
    def num_buckets(self) -> int:
        return self.boundaries.size + 2

    def transform(self, columns: Mapping) -> np.ndarray:
        x = _numeric(columns, self.key, f"Bucketized({self.key!r})")
        ids = np.searchsorted(self.boundaries, x, side="right").astype(np.int64)
        return np.where(np.isnan(x), self.boundaries.size + 1, ids)


class HashBucket(FeatureColumn):
    """A categorical id hashed from ints or strings: ``hash64(x) % num_buckets``, or the 63-bit hash
    itself with ``num_buckets=None`` (for hash-table embeddings, which need no bucket count).

    >>> HashBucket("C1", num_buckets=1000).transform({"C1": np.array(["a", "b"])})
    """

    def __init__(self, key: str, num_buckets: int | None = None):
        if num_buckets is not None and num_buckets < 1:
            raise ValueError(f"HashBucket({key!r}): num_buckets must be >= 1 or None, got {num_buckets}")
        self.key = self.name = key
        self.num_buckets = num_buckets

    def transform(self, columns: Mapping) -> np.ndarray:
        values = np.asarray(_raw(columns, self.key, f"HashBucket({self.key!r})"))
        if values.ndim != 1:
            raise TypeError(f"HashBucket({self.key!r}): raw column {self.key!r} must be 1-D, got shape "
                            f"{list(values.shape)}")
        if values.dtype.kind == "f":
            values = _ids(columns, self.key, f"HashBucket({self.key!r})")
        hashed = hash64(values)
        return hashed if self.num_buckets is None else hashed % self.num_buckets


class Identity(FeatureColumn):
    """A categorical column that already holds ids in [0, num_buckets); others (missing included) map to
    ``default_value``, or raise when it is None.

    >>> Identity("weekday", 7).transform({"weekday": np.array([0, 6])})
    """

    def __init__(self, key: str, num_buckets: int, default_value: int | None = None):
        if num_buckets < 1:
            raise ValueError(f"Identity({key!r}): num_buckets must be >= 1, got {num_buckets}")
        self.key = self.name = key
        self.num_buckets, self.default_value = num_buckets, default_value

    def transform(self, columns: Mapping) -> np.ndarray:
        ids = _ids(columns, self.key, f"Identity({self.key!r})")
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Identity({self.key!r}): ids must be integers, got dtype {ids.dtype}")
        outside = (ids < 0) | (ids >= self.num_buckets)
        if outside.any():
            if self.default_value is None:
                bad = ids[outside][:5].tolist()
                raise ValueError(f"Identity({self.key!r}): ids {bad} are outside [0, {self.num_buckets}) "
                                 "and no default_value is set")
            ids = np.where(outside, self.default_value, ids)
        return ids.astype(np.int64)


class Vocabulary(FeatureColumn):
    """A categorical id from a fixed vocabulary: a value's index in ``vocabulary``; values outside it go
    to ``len(vocabulary) + hash % num_oov_buckets``.

    >>> Vocabulary("color", ["red", "green"]).transform({"color": np.array(["green", "blue"])})   # [1, 2]
    """

    def __init__(self, key: str, vocabulary: Sequence, num_oov_buckets: int = 1):
        if num_oov_buckets < 1:
            raise ValueError(f"Vocabulary({key!r}): num_oov_buckets must be >= 1, got {num_oov_buckets}")
        values = np.asarray(list(vocabulary))
        if values.dtype.kind not in "iuUS":
            raise TypeError(f"Vocabulary({key!r}): the vocabulary must hold integers or strings, got dtype "
                            f"{values.dtype}")
        if len(np.unique(values)) != len(values):
            raise ValueError(f"Vocabulary({key!r}): the vocabulary has repeated entries")
        self.key = self.name = key
        self.vocabulary = values
        self.num_oov_buckets = num_oov_buckets
        self._order = np.argsort(values, kind="stable")
        self._sorted = values[self._order]

    @property
    def num_buckets(self) -> int:
        return len(self.vocabulary) + self.num_oov_buckets

    def transform(self, columns: Mapping) -> np.ndarray:
        values = np.asarray(_raw(columns, self.key, f"Vocabulary({self.key!r})"))
        if values.ndim != 1:
            raise TypeError(f"Vocabulary({self.key!r}): raw column {self.key!r} must be 1-D, got shape "
                            f"{list(values.shape)}")
        if self._sorted.dtype.kind in "US":
            values = values.astype(str)
        elif values.dtype.kind not in "iuf":  # a string never equals an integer: every value would be OOV
            raise TypeError(f"Vocabulary({self.key!r}): the vocabulary holds integers but raw column {self.key!r} "
                            f"has dtype {values.dtype}; give the vocabulary as strings")
        else:
            values = _integral(values, self.key, f"Vocabulary({self.key!r})")
        pos = np.clip(np.searchsorted(self._sorted, values), 0, max(len(self._sorted) - 1, 0))
        known = self._sorted[pos] == values if len(self._sorted) else np.zeros(values.shape, bool)
        oov = len(self.vocabulary) + hash64(values) % self.num_oov_buckets
        return np.where(known, self._order[pos], oov).astype(np.int64)


class Crossed(FeatureColumn):
    """The cross of several categorical raw columns: one id per combination of their values, hashed
    (``% num_buckets``, or the 63-bit hash with None). Raw values are ints or strings.

    >>> Crossed(["C1", "C2"], num_buckets=10_000)
    """

    def __init__(self, keys: Sequence[str], num_buckets: int | None = None):
        if len(keys) < 2:
            raise ValueError(f"Crossed: needs at least two keys, got {list(keys)}")
        self.keys = list(keys)
        self.name = "_X_".join(self.keys)
        self.num_buckets = num_buckets

    def transform(self, columns: Mapping) -> np.ndarray:
        raws = [np.asarray(_raw(columns, key, f"Crossed({self.name!r})")) for key in self.keys]
        shapes = {tuple(raw.shape) for raw in raws}
        # no broadcasting: a column of one value would be crossed with every row, an (N, 1) one give (N, N) ids
        if len(shapes) != 1 or raws[0].ndim != 1:
            raise ValueError(f"Crossed({self.name!r}): raw columns must be 1-D of one length, got shapes "
                             f"{[list(raw.shape) for raw in raws]}")
        raws = [_integral(raw, key, f"Crossed({self.name!r})") for key, raw in zip(self.keys, raws)]
        combined = None
        for i, raw in enumerate(raws):
            part = hash64(raw, salt=1000 + i)
            combined = part if combined is None else hash64(combined ^ part, salt=2000 + i)
        return combined if self.num_buckets is None else combined % self.num_buckets


class Bag(FeatureColumn):
    """A multi-valued categorical column (tags, recent items): the raw column is a CSR of ids (or a list
    of id arrays, one per row); each id is hashed as in ``HashBucket``. Rows may be empty. ``combiner``
    ("mean", "sum" or "max") is how the models' field embedding pools a row's embeddings (zeros for an
    empty row).

    >>> Bag("tags").transform({"tags": [np.array([3, 5]), np.array([], np.int64)]}).indptr   # [0, 2, 2]
    """

    kind = "bag"

    def __init__(self, key: str, num_buckets: int | None = None, combiner: str = "mean"):
        if combiner not in ("sum", "mean", "max"):
            raise ValueError(f"Bag({key!r}): combiner must be 'sum', 'mean' or 'max', got {combiner!r}")
        self.key = self.name = key
        self.num_buckets, self.combiner = num_buckets, combiner

    def transform(self, columns: Mapping) -> CSR:
        raw = _raw(columns, self.key, f"Bag({self.key!r})")
        if not isinstance(raw, CSR):
            rows = [np.asarray(r).reshape(-1) for r in raw]
            indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
            values = np.concatenate(rows) if rows else np.zeros(0, np.int64)
            raw = CSR(indptr, values, np.ones(len(values), np.float32), (len(rows), 0))
        hashed = hash64(_integral(np.asarray(raw.indices), self.key, f"Bag({self.key!r})"))
        ids = hashed if self.num_buckets is None else hashed % self.num_buckets
        return CSR(np.asarray(raw.indptr, np.int64), ids, np.ones(len(ids), np.float32), (len(raw.indptr) - 1, 0))


@dataclass
class FeatureBatch:
    """Transformed features of N rows: ``dense`` (N, D) float32, ``ids`` (N, F) int64 per categorical
    field, ``keys`` (N, F) the same ids salted by field (``field_keys``), ``bags``, one CSR of keys
    per bag column (fields F, F+1, ...), and ``combiners``, how each bag's rows are pooled (its ``Bag``'s)."""

    dense: np.ndarray
    ids: np.ndarray
    keys: np.ndarray
    bags: tuple
    combiners: tuple = ()


class FeatureColumns:
    """An ordered list of feature columns; ``transform`` turns raw named columns into a ``FeatureBatch``.

    >>> columns = criteo_columns()
    >>> batch = columns.transform(table.columns())
    """

    def __init__(self, columns: Sequence[FeatureColumn]):
        names = [c.name for c in columns]
        if len(set(names)) != len(names):
            raise ValueError(f"FeatureColumns: column names must be unique, got {names}")
        for c in columns:
            if not isinstance(c, FeatureColumn):
                raise TypeError(f"FeatureColumns: expected FeatureColumn objects, got {type(c).__name__}")
        self.columns = list(columns)
        self.dense = [c for c in self.columns if c.kind == "dense"]
        self.categorical = [c for c in self.columns if c.kind == "categorical"]
        self.bags = [c for c in self.columns if c.kind == "bag"]

    @property
    def num_dense(self) -> int:
        return len(self.dense)

    @property
    def num_fields(self) -> int:
        """Embedded fields: the categorical columns, then the bag columns."""
        return len(self.categorical) + len(self.bags)

    @property
    def field_names(self) -> list[str]:
        return [c.name for c in self.categorical + self.bags]

    def transform(self, columns: Mapping) -> FeatureBatch:
        """Apply every column to the raw ``columns`` (a dict of equal-length arrays)."""
        n = None
        dense = [c.transform(columns) for c in self.dense]
        ids = [c.transform(columns) for c in self.categorical]
        csrs = [c.transform(columns) for c in self.bags]
        rows = [len(part) for part in dense + ids] + [len(csr.indptr) - 1 for csr in csrs]
        for column, count in zip(self.dense + self.categorical + self.bags, rows):
            if n is None:
                n = count
            elif count != n:
                raise ValueError(f"FeatureColumns: column {column.name!r} has {count} rows, expected {n}")
        n = n or 0
        dense_block = np.stack(dense, 1) if dense else np.zeros((n, 0), np.float32)
        id_block = np.stack(ids, 1) if ids else np.zeros((n, 0), np.int64)
        keys = np.stack([field_keys(part, f) for f, part in enumerate(ids)], 1) if ids else id_block
        first = len(self.categorical)
        bags = []
        for k, csr in enumerate(csrs):
            bags.append(CSR(csr.indptr, field_keys(csr.indices, first + k), csr.values, csr.shape))
        return FeatureBatch(dense_block, id_block, keys, tuple(bags), tuple(c.combiner for c in self.bags))

    def __repr__(self) -> str:
        return f"FeatureColumns({self.columns})"


def criteo_columns(num_buckets: int | None = None) -> FeatureColumns:
    """The default Criteo columns: ``LogNormalized`` I1..I13 and ``HashBucket`` C1..C26 (raw 63-bit
    hashes for hash-table embeddings, or ``% num_buckets`` for fixed tables).

    >>> criteo_columns().num_fields
    26
    """
    from ember.data.criteo import CATEGORICAL_NAMES, DENSE_NAMES

    return FeatureColumns([LogNormalized(k) for k in DENSE_NAMES] +
                          [HashBucket(k, num_buckets) for k in CATEGORICAL_NAMES])
