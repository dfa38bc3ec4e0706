"""How arrays travel over MPI: host memory, contiguous, and in a datatype MPI knows.

MPI has no bfloat16 or float16 datatype: those move as their raw 16-bit words, and are reduced in float32
and rounded once. CuPy arrays are staged through host memory (the pip MPICH is not CUDA-aware).
"""

from __future__ import annotations

import zlib

import numpy as np

from ember.backend.devices import array_module

_SHORT_FLOATS = ("bfloat16", "float16")


def to_host(array) -> np.ndarray:
    """A contiguous NumPy copy or view of ``array`` (a NumPy or CuPy array)."""
    if array.__class__ is not np.ndarray:
        array = array.get()
    return np.ascontiguousarray(array)


def like(host: np.ndarray, original):
    """``host`` on the device of ``original``."""
    if original.__class__ is np.ndarray:
        return host
    return array_module(original).asarray(host)


def reducible(host: np.ndarray) -> np.ndarray:
    """The array MPI reduces: 16-bit floats widened to float32, bools as uint8, others unchanged."""
    if host.dtype.name in _SHORT_FLOATS:
        return host.astype(np.float32)
    if host.dtype == np.bool_:
        return host.view(np.uint8)
    return host


def movable(host: np.ndarray) -> np.ndarray:
    """The array MPI moves untouched: 16-bit floats as their raw words."""
    return host.view(np.uint16) if host.dtype.name in _SHORT_FLOATS else host


def dtype_code(dtype) -> int:
    """A number naming ``dtype`` that is the same in every process."""
    return zlib.crc32(np.dtype(dtype).name.encode())


_NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "bfloat16",
          "float32", "float64", "complex64", "complex128")


def dtype_name(code: int) -> str:
    """The dtype ``dtype_code`` gave ``code`` (for error messages)."""
    return next((name for name in _NAMES if zlib.crc32(name.encode()) == code), f"<dtype code {code}>")
