"""Stable 64-bit hashing of ids: the mixer behind the id index and keyed initializers, and string ids.

Every function here is vectorized (whole arrays, no per-id Python loop) and gives the same bits on every
machine and in every process, so a string id maps to the same key after a restore or on another rank.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer on a uint64 array (wrapping arithmetic): a bijection that spreads every bit.

    Large arrays go through in blocks that stay in cache, reusing one scratch array (six passes otherwise
    stream the whole array through memory six times and fault in a temporary each).
    """
    x = np.asarray(x, np.uint64)
    out = np.empty_like(x)
    flat_in, flat_out = x.reshape(-1), out.reshape(-1)
    block = 1 << 15
    shift = np.empty(min(block, flat_in.size), np.uint64)
    for lo in range(0, flat_in.size, block):
        z = flat_out[lo : lo + block]
        t = shift[: z.size]
        np.add(flat_in[lo : lo + block], _GOLDEN, out=z)
        np.right_shift(z, np.uint64(30), out=t)
        z ^= t
        z *= _MUL1
        np.right_shift(z, np.uint64(27), out=t)
        z ^= t
        z *= _MUL2
        np.right_shift(z, np.uint64(31), out=t)
        z ^= t
    return out


def hash_strings(values) -> np.ndarray:
    """int64 keys for strings or bytes (any array shape or a list): FNV-1a over the UTF-8 bytes, then mixed.

    Vectorized over the ids: one pass per byte column of the longest string, not per id. As NumPy's
    string arrays do, trailing NUL characters are dropped before hashing.

    >>> hash_strings(["a", "b"]).dtype
    dtype('int64')
    """
    array = np.asarray(values)
    shape = array.shape
    if array.dtype.kind == "U":
        array = np.char.encode(array, "utf-8")
    elif array.dtype.kind == "O":
        flat = [v.encode("utf-8") if isinstance(v, str) else v for v in array.reshape(-1).tolist()]
        if not all(isinstance(v, bytes) for v in flat):
            kinds = sorted({type(v).__name__ for v in flat if not isinstance(v, bytes)})
            raise TypeError(f"hash_strings: ids must be str or bytes, got {', '.join(kinds)}")
        array = np.array(flat, dtype=bytes) if flat else np.zeros(0, "S1")
    if array.dtype.kind != "S":
        raise TypeError(f"hash_strings: ids must be strings or bytes, got dtype {array.dtype}")
    array = array.reshape(-1)
    width = array.dtype.itemsize
    lengths = np.char.str_len(array) if array.size else np.zeros(0, np.int64)
    columns = np.frombuffer(array.tobytes(), np.uint8).reshape(array.size, width) if width else None
    h = np.full(array.size, _FNV_OFFSET, np.uint64)
    for j in range(width):  # one vectorized step per byte position
        inside = lengths > j
        step = (h ^ columns[:, j].astype(np.uint64)) * _FNV_PRIME
        np.copyto(h, step, where=inside)
    h ^= lengths.astype(np.uint64) * _GOLDEN
    return mix64(h).view(np.int64).reshape(shape)


def as_keys(ids, what: str = "ids") -> np.ndarray:
    """ids as an int64 NumPy array: integers pass through, strings and bytes are hashed (``hash_strings``)."""
    from ember.tensor import Tensor

    if isinstance(ids, Tensor):
        ids = ids.detach().array
    if hasattr(ids, "get") and not isinstance(ids, np.ndarray):  # a CuPy array: keys live on the host
        ids = ids.get()
    try:
        array = np.asarray(ids) if not isinstance(ids, np.ndarray) else ids
    except ValueError:  # NumPy's "inhomogeneous shape": a ragged list such as [[1, 2], [3]]
        raise ValueError(f"{what} must be a rectangular array (a Tensor, an array or lists of equal lengths) of "
                         f"integer or string ids, got a ragged list; pad its rows to one length (HashEmbeddingBag "
                         f"also takes the ids flat, with offsets)") from None
    kind = array.dtype.kind
    if kind in "iu":
        if kind == "u" and array.dtype.itemsize == 8:
            return array.view(np.int64)
        return array.astype(np.int64, copy=False)
    if kind in "US":
        return hash_strings(array)
    if kind == "O" or (kind == "f" and not isinstance(ids, np.ndarray)):
        # NumPy makes a list of Python ints float64 or object when no int dtype holds them all
        flat = np.asarray(ids, dtype=object).reshape(-1).tolist()
        ints = [v for v in flat if isinstance(v, (int, np.integer)) and not isinstance(v, bool)]
        if ints and len(ints) == len(flat):
            low, high = min(ints), max(ints)
            if 0 <= low and high < 2**64:  # ([2**63, 1] is float64 to NumPy) uint64 ids, as an array of them is taken
                return np.array(flat, np.uint64).reshape(array.shape).view(np.int64)
            raise TypeError(f"{what} must be integers that fit int64 (or uint64 when none is negative): got values "
                            f"from {low} to {high}, which NumPy holds as {array.dtype}")
        if kind == "O":
            try:
                return hash_strings(array)
            except TypeError as exc:
                raise TypeError(f"{what} must be integers (any int dtype) or strings: {exc}") from None
    raise TypeError(f"{what} must be integers (any int dtype) or strings, got dtype {array.dtype} "
                    f"of shape {list(array.shape)}")
