"""A bounded cache of compiled functions, least recently used out first.

``ember.jit``, ``GraphFunction`` and the TF-1 ``Session`` compile one function per input signature (shapes,
dtypes, fetches). A loop over many batch sizes would otherwise keep every one of them, and the buffers of its
memory plan, alive. Each such cache holds at most ``COMPILE_CACHE_SIZE`` functions (64; the environment
variable ``EMBER_COMPILE_CACHE_SIZE`` overrides it): the least recently called one is dropped, and compiled
again if its signature comes back.

>>> cache = CompileCache(maxsize=2)
>>> cache["a"], cache["b"] = 1, 2
>>> cache.get("a")        # "a" is now the most recently used
1
>>> cache["c"] = 3        # drops "b"
>>> sorted(cache)
['a', 'c']
>>> cache.stats()
{'hits': 1, 'misses': 0, 'compiles': 0, 'size': 2, 'maxsize': 2}

``compiles`` counts what the owner reports with ``count_compile()``: a function compiled for several
signatures (a graph with unknown dimensions) is one compile however many keys lead to it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict


def _default_size() -> int:
    value = os.environ.get("EMBER_COMPILE_CACHE_SIZE", "64")
    try:
        size = int(value)
    except ValueError:
        raise ValueError(f"EMBER_COMPILE_CACHE_SIZE must be a positive int, got {value!r}") from None
    if size < 1:
        raise ValueError(f"EMBER_COMPILE_CACHE_SIZE must be a positive int, got {value!r}")
    return size


COMPILE_CACHE_SIZE = _default_size()


class CompileCache(OrderedDict):
    """A dict of compiled functions bounded to ``maxsize`` entries, least recently used out first; safe to use
    from several threads."""

    def __init__(self, maxsize: int | None = None):
        super().__init__()
        if maxsize is not None and (maxsize.__class__ is not int or maxsize < 1):
            raise ValueError(f"CompileCache: maxsize must be a positive int, got {maxsize!r}")
        self.maxsize = COMPILE_CACHE_SIZE if maxsize is None else maxsize
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.compiles = 0

    def get(self, key, default=None):
        """The value for ``key`` (now the most recently used), or ``default``."""
        # No lock: each OrderedDict call is atomic, and an entry dropped by another thread between the two
        # reads as missing (compiled again), as if it had been dropped just before. This runs on every step;
        # the hit and miss counts are approximate when threads share the cache.
        try:
            self.move_to_end(key)
            value = OrderedDict.__getitem__(self, key)
        except KeyError:
            self.misses += 1
            return default
        self.hits += 1
        return value

    def count_compile(self) -> None:
        """Count one compilation made for this cache (see ``stats``)."""
        with self._lock:
            self.compiles += 1

    def stats(self) -> dict:
        """Lookups that found an entry (``hits``) or not (``misses``), compilations reported by the owner
        (``compiles``), and the number of entries (``size``) out of ``maxsize``."""
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "compiles": self.compiles, "size": len(self),
                    "maxsize": self.maxsize}

    def __setitem__(self, key, value) -> None:
        with self._lock:
            super().__setitem__(key, value)
            self.move_to_end(key)
            while len(self) > self.maxsize:
                self.popitem(last=False)

    def setdefault(self, key, default=None):
        with self._lock:
            if key not in self:
                super().__setitem__(key, default)
                while len(self) > self.maxsize:
                    self.popitem(last=False)
            self.move_to_end(key)
            return super().__getitem__(key)
