"""Arrays a compiled function computes into and hands out: a flat gradient array whose views it returns.

``ember.jit`` sets each parameter's ``.grad`` from the gradients the step returns, and a gradient a caller
keeps from one step must keep its values after the next. Copying each gradient out of the flat gradient
array on every call costs one call per parameter; instead the function computes into one of several copies of
that array (and of the views the code reads of it), taking one that nothing outside holds any more: the one
handed out last when its holders let it go first (``ember.jit``'s steady state drops the ``.grad`` it replaces
before the step runs: the same memory, still in cache), else one handed out earlier (two alternate while each
step's ``.grad`` replaces the one before), and a new one when a caller keeps gradients.

>>> rotation = Rotation(flat, [flat[:6].reshape(2, 3), flat[6:9]])
>>> flat_now, weight_grad, bias_grad = rotation()   # arrays no caller holds
"""

from __future__ import annotations

import sys

import numpy as np

from ember.runtime.arena import aligned_empty

_getrefcount = sys.getrefcount
_KEPT = 4  # sets a Rotation keeps at most: gradients kept for many steps are not kept alive by it as well


class Rotation:
    """Sets of (a 1-d array, views of it laid out as ``views`` are on ``base``); calling it returns a set whose
    arrays nothing outside the set references."""

    __slots__ = ("size", "dtype", "layout", "sets")

    def __init__(self, base: np.ndarray, views: list):
        start = base.__array_interface__["data"][0]
        self.size, self.dtype = base.size, base.dtype
        self.layout = [(v.shape, v.__array_interface__["data"][0] - start, v.strides) for v in views]
        self.sets: list = []

    def _make(self) -> list:
        base = aligned_empty(self.size, self.dtype, zeroed=True)  # the gaps between variables stay zero
        arrays = (base,) + tuple(np.ndarray(shape, self.dtype, buffer=base, offset=offset, strides=strides)
                                 for shape, offset, strides in self.layout)
        # references when nothing outside holds them (the set's tuple, the views' base), less the local name
        # ``base``: each array has at least its own, so an equal sum means no array has more
        idle = _references(arrays) - 1
        return [arrays, idle]

    def __call__(self) -> tuple:
        sets = self.sets
        if sets:  # the set handed out last, when its holders let it go (its memory is the one in cache)
            last = sets[-1]
            if sum(map(_getrefcount, last[0])) == last[1]:  # _references, inlined
                return last[0]
        for i, (arrays, idle) in enumerate(sets):
            if _references(arrays) == idle:  # nothing outside holds any of them
                if i != len(sets) - 1:  # the set handed out longest ago is tried first: alternating sets cost one look
                    sets.append(sets.pop(i))
                return arrays
        if len(self.sets) >= _KEPT:  # every set is held outside: the oldest is left to its holders alone
            del self.sets[0]
        self.sets.append(self._make())
        return self.sets[-1][0]


def _references(arrays: tuple) -> int:
    """The arrays' reference counts, summed: a caller holding a returned view references the view, one holding
    an array made from it the base."""
    return sum(map(_getrefcount, arrays))
