"""Variable arenas: a model's variables laid side by side in one array per dtype.

The code generator turns a run of optimizer updates over variables that are neighbours in memory into a few
whole-array calls (``codegen._flat_updates``), and a dense layer whose bias follows its weight into one
matrix product (``bias_fold``). Both need the variables to live in one array, which is what ``lay_out``
gives; every front end (the TF-1 ``Session``, ``ember.jit``) places its variables with it.

>>> views = lay_out([np.ones((2, 3), np.float32), np.zeros(3, np.float32)])
>>> views[1].base is views[0].base   # one array holds both, the bias right after the weight
True
"""

from __future__ import annotations

import weakref

import numpy as np

ALIGN_BYTES = 64  # each variable starts on a cache line; the gaps between neighbours stay zero
_ARENAS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id -> a 1-d array lay_out made, while alive


def aligned_empty(size: int, dtype, zeroed: bool = False) -> np.ndarray:
    """A new 1-d array of ``size`` elements that starts on a cache line (``ALIGN_BYTES``): NumPy's own large
    allocations start 16 bytes past one, which makes BLAS products that write or read them slower (measured on
    a (64, 784) @ (784, 256) product: 7% for the output, 4% for the weight). ``zeroed``: filled with zeros."""
    dtype = np.dtype(dtype)
    # bytes, whose buffer any dtype reads (a bfloat16 array offers none: ml_dtypes' 'E' has no buffer format)
    memory = (np.zeros if zeroed else np.empty)(size * dtype.itemsize + ALIGN_BYTES, np.uint8)
    # over the buffer protocol, not a slice of ``memory``: the result is then the ``base`` of the views taken
    # of it (a slice's views would name ``memory`` as theirs), as an arena's variables and the code's buffers
    # must
    return np.frombuffer(memory.data, dtype, size, -memory.ctypes.data % ALIGN_BYTES)


def lay_out(arrays: list, column_major=(), packed=()) -> list:
    """Copies of ``arrays`` as views of one new 1-d array per dtype, in the order given (each start aligned
    to ``ALIGN_BYTES``); returns the views, in the order of ``arrays``. The arrays at the indices in
    ``column_major`` are stored column by column (their views are Fortran-ordered); those at the indices in
    ``packed`` start right where the one before them ends (a bias right after its weight, for ``bias_fold``)."""
    placed: list = [None] * len(arrays)
    for dtype in dict.fromkeys(a.dtype for a in arrays):
        group = [i for i, a in enumerate(arrays) if a.dtype == dtype]
        align = max(1, ALIGN_BYTES // dtype.itemsize)
        offsets, end = [], 0
        for i in group:
            if i in packed and offsets:
                end = offsets[-1] + arrays[group[len(offsets) - 1]].size
            offsets.append(end)
            end = -(-(end + arrays[i].size) // align) * align
        storage = aligned_empty(end, dtype, zeroed=True)
        _ARENAS[id(storage)] = storage
        for i, start in zip(group, offsets):
            flat = storage[start:start + arrays[i].size]
            view = flat.reshape(arrays[i].shape[::-1]).T if i in column_major else laid_out_like(flat, arrays[i])
            view[...] = arrays[i]
            placed[i] = view
    return placed


def laid_out_like(flat, array):
    """The 1-d ``flat`` seen with ``array``'s shape and memory order (column by column for a Fortran-ordered
    ``array``, such as ``nn.Linear``'s weight), so that elementwise work over the flat memory of both pairs the
    same elements and the code compiled for it computes its gradient in that order."""
    if array.ndim > 1 and array.flags.f_contiguous and not array.flags.c_contiguous:
        return flat.reshape(array.shape[::-1]).T
    return flat.reshape(array.shape)


def movable(array) -> bool:
    """Whether ``array`` may be moved into an arena: a NumPy array that owns its memory (not a view of
    another array, which would stop following it) and holds at least one element."""
    return array.__class__ is np.ndarray and array.flags.owndata and array.size > 0


def in_arena(array) -> bool:
    """Whether ``array`` is a view of an arena ``lay_out`` made: its variable may move to a new arena with its
    neighbours (nothing but the arena's own variables sees that memory)."""
    base = getattr(array, "base", None)
    return base is not None and _ARENAS.get(id(base)) is base
