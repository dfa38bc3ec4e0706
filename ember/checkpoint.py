"""Checkpoints: ``save(obj, path)`` / ``load(path)`` for nested containers of Tensors, arrays and plain values.

One safetensors file holds every array (bfloat16 included, as safetensors' BF16) and, in its metadata,
a JSON description of the nesting and of the non-array values. Loading never runs code from the file.
Writing is atomic: the file is written to a temporary name in the same directory, flushed to disk,
then renamed over ``path``, so a crash leaves either the old checkpoint or the new one. The metadata
also holds a CRC-32 of every tensor (its dtype, shape and bytes) and of the structure: ``load`` verifies
them and checks the whole header, so a corrupted, truncated or tampered file is an error, never data.

JSON structure of a node: ``null``, ``true``/``false``, a number, a string, or an object tagged by one
key: ``{"int": "<digits>"}`` (ints beyond 2**53), ``{"float": "nan"|"inf"|"-inf"}``, ``{"list": [...]}``,
``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}``, ``{"tensor": name, "requires_grad": bool}`` (with
``"parameter": true`` for an ``nn.Parameter``, and ``"object": n`` on every node of a Tensor object saved more
than once, which loads as one object again),
``{"array": name}``, ``{"scalar": name}`` (a NumPy scalar, stored as a 0-d array); a complex one adds
``"complex": true`` and is stored as its (real, imaginary) pairs along a last axis of 2. A sparse COO tensor is
``{"sparse_coo": [indices, values], "shape": [...], "coalesced": bool}`` and a sparse CSR matrix
``{"sparse_csr": [crow_indices, col_indices, values], "shape": [...]}`` (a CSC one ``{"sparse_csc": [ccol_indices,
row_indices, values], "shape": [...]}``), their parts tensor nodes; loading checks them
as the constructors do (and a coalesced flag against the coordinates).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import socket
import zlib

import ml_dtypes
import numpy as np
from safetensors import TensorSpec, serialize, serialize_file

from ember.backend.devices import Device
from ember.csr import SparseCSCTensor, SparseCSRTensor, sparse_csr_tensor
from ember.sparse_coo import SparseCOOTensor, sparse_coo_tensor
from ember.tensor import Tensor

FORMAT = "ember.checkpoint"
VERSION = "2"  # 2 adds a checksum per tensor and one of the header; version 1 files still load
_READABLE_VERSIONS = ("1", "2")
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
        self.views: dict[tuple, str] = {}  # (address, shape, strides, dtype) -> name: one memory stored once
        self.objects: dict[int, list] = {}  # id of a Tensor -> its nodes (the Tensors live in the saved object)
        self.open: set[int] = set()  # ids of the containers being encoded: one met again inside itself is a cycle

    def mark_repeated_objects(self) -> None:
        """Number the Tensor objects met more than once, so that ``load`` gives one object for each, as pickle."""
        repeated = [nodes for nodes in self.objects.values() if len(nodes) > 1]
        for number, nodes in enumerate(repeated):
            for node in nodes:
                node["object"] = number

    def _stored(self, kind: str, array: np.ndarray, path: tuple, **extra) -> dict:
        """The node of one array; a complex one is stored as its (real, imaginary) pairs."""
        if array.dtype.kind == "c":
            pairs = np.ascontiguousarray(array).view(array.real.dtype).reshape(array.shape + (2,))
            return {kind: self._store(pairs, path), **extra, "complex": True}
        return {kind: self._store(array, path), **extra}

    def _store(self, array: np.ndarray, path: tuple) -> str:
        if array.dtype.name not in _WRITABLE:
            raise TypeError(f"save: {_path_str(path)} has dtype {array.dtype}, which a checkpoint cannot hold")
        name = "/".join(str(k) for k in path) or "obj"
        base, count = name, len(self.arrays)
        # keys 1 and "1" side by side, a key that is an earlier suffixed name, or safetensors' own header key
        while name in self.arrays or name == "__metadata__":
            name, count = f"{base}#{count}", count + 1
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
            from ember.nn.parameter import Parameter

            key = _view_key(obj.array)
            name = self.views.get(key)
            if name is not None:  # the same memory again (tied weights' state dicts): stored once, as PyTorch
                node = {"tensor": name, "requires_grad": bool(obj.requires_grad)}
                if obj.array.dtype.kind == "c":
                    node["complex"] = True
            else:
                node = self._stored("tensor", obj.detach().numpy(), path, requires_grad=bool(obj.requires_grad))
                self.views[key] = node["tensor"]
            if isinstance(obj, Parameter):
                node["parameter"] = True
            self.objects.setdefault(id(obj), []).append(node)
            return node
        if isinstance(obj, SparseCOOTensor):
            parts = [self.encode(obj._indices_t, path + ("indices",)), self.encode(obj._values_t, path + ("values",))]
            return {"sparse_coo": parts, "shape": list(obj.shape), "coalesced": obj.is_coalesced()}
        if isinstance(obj, SparseCSRTensor):
            parts = [self.encode(obj.crow_indices(), path + ("crow_indices",)),
                     self.encode(obj.col_indices(), path + ("col_indices",)),
                     self.encode(obj.values(), path + ("values",))]
            return {"sparse_csr": parts, "shape": list(obj.shape)}
        if isinstance(obj, SparseCSCTensor):
            parts = [self.encode(obj.ccol_indices(), path + ("ccol_indices",)),
                     self.encode(obj.row_indices(), path + ("row_indices",)),
                     self.encode(obj.values(), path + ("values",))]
            return {"sparse_csc": parts, "shape": list(obj.shape)}
        if isinstance(obj, np.ndarray):
            return self._stored("array", obj, path)
        if isinstance(obj, np.generic):
            return self._stored("scalar", np.asarray(obj), path)
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self.open:
                raise TypeError(f"save: {_path_str(path)} is a {type(obj).__name__} that contains itself; a "
                                "checkpoint cannot hold a cycle")
            self.open.add(id(obj))
            try:
                return self._container(obj, path)
            finally:
                self.open.discard(id(obj))
        hint = ""
        if callable(getattr(obj, "state_dict", None)):  # a whole model or optimizer, as torch.save(model) pickles
            hint = (f" (Ember never pickles: save {_path_str(path)}.state_dict() and load it with load_state_dict "
                    "into a new object)")
        raise TypeError(
            f"save: cannot save {_path_str(path)} of type {type(obj).__name__}; a checkpoint holds Tensors, "
            "sparse COO, CSR and CSC tensors, NumPy arrays and scalars, Python numbers, strings, bools, None, and "
            f"dicts, lists and tuples of them{hint}"
        )

    def _container(self, obj, path: tuple) -> dict:
        """The node of a dict, list or tuple."""
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if not (key is None or isinstance(key, (bool, int, float, str))):
                    raise TypeError(f"save: {_path_str(path)} has a key of type {type(key).__name__} ({key!r}); "
                                    "keys must be str, int, float, bool or None")
                items.append([self.encode(key, path), self.encode(value, path + (key,))])
            return {"dict": items}
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {kind: [self.encode(value, path + (i,)) for i, value in enumerate(obj)]}


def _view_key(array) -> tuple:
    """What makes two arrays the same view of the same memory."""
    address = array.__array_interface__["data"][0] if array.__class__ is np.ndarray else array.data.ptr
    return address, array.shape, array.strides, array.dtype.str


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


def _checksum(array: np.ndarray) -> str:
    """CRC-32 of an array's dtype, shape and bytes: a flipped bit, or a reinterpreted tensor, changes it."""
    head = f"{array.dtype.name}:{list(array.shape)}".encode()
    return f"{zlib.crc32(np.ascontiguousarray(array).reshape(-1).view(np.uint8), zlib.crc32(head)):08x}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or no way to tell: keep its file
    return True


def _host() -> str:
    """This machine's name as it appears in temporary file names (no dots)."""
    return socket.gethostname().replace(".", "-") or "host"


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Delete the temporary files of saves to ``name`` whose process is gone (killed mid-save). Only this
    host's: on a shared filesystem another host's process ids mean nothing here."""
    pattern = re.compile(rf"\.{re.escape(name)}\.{re.escape(_host())}\.(\d+)\.[0-9a-f]+\.tmp")
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            try:
                os.remove(os.path.join(directory, entry))
            except OSError:
                pass


def _create_temporary(directory: str, name: str) -> str:
    """A new empty file beside the target, named after this process; its mode follows the umask."""
    while True:
        tmp = os.path.join(directory, f".{name}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue


def check_writable(path: str | os.PathLike) -> str:
    """Raise the error a save to ``path`` would meet (no such directory, or ``path`` is one), so a caller can
    refuse before its work rather than after; returns the directory."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    # checked here: the errors of creating the temporary would name it rather than ``path``
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path}: the directory {directory} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    return directory


@contextlib.contextmanager
def _atomic(path: str | os.PathLike):
    """Yield a temporary file beside ``path`` to fill; on success it is flushed to disk and renamed over
    ``path`` (keeping the umask's mode), on failure removed. Leftovers of killed writers go first. A symbolic link
    is written through, as ``open`` would: its target is replaced and the link kept."""
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    directory = check_writable(path)
    _remove_stale_temporaries(directory, os.path.basename(path))
    tmp = _create_temporary(directory, os.path.basename(path))
    try:
        mode = os.stat(tmp).st_mode & 0o777  # 0o666 less the umask, as open() creates files
        yield tmp
        os.chmod(tmp, mode)  # a writer (safetensors) may have replaced the file with one of mode 0o600
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically, as ``save`` writes checkpoints."""
    with _atomic(path) as tmp, open(tmp, "w") as f:
        f.write(text)


def save(obj, f, pickle_module=None, pickle_protocol: int | None = None, **torch_options) -> None:
    """Save ``obj`` (Tensors, sparse COO, CSR and CSC tensors, NumPy arrays, numbers, strings, bools, None, nested
    in dicts, lists and tuples) to ``f`` (a path, written atomically, or a writable binary file object such as
    ``io.BytesIO``), with a checksum of every tensor. Dict subclasses are saved as dicts, tuple subclasses as
    tuples; Parameters load as Parameters, and a Tensor object met twice loads as one object, as with
    ``torch.load``. The file's mode follows the umask, as ``open`` would create it; temporary files left by a save
    that was killed are deleted by the next save to the same path. PyTorch's ``pickle_module``, ``pickle_protocol`` and
    ``_use_new_zipfile_serialization`` are accepted: Ember writes safetensors, never pickles.

    >>> ember.save({"model": net.state_dict(), "epoch": 3, "rng": ember.get_rng_state()}, "ckpt.safetensors")
    """
    unknown = set(torch_options) - {"_use_new_zipfile_serialization", "_disable_byteorder_record"}
    if unknown:
        raise TypeError(f"save() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    writer = _Writer()
    encoded = writer.encode(obj)
    writer.mark_repeated_objects()
    structure = json.dumps(encoded, allow_nan=False)
    checksums = json.dumps({name: _checksum(a) for name, a in writer.arrays.items()})
    metadata = {"format": FORMAT, "version": VERSION, "structure": structure, "checksums": checksums,
                "header_checksum": _text_checksum(structure + checksums)}
    specs = {
        name: TensorSpec(dtype=a.dtype.name, shape=list(a.shape), data_ptr=a.ctypes.data, data_len=a.nbytes)
        for name, a in writer.arrays.items()
    }
    if hasattr(f, "write"):  # a file object: the caller's, written in one piece
        f.write(serialize(specs, metadata=metadata))
        return
    with _atomic(f) as tmp:
        serialize_file(specs, tmp, metadata=metadata)


def _text_checksum(text: str) -> str:
    return f"{zlib.crc32(text.encode()):08x}"


# --- loading: every problem is a ValueError naming the file ------------------------------------------------
_FOREIGN = (
    (b"PK\x03\x04", "a zip archive (a PyTorch file from torch.save?), not an Ember checkpoint; load it with "
                     "torch.load and save the tensors with ember.save"),
    (b"\x93NUMPY", "a NumPy .npy file, not an Ember checkpoint; read it with numpy.load"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras .h5?), not an Ember checkpoint"),
)


class _Bad(Exception):
    """What is wrong with a checkpoint file; ``load`` turns it into a ValueError naming the file."""


def _sniff_foreign(data) -> None:
    if len(data) == 0:
        raise _Bad("is empty (a save that never finished?)")
    for magic, what in _FOREIGN:
        if bytes(data[: len(magic)]) == magic:
            raise _Bad("is " + what)
    # (a header of 0x280..0x5ff bytes begins so too: its JSON then starts at byte 8)
    if data[0] == 0x80 and len(data) > 1 and 2 <= data[1] <= 5 and bytes(data[8:9]) != b"{":
        raise _Bad("is a Python pickle (a legacy torch.save file?), not an Ember checkpoint; Ember never "
                   "unpickles, since unpickling runs code from the file")


def _parse_header(data) -> tuple[dict, dict, int]:
    """(metadata, tensor entries, start of the byte buffer) of a safetensors file, checked."""
    if len(data) < 8:
        raise _Bad(f"is not a checkpoint ({len(data)} bytes, too short for a header)")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        if bytes(data[8:9]) == b"{":
            raise _Bad(f"is truncated (its header alone should be {size} bytes, the file has {len(data) - 8} more)")
        raise _Bad("is not a safetensors checkpoint (no header)")
    try:
        header = json.loads(bytes(data[8 : 8 + size]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Bad(f"is not a safetensors checkpoint, or its header is damaged (not JSON: {exc})") from exc
    if not isinstance(header, dict):
        raise _Bad("is not a safetensors checkpoint (its header is not a JSON object)")
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise _Bad("is a safetensors file but not an Ember checkpoint (no structure metadata)")
    if metadata.get("version") not in _READABLE_VERSIONS:
        raise _Bad(f"has checkpoint version {metadata.get('version')!r}, this Ember reads {_READABLE_VERSIONS}")
    if not all(isinstance(v, str) for v in metadata.values()):
        raise _Bad("has a damaged header (metadata values must be strings)")
    return metadata, header, 8 + size


def _tensor_views(entries: dict, data, start: int) -> dict[str, np.ndarray]:
    """The arrays the header describes, checked to tile the byte buffer exactly (as safetensors requires)."""
    buffer_size = len(data) - start
    spans = []
    for name, entry in entries.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise _Bad(f"has a damaged header: the entry of tensor {name!r} is {entry!r}")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _DTYPES:
            raise _Bad(f"holds {name!r} of unsupported dtype {dtype!r}")
        if not (isinstance(shape, list) and all(_is_count(d) for d in shape)):
            raise _Bad(f"has a damaged header: tensor {name!r} has shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)
                and offsets[0] <= offsets[1]):
            raise _Bad(f"has a damaged header: tensor {name!r} has data offsets {offsets!r}")
        nbytes = math.prod(shape) * np.dtype(_DTYPES[dtype]).itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise _Bad(f"has a damaged header: tensor {name!r} of shape {shape} and dtype {dtype} needs {nbytes} "
                       f"bytes, its offsets span {offsets[1] - offsets[0]}")
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    end = 0
    for begin, stop, name in spans:
        if begin != end:
            raise _Bad(f"has a damaged header: tensor {name!r} starts at byte {begin}, expected {end} (tensors "
                       "overlap or leave a gap)")
        end = stop
    if end > buffer_size:
        raise _Bad(f"is truncated (its tensors need {end} bytes of data, the file holds {buffer_size})")
    if end < buffer_size:
        raise _Bad(f"has {buffer_size - end} bytes after its last tensor (damaged or appended to)")
    arrays = {}
    for name, entry in entries.items():
        begin, stop = entry["data_offsets"]
        dtype = np.dtype(_DTYPES[entry["dtype"]])
        if begin == stop:
            arrays[name] = np.empty(entry["shape"], dtype)
        else:
            array = np.frombuffer(data, dtype=dtype, count=(stop - begin) // dtype.itemsize, offset=start + begin)
            arrays[name] = (array if array.flags.aligned else array.copy()).reshape(entry["shape"])
    return arrays


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _verify(metadata: dict, arrays: dict) -> dict:
    """Check the header and tensor checksums (version 2); returns the decoded structure."""
    structure = metadata.get("structure")
    if structure is None:
        raise _Bad("has a damaged header (no structure)")
    if metadata["version"] != "1":
        checksums_text = metadata.get("checksums")
        if checksums_text is None or metadata.get("header_checksum") != _text_checksum(structure + checksums_text):
            raise _Bad("has a damaged header (its checksum does not match: tampered with or corrupted)")
        checksums = json.loads(checksums_text)
        if not isinstance(checksums, dict) or set(checksums) != set(arrays):
            raise _Bad(f"has tensors {sorted(set(arrays) ^ set(checksums))} that its checksum list does not match")
        for name, array in arrays.items():
            if _checksum(array) != checksums[name]:
                raise _Bad(f"is corrupted: tensor {name!r} does not match its checksum (a flipped bit or a "
                           "damaged disk?)")
    try:
        return json.loads(structure)
    except ValueError as exc:
        raise _Bad(f"has a damaged header (the structure is not JSON: {exc})") from exc


def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = None, mmap: bool | None = None,
         device=None, **pickle_load_args):
    """Load what ``save`` wrote, from a path or a readable binary file object: Tensors come back as Ember Tensors
    (on ``device``, default cpu), sparse tensors as sparse tensors of the same layout, arrays as NumPy arrays, and
    the containers and values as they were. Every tensor's checksum is verified first. A file that is not an intact
    Ember checkpoint (truncated, corrupted, tampered with, a PyTorch or other foreign file) is a ValueError naming
    the file and what is wrong; nothing in it is executed.

    PyTorch's ``map_location`` names the device as ``device`` does (a string or Device, a dict of saved location
    to device, or a function ``(tensor, "cpu") -> tensor`` applied to each loaded tensor); ``weights_only``,
    ``mmap``, ``pickle_module`` and the pickle arguments are accepted: an Ember checkpoint holds no code, so every
    load is what ``weights_only=True`` asks for.

    >>> checkpoint = ember.load("ckpt.safetensors", map_location="cpu")
    >>> ember.set_rng_state(checkpoint["rng"])
    """
    remap = None
    if map_location is not None:
        if device is not None:
            raise TypeError("load: give map_location or device, not both")
        if callable(map_location) and not isinstance(map_location, (str, Device)):
            remap = map_location
        else:
            device = _mapped_device(map_location)
    if hasattr(f, "read"):
        name = getattr(f, "name", "the file object")
        data = bytearray(f.read())  # writable: the loaded arrays own their memory
    else:
        name = os.fspath(f)
        with open(name, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            data = bytearray(size)
            file.readinto(data)
    device = None if device is None else Device(device)
    try:
        _sniff_foreign(data)
        metadata, entries, start = _parse_header(data)
        arrays = _tensor_views(entries, data, start)
        structure = _verify(metadata, arrays)
        return _Decoder(arrays, device, remap).decode(structure)
    except _Bad as exc:
        raise ValueError(f"load: {name} {exc}") from None
    except RecursionError:
        raise ValueError(f"load: {name} has a structure nested too deeply (tampered with?)") from None


def _mapped_device(map_location):
    """The device a non-callable ``map_location`` names: the value for "cpu" (where Ember's checkpoints keep their
    tensors) in a dict, else the one device all its values name."""
    if not isinstance(map_location, dict):
        return map_location
    if "cpu" in map_location:
        return map_location["cpu"]
    targets = {str(Device(v)) for v in map_location.values()}
    if len(targets) != 1:
        raise ValueError(f"load: map_location {map_location!r} maps saved locations to several devices; Ember's "
                         "checkpoints hold CPU tensors, so name one device (a string or {'cpu': device})")
    return targets.pop()


_NODE_KEYS = {"int": set(), "float": set(), "list": set(), "tuple": set(), "dict": set(), "array": {"complex"},
              "scalar": {"complex"}, "tensor": {"requires_grad", "complex", "parameter", "object"},
              "sparse_coo": {"shape", "coalesced"}, "sparse_csr": {"shape"}, "sparse_csc": {"shape"}}


class _Decoder:
    """Rebuilds the saved object from its JSON structure, checking every node."""

    def __init__(self, arrays: dict, device, remap=None):
        self.arrays, self.device, self.unused = arrays, device, set(arrays)
        self.remap = remap  # map_location as a function: (tensor, "cpu") -> the tensor to return
        self.made: dict = {}  # name -> its array as loaded: tensors saved from one memory share one again
        self.objects: dict = {}  # a node's "object" number -> the Tensor loaded for it: one object saved twice

    def decode(self, node):
        obj = self._node(node)
        if self.unused:
            raise _Bad(f"holds tensors its structure never uses: {sorted(self.unused)[:5]} (tampered with?)")
        return obj

    def _array(self, name, node=None) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise _Bad(f"refers to a tensor {name!r} it does not hold (tampered with?)")
        self.unused.discard(name)
        array = self.arrays[name]
        if node is not None and node.get("complex") is True:  # (real, imaginary) pairs
            if array.dtype not in (np.float32, np.float64) or array.ndim == 0 or array.shape[-1] != 2:
                raise _Bad(f"has a complex node {_short(node)} whose tensor is {array.dtype}{list(array.shape)}")
            array = np.ascontiguousarray(array).view(np.complex64 if array.dtype == np.float32 else np.complex128)
            array = array.reshape(array.shape[:-1])
        return array

    def _node(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict) or not node:
            raise _Bad(f"has an unknown node {_short(node)} in its structure")
        kind, *extra = node
        value = node[kind]
        if kind not in _NODE_KEYS or not set(extra) <= _NODE_KEYS[kind]:
            raise _Bad(f"has an unknown node {_short(node)} in its structure (unknown keys)")
        if kind in ("list", "tuple", "dict") and not isinstance(value, list):
            raise _Bad(f"has a damaged {kind} node {_short(node)} in its structure")
        if kind == "list":
            return [self._node(v) for v in value]
        if kind == "tuple":
            return tuple(self._node(v) for v in value)
        if kind == "dict":
            if not all(isinstance(item, list) and len(item) == 2 for item in value):
                raise _Bad(f"has a damaged dict node {_short(node)} in its structure")
            items = [(self._node(k), self._node(v)) for k, v in value]
            if not all(k is None or isinstance(k, (bool, int, float, str)) for k, _ in items):
                raise _Bad(f"has a dict key that is not a plain value in {_short(node)}")
            return dict(items)
        if kind == "int":
            if not isinstance(value, str) or not re.fullmatch(r"-?\d{1,4000}", value):
                raise _Bad(f"has a damaged int node {_short(node)}")
            return int(value)
        if kind == "float":
            if value not in ("nan", "inf", "-inf"):
                raise _Bad(f"has a damaged float node {_short(node)}")
            return float(value)
        if kind in ("sparse_coo", "sparse_csr", "sparse_csc"):
            return self._sparse(kind, node)
        if kind == "array":
            return self._array(value, node)
        if kind == "scalar":
            array = self._array(value, node)
            if array.ndim != 0:
                raise _Bad(f"has a scalar node {_short(node)} whose tensor has shape {list(array.shape)}")
            return array[()]
        number = node.get("object")
        if number is not None and not _is_count(number):
            raise _Bad(f"has a damaged tensor node {_short(node)} in its structure")
        if number in self.objects:
            return self.objects[number]
        array = self.made.get(value) if isinstance(value, str) else None
        if array is None:
            array = self.made[value] = self._array(value, node)
        device = self.device
        tensor = Tensor._make(array, None) if device is None or device.type == "cpu" else Tensor(array, device=device)
        if self.remap is not None:
            mapped = self.remap(tensor, "cpu")
            if not isinstance(mapped, Tensor):
                raise TypeError(f"load: map_location returned {type(mapped).__name__} for a tensor, expected a Tensor")
            tensor = mapped
        requires_grad = node.get("requires_grad") is True
        if node.get("parameter") is True:
            from ember.nn.parameter import Parameter

            tensor = Parameter(tensor, requires_grad=requires_grad)
        elif requires_grad:
            tensor = tensor.requires_grad_(True)
        if number is not None:
            self.objects[number] = tensor
        return tensor


    def _sparse(self, kind: str, node: dict):
        """A sparse COO tensor or CSR matrix from its parts' tensor nodes, checked as its constructor checks them."""
        parts, shape = node[kind], node.get("shape")
        count = 2 if kind == "sparse_coo" else 3
        if not (isinstance(parts, list) and len(parts) == count and all(isinstance(p, dict) and "tensor" in p
                                                                         for p in parts)):
            raise _Bad(f"has a damaged {kind} node {_short(node)} (expected {count} tensor nodes)")
        if not (isinstance(shape, list) and all(_is_count(d) for d in shape)):
            raise _Bad(f"has a damaged {kind} node {_short(node)} (its shape)")
        tensors = [self._node(p) for p in parts]
        try:
            if kind == "sparse_csr":
                return sparse_csr_tensor(*tensors, shape)
            if kind == "sparse_csc":  # checked as the CSR matrix of its transpose
                return sparse_csr_tensor(*tensors, shape[::-1]).t()
            coalesced = node.get("coalesced")
            if not isinstance(coalesced, bool):
                raise _Bad(f"has a damaged sparse_coo node {_short(node)} (its coalesced flag)")
            out = sparse_coo_tensor(tensors[0], tensors[1], shape, is_coalesced=coalesced)
        except (TypeError, ValueError) as exc:
            raise _Bad(f"has a {kind} node {_short(node)} whose parts do not fit: {exc}") from None
        if coalesced and out._nnz() > 1:
            linear = out._linear().numpy()
            if not (linear[1:] > linear[:-1]).all():
                raise _Bad(f"has a sparse_coo node {_short(node)} marked coalesced whose coordinates repeat or are "
                           "out of order (tampered with?)")
        return out


def _short(node) -> str:
    text = json.dumps(node)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["load", "save"]
