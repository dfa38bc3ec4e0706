"""Checkpoints: ``save(obj, path)`` / ``load(path)`` for nested containers of Tensors, arrays and plain values.

One safetensors file holds every array (bfloat16 included, as safetensors' BF16) and, in its metadata,
a JSON description of the nesting and of the non-array values. Loading never runs code from the file.
Writing is atomic: the file is written to a temporary name in the same directory, flushed to disk,
then renamed over ``path``, so a crash leaves either the old checkpoint or the new one.

JSON structure of a node: ``null``, ``true``/``false``, a number, a string, or an object tagged by one
key: ``{"int": "<digits>"}`` (ints beyond 2**53), ``{"float": "nan"|"inf"|"-inf"}``, ``{"list": [...]}``,
``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}``, ``{"tensor": name, "requires_grad": bool}``,
``{"array": name}``, ``{"scalar": name}`` (a NumPy scalar, stored as a 0-d array).
"""

from __future__ import annotations

import json
import math
import os
import tempfile

import ml_dtypes
import numpy as np
from safetensors import TensorSpec, deserialize, serialize_file

from ember.backend.devices import Device
from ember.tensor import Tensor

FORMAT = "ember.checkpoint"
VERSION = "1"
_SAFE_INT = 2**53

# safetensors dtype codes -> NumPy; the writer takes NumPy's dtype names (bfloat16 is ml_dtypes').
_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16, "I64": np.int64,
    "U64": np.uint64, "I32": np.int32, "U32": np.uint32, "I16": np.int16, "U16": np.uint16, "I8": np.int8,
    "U8": np.uint8, "BOOL": np.bool_,
}
_WRITABLE = {np.dtype(d).name for d in _DTYPES.values()}


def _path_str(path: tuple) -> str:
    return "obj" + "".join(f"[{key!r}]" for key in path)


class _Writer:
    """Walks an object, collecting its arrays and building the JSON structure."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, array: np.ndarray, path: tuple) -> str:
        if array.dtype.name not in _WRITABLE:
            raise TypeError(f"save: {_path_str(path)} has dtype {array.dtype}, which a checkpoint cannot hold")
        name = "/".join(str(k) for k in path) or "obj"
        if name in self.arrays:  # e.g. keys 1 and "1" side by side
            name = f"{name}#{len(self.arrays)}"
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        self.arrays[name] = array if array.flags.c_contiguous else np.ascontiguousarray(array)  # keeps 0-d
        return name

    def encode(self, obj, path: tuple = ()):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj if -_SAFE_INT <= obj <= _SAFE_INT else {"int": str(obj)}
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, Tensor):
            data = obj.detach().numpy()
            return {"tensor": self._store(data, path), "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"array": self._store(obj, path)}
        if isinstance(obj, np.generic):
            return {"scalar": self._store(np.asarray(obj), path)}
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if not (key is None or isinstance(key, (bool, int, float, str))):
                    raise TypeError(f"save: {_path_str(path)} has a key of type {type(key).__name__} ({key!r}); "
                                    "keys must be str, int, float, bool or None")
                items.append([self.encode(key, path), self.encode(value, path + (key,))])
            return {"dict": items}
        if isinstance(obj, (list, tuple)):
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {kind: [self.encode(value, path + (i,)) for i, value in enumerate(obj)]}
        raise TypeError(
            f"save: cannot save {_path_str(path)} of type {type(obj).__name__}; a checkpoint holds Tensors, "
            "NumPy arrays and scalars, Python numbers, strings, bools, None, and dicts, lists and tuples of them"
        )


def _fsync_dir(directory: str) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(obj, path: str | os.PathLike) -> None:
    """Save ``obj`` (Tensors, NumPy arrays, numbers, strings, bools, None, nested in dicts, lists and
    tuples) to ``path`` atomically. Dict subclasses are saved as dicts, tuple subclasses as tuples.

    >>> ember.save({"model": net.state_dict(), "epoch": 3, "rng": ember.get_rng_state()}, "ckpt.safetensors")
    """
    writer = _Writer()
    structure = writer.encode(obj)
    metadata = {"format": FORMAT, "version": VERSION, "structure": json.dumps(structure, allow_nan=False)}
    specs = {
        name: TensorSpec(dtype=a.dtype.name, shape=list(a.shape), data_ptr=a.ctypes.data, data_len=a.nbytes)
        for name, a in writer.arrays.items()
    }
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        serialize_file(specs, tmp, metadata=metadata)
        with open(tmp, "rb+") as f:
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def _read_metadata(data: bytes, path: str) -> dict:
    """The ``__metadata__`` of a safetensors header (8-byte little-endian length, then JSON)."""
    if len(data) < 8:
        raise ValueError(f"load: {path} is not a checkpoint (too short)")
    size = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8 : 8 + size])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"load: {path} is not a safetensors checkpoint ({exc})") from exc
    metadata = header.get("__metadata__") or {}
    if metadata.get("format") != FORMAT:
        raise ValueError(f"load: {path} is a safetensors file but not an Ember checkpoint (no structure metadata)")
    if metadata.get("version") != VERSION:
        raise ValueError(f"load: {path} has checkpoint version {metadata.get('version')}, expected {VERSION}")
    return metadata


def load(path: str | os.PathLike, device=None):
    """Load what ``save`` wrote: Tensors come back as Ember Tensors (on ``device``, default cpu), arrays
    as NumPy arrays, and the containers and values as they were.

    >>> checkpoint = ember.load("ckpt.safetensors")
    >>> ember.set_rng_state(checkpoint["rng"])
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    structure = json.loads(_read_metadata(data, path)["structure"])
    arrays = {}
    for name, view in deserialize(data):
        dtype = _DTYPES.get(view["dtype"])
        if dtype is None:
            raise ValueError(f"load: {path} holds {name!r} of unsupported dtype {view['dtype']}")
        arrays[name] = np.frombuffer(view["data"], dtype=dtype).reshape(view["shape"])
    device = None if device is None else Device(device)
    return _decode(structure, arrays, device)


def _decode(node, arrays: dict, device):
    if not isinstance(node, (dict, list)):
        return node
    (kind, value), *extra = node.items()
    if kind == "dict":
        return {_decode(k, arrays, device): _decode(v, arrays, device) for k, v in value}
    if kind == "list":
        return [_decode(v, arrays, device) for v in value]
    if kind == "tuple":
        return tuple(_decode(v, arrays, device) for v in value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "array":
        return arrays[value]
    if kind == "scalar":
        return arrays[value][()]
    if kind == "tensor":
        array = arrays[value]
        tensor = Tensor._make(array, None) if device is None or device.type == "cpu" else Tensor(array, device=device)
        return tensor.requires_grad_(True) if node.get("requires_grad") else tensor
    raise ValueError(f"load: unknown node {kind!r} in the checkpoint structure")


__all__ = ["load", "save"]
