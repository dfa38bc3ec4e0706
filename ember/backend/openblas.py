"""The OpenBLAS that NumPy loaded, called directly: its thread-count controls (``blas_threads``) and the
one-pass ``y = alpha * x + beta * y`` that optimizer updates run on (NumPy needs two or three passes and a
temporary for it: a momentum SGD step on a 784 x 256 weight took 70 us in NumPy, 37 us here).

NumPy's wheels bundle OpenBLAS under prefixed symbol names (``scipy_cblas_saxpby64_``); distributions' builds
use the plain ones. A NumPy built on another BLAS (MKL, Accelerate) has none of them: ``axpby_routine`` is then
None, ``axpby`` returns False, and callers keep their NumPy code.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Callable

import numpy as np

_PREFIXES = (("scipy_", "64_"), ("", "64_"), ("", ""))  # NumPy >= 2's wheels, 64-bit-int builds, plain builds


def _load():
    """``(library, prefix, suffix)`` of the OpenBLAS beside NumPy, or None."""
    here = os.path.dirname(np.__file__)
    for path in glob.glob(os.path.join(here + ".libs", "*openblas*")) + glob.glob(
            os.path.join(here, ".dylibs", "*openblas*")):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in _PREFIXES:
            if hasattr(library, f"{prefix}openblas_set_num_threads{suffix}"):
                return library, prefix, suffix
    return None


_found = _load()


def symbol(name: str):
    """The OpenBLAS function ``name`` (``openblas_get_num_threads``, ``cblas_saxpby``) under the loaded build's
    naming, or None."""
    if _found is None:
        return None
    library, prefix, suffix = _found
    return getattr(library, f"{prefix}{name}{suffix}", None)


def _axpby(name: str, scalar) -> Callable | None:
    routine = symbol(name)
    if routine is not None:
        integer = ctypes.c_int64 if _found[2] == "64_" else ctypes.c_int
        pointer = ctypes.c_void_p
        routine.argtypes = [integer, scalar, pointer, integer, scalar, pointer, integer]
        routine.restype = None
    return routine


_AXPBY = {np.dtype(np.float32): _axpby("cblas_saxpby", ctypes.c_float),
          np.dtype(np.float64): _axpby("cblas_daxpby", ctypes.c_double)}


def axpby_routine(dtype) -> Callable | None:
    """OpenBLAS's ``axpby`` for ``dtype`` (float32 or float64): ``routine(n, alpha, x_address, 1, beta, y_address, 1)``
    sets the ``n`` contiguous elements at ``y_address`` to ``alpha * x + beta * y`` in one pass, on the calling
    thread. None for other dtypes or without OpenBLAS."""
    return _AXPBY.get(np.dtype(dtype))


# Below this many elements NumPy's in-place ufuncs cost less than a call's setup (checks, two addresses, ctypes):
# about 1 us, measured even with NumPy's two passes and a temporary at 16,384 float32s.
AXPBY_MIN_SIZE = 16384


def axpby(alpha: float, x: np.ndarray, beta: float, y: np.ndarray) -> bool:
    """``y = alpha * x + beta * y`` in place, in one pass, where OpenBLAS can: NumPy arrays of one shape, float
    dtype and contiguous layout, of at least ``AXPBY_MIN_SIZE`` elements, ``y`` writeable. False, with ``y``
    untouched, where not. ``x`` may be ``y`` but must not overlap it otherwise (optimizer state never does).
    Rounds as ``alpha * x + beta * y`` or with one fused multiply-add, as the CPU's kernel does."""
    if x.__class__ is not np.ndarray or y.__class__ is not np.ndarray or y.size < AXPBY_MIN_SIZE \
            or x.shape != y.shape or x.dtype != y.dtype:
        return False
    routine = _AXPBY.get(y.dtype)
    if routine is None:
        return False
    xf, yf = x.flags, y.flags
    if yf.c_contiguous:
        if not xf.c_contiguous:
            return False
    elif xf.c_contiguous or not (xf.f_contiguous and yf.f_contiguous):
        return False
    else:  # both column-major: their transposes are row-major views of the same memory
        x, y = x.T, y.T
    if not yf.writeable:
        return False
    # an address through a writeable buffer costs a quarter of ``.ctypes.data``
    x_at = _addressof(_char.from_buffer(x)) if xf.writeable else x.ctypes.data
    routine(y.size, alpha, x_at, 1, beta, _addressof(_char.from_buffer(y)), 1)
    return True


_char, _addressof = ctypes.c_char, ctypes.addressof
