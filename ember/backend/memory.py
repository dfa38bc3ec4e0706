"""Process memory settings for training loops.

A training step allocates and frees the same large arrays every time. glibc's malloc serves blocks over
its mmap threshold with fresh mappings and gives freed memory back to the OS at once, so every step pays
thousands of page faults (measured: 5-6 ms of a 13-17 ms LeNet-5 step). Raising the mmap and trim
thresholds keeps that memory in the process for reuse. The mmap threshold stops at 32 MiB, so arrays larger
than that (a 512-wide transformer layer's activations at batch 32) are taken from the heap instead of
mappings: without it, such a step spent a quarter of its time in the kernel, faulting them back in.

Importing Ember changes nothing: call ``ember.tune_malloc()`` once before a training loop (``Model.fit``,
``ember train`` and the benchmarks do). Set ``EMBER_MALLOC_TUNING=0`` to make the call leave malloc alone.
The cost is memory kept: up to ``trim_threshold`` of freed heap stays in the process, as a caching allocator
keeps it.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4


_tuned = False


def tune_malloc(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30, heap_only: bool = True) -> bool:
    """Raise glibc's mmap and trim thresholds for the whole process (``heap_only``: and serve blocks of any size
    from the heap, never from a mapping of their own); returns whether they are applied (False off glibc, or with
    ``EMBER_MALLOC_TUNING=0``). Calls after the first successful one change nothing.

    >>> ember.tune_malloc()   # before a hand-written training loop
    True
    """
    global _tuned
    if _tuned:
        return True
    if os.environ.get("EMBER_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, for example): nothing to tune
        return False
    # the trim threshold first: a heap that serves large blocks must not hand them back between steps
    _tuned = bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold)) and bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) \
        and (not heap_only or bool(mallopt(_M_MMAP_MAX, 0)))
    return _tuned
