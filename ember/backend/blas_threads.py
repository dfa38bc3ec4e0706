"""The BLAS library's thread count, lowered to one while the runtime's own threads share out the work, and
while oneDNN's threads run the convolutions (``ember.backend.onednn``).

NumPy's wheels bundle OpenBLAS, which runs a large product on its own threads. Where a compiled step splits a
product into parts on the runtime's threads (``ember.runtime.parallel``), or runs a product beside other work,
each BLAS call must keep to the thread it is called on: two OpenBLAS calls of two threads each on two cores
wait on each other's spinning threads, many times slower than either alone. ``single_threaded()`` sets
OpenBLAS to one thread for the duration of a region and restores the count after the last region ends; regions
of several threads nest (a count of those open).

Only OpenBLAS is controlled (found beside NumPy, under the symbol names its wheels and distributions use);
``available()`` says whether it was found, and callers split their work only then.
"""

from __future__ import annotations

import ctypes
import threading

from ember.backend import openblas


def _controls():
    """``(set, get)`` of the thread count of the OpenBLAS that NumPy loaded, or None."""
    setter, getter = openblas.symbol("openblas_set_num_threads"), openblas.symbol("openblas_get_num_threads")
    if setter is None or getter is None:
        return None
    setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
    return setter, getter


_library = _controls()
_lock = threading.Lock()
_open = 0  # regions open now
_saved = 1  # the thread count before the first of them


def available() -> bool:
    """Whether the BLAS library's thread count can be set (NumPy's OpenBLAS was found)."""
    return _library is not None


def threads() -> int:
    """The BLAS library's thread count now (1 when it cannot be read)."""
    return _library[1]() if _library is not None else 1


def outside_regions() -> int:
    """The BLAS thread count outside ``single_threaded`` regions (what the last open one restores)."""
    with _lock:
        return _saved if _open else threads()


def set_outside_regions(count: int) -> None:
    """Set the BLAS thread count outside ``single_threaded`` regions: now, or when the last open one ends."""
    global _saved
    if _library is None:
        return
    with _lock:
        if _open:
            _saved = count
        else:
            _library[0](count)


def regions_open() -> bool:
    """Whether a ``single_threaded`` region is open (on any thread)."""
    return _open > 0


class _SingleThreaded:
    """Context manager: OpenBLAS on one thread inside, its count before restored when the last region ends."""

    __slots__ = ()

    def __enter__(self):
        global _open, _saved
        if _library is not None:
            with _lock:
                if _open == 0:
                    _saved = _library[1]()
                    if _saved != 1:
                        _library[0](1)
                _open += 1
        return self

    def __exit__(self, *exc):
        global _open
        if _library is not None:
            with _lock:
                _open -= 1
                if _open == 0 and _saved != 1:
                    _library[0](_saved)
        return False


_REGION = _SingleThreaded()


def single_threaded() -> _SingleThreaded:
    """A region (``with single_threaded(): ...``) in which every BLAS call runs on the thread that makes it."""
    return _REGION
