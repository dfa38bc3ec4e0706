"""Eager dense updates of large parameters, cut into flat parts that run on the CPU's cores at once.

NumPy's ufuncs run on one core, and an optimizer's update of a large parameter is a few passes over memory: a
ResNet-18's momentum SGD takes about 10 ms a step on one core, a dense Adagrad over 42M embedding values most
of a CTR step. An ``elementwise`` update rule (``ember.ops.effects.update_rule``) gives every element the bits
of one call whatever the cut, so ``Optimizer.step()`` hands each large parameter here: its array, its
gradient and the state's arrays of its layout are cut alike into flat parts, each part runs the rule with its
own copy of the state's scalars, and the parts run on the runtime's threads (``ember.runtime.parallel``).
The state is then what one call leaves: scalars from a part (every part advances them alike), arrays a part
made (a first call's slots) joined into one of the parameter's layout.

A parameter whose memory overlaps another parameter's is updated whole, in its turn (``Overlaps`` finds them):
parts of it would race with that other update, and its order against it matters.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable

import numpy as np

from ember.runtime import parallel

# Elements a part: about 0.2 ms of momentum SGD on one core, several times what waking a helper thread costs.
PART = 1 << 18
CUT_FROM = 2 * PART  # the smallest parameter cut


def cuttable(param, grad, state: dict) -> bool:
    """Whether an update of ``param`` (at least ``CUT_FROM`` elements) by ``grad`` (its shape and dtype) can run
    in flat parts: NumPy arrays, the parameter one contiguous block, the gradient and every array slot laid out
    alike (a slot restored from a checkpoint may have another memory order: that update runs whole)."""
    if param.__class__ is not np.ndarray or grad.__class__ is not np.ndarray or grad.strides != param.strides \
            or not (param.flags.c_contiguous or param.flags.f_contiguous):
        return False
    return all(_alike(value, param) for value in state.values() if getattr(value, "ndim", 0))


class _Cut:
    """One parameter's update as parts: ``pieces`` to run (on any threads), then ``finish()``."""

    __slots__ = ("param", "state", "bounds", "parts", "given", "pieces")

    def __init__(self, rule: Callable, param: np.ndarray, grad: np.ndarray, state: dict, hyper: dict):
        size = param.size
        count = size // PART
        self.bounds = [size * k // count for k in range(count + 1)]
        self.param, self.state = param, state
        flat = {key: value.ravel("K") for key, value in state.items() if _alike(value, param)}
        p, g = param.ravel("K"), grad.ravel("K")
        self.parts, self.pieces = [], []
        for start, stop in zip(self.bounds, self.bounds[1:]):
            part = {key: flat[key][start:stop] if key in flat else value for key, value in state.items()}
            self.parts.append(part)
            self.pieces.append(functools.partial(rule, p[start:stop], g[start:stop], part, **hyper))
        self.given = dict(self.parts[0])  # what the first part starts from (the rule changes its dict)

    def finish(self) -> None:
        """Write the state one call would have left: in-place slots are done; a part's new or replaced arrays are
        joined, its scalars taken (every part must agree on them)."""
        first = self.parts[0]
        for key in [key for key in self.state if key not in first]:
            del self.state[key]
        for key, value in first.items():
            if value is self.given.get(key) and _alike(self.state.get(key), self.param):
                continue  # a slot the rule updated in place, through every part's slice
            if value.__class__ is np.ndarray and value.ndim == 1 and value.shape[0] == self.bounds[1]:
                self.state[key] = self._joined(key)
                continue
            if any(not _same(part.get(key), value) for part in self.parts[1:]):
                raise RuntimeError(f"an elementwise update rule left state {key!r} different in different parts "
                                   "of one parameter; only per-element arrays may differ (update_rule's contract)")
            self.state[key] = value

    def _joined(self, key: str) -> np.ndarray:
        joined = np.empty_like(self.param, dtype=self.parts[0][key].dtype)  # the parameter's memory order
        flat = joined.ravel("K")
        for part, start, stop in zip(self.parts, self.bounds, self.bounds[1:]):
            value = part.get(key)
            if value.__class__ is not np.ndarray or value.shape != (stop - start,):
                raise RuntimeError(f"an elementwise update rule made state {key!r} with another shape in one part "
                                   "than the part's; only per-element arrays may be made (update_rule's contract)")
            flat[start:stop] = value
        return joined


def _alike(value, param: np.ndarray) -> bool:
    """Whether a state value is a per-element array of ``param``: its shape, in its memory order."""
    return value.__class__ is np.ndarray and value.shape == param.shape and value.strides == param.strides


def _same(a, b) -> bool:
    if a.__class__ is np.ndarray or b.__class__ is np.ndarray:
        return a.__class__ is b.__class__ and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
    return a is b or a == b or (a != a and b != b)  # (NaN, NaN) agree


class Overlaps:
    """Which of an optimizer's parameter arrays share memory with another: computed again when the arrays change."""

    __slots__ = ("refs", "shared")

    def __init__(self):
        self.refs: list = []
        self.shared: frozenset = frozenset()

    def __reduce__(self):  # a copied or unpickled optimizer finds them again
        return (Overlaps, ())

    def of(self, arrays: list) -> frozenset:
        """The ids of the arrays among ``arrays`` whose bytes overlap another's."""
        if len(arrays) != len(self.refs) or any(ref() is not a for ref, a in zip(self.refs, arrays)):
            self.refs = [weakref.ref(a) for a in arrays]
            self.shared = _overlapping(arrays)
        return self.shared


def _overlapping(arrays: list) -> frozenset:
    spans = sorted((*np.lib.array_utils.byte_bounds(a), id(a)) for a in arrays
                   if a.__class__ is np.ndarray and a.size)
    shared = set()
    reach, owner = -1, None  # the furthest end seen so far, and whose
    for start, end, key in spans:
        if start < reach:
            shared.update((key, owner))
        if end > reach:
            reach, owner = end, key
    return frozenset(shared)


class Deferred:
    """The large updates of one ``Optimizer.step()``, taken as the step meets them and run in parts at its end."""

    __slots__ = ("owner", "jobs", "shared")

    def __init__(self, owner):
        self.owner = owner  # the optimizer: its parameters' overlaps are found once a large one is met
        self.jobs: list = []
        self.shared: frozenset | None = None

    def take(self, rule, param, grad, state: dict, hyper: dict) -> bool:
        """Keep the update of a parameter of at least ``CUT_FROM`` elements for the parts, where it can run so;
        False when it cannot (the caller runs it now, in its turn)."""
        if not cuttable(param, grad, state):
            return False
        if self.shared is None:
            self.shared = self.owner.overlapping_params()
        if id(param) in self.shared:
            return False
        self.jobs.append((rule, param, grad, state, hyper))
        return True

    def run(self) -> None:
        """Run the kept updates: in parts on the runtime's threads, or whole one after another where the process
        has one thread (none of them overlaps another parameter, so their order does not matter)."""
        threads = parallel.num_threads() if self.jobs else 0
        if threads < 2:
            for rule, param, grad, state, hyper in self.jobs:
                rule(param, grad, state, **hyper)
            return
        cuts = [_Cut(*job) for job in self.jobs]
        parallel.run_pieces([piece for cut in cuts for piece in cut.pieces], threads)
        for cut in cuts:
            cut.finish()
