"""Recording: while a ``profile`` is active, every eager op call and every node of a compiled graph
(``ember.jit``, a ``compat.tf.Session`` run) is timed, and its FLOPs and bytes are read from the op record's
``cost``.

Eager ops are caught through the builder ``ember.autograd.apply`` already checks for graph building, compiled
functions through ``ember.jit.profile_hook``: with no profile active both are None, so profiling off costs
nothing beyond checks the code makes anyway. A compiled function under the profiler runs its optimized graph
node by node (each node's forward, fused groups included) instead of the generated code.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from typing import NamedTuple

import numpy as np

from ember import autograd
from ember.ops.registry import Spec
from ember.runtime.stepwise import node_name, run_node_by_node

_active: list = []  # the profiles recording now, innermost last
_stacks = False  # whether one of them takes each op's Python call stack (``with_stack``)
_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class _EventFields(NamedTuple):
    name: str
    start: int
    end: int
    flops: int
    bytes: int
    out_bytes: int
    shapes: tuple
    kind: str
    frames: tuple = ()  # the Python call stack under ``with_stack``, innermost first


class Event(_EventFields):
    """One op call: its name, start and end (ns, perf_counter), FLOPs, bytes moved, output bytes, the input
    shapes (when recorded) and where it ran (``eager`` or ``compiled``; ``user`` for a ``record_function`` range).

    When the profile stops, it links its events as PyTorch's ``FunctionEvent``: ``id``, ``cpu_parent`` (the
    innermost range holding the event), ``cpu_children``, the self time and the memory of what ran inside."""

    _id = -1
    _parent = None
    _children: tuple = ()
    _self_ns = None
    _memory = None
    @property
    def stack(self) -> list:
        """The call stack of the op, "file(line): function" for each frame outside Ember, innermost first, as
        PyTorch's (empty without ``with_stack``)."""
        return list(self.frames)

    # PyTorch's FunctionEvent names (times in microseconds, as PyTorch's)
    @property
    def key(self) -> str:
        return self.name

    @property
    def cpu_time_total(self) -> float:
        """The whole call or range, in microseconds."""
        return (self.end - self.start) / 1000

    @property
    def self_cpu_time_total(self) -> float:
        """The call or range less the events directly inside it, in microseconds."""
        return (self.end - self.start if self._self_ns is None else self._self_ns) / 1000

    @property
    def cpu_time(self) -> float:
        """The time of a call (``cpu_time_total / count``), in microseconds."""
        return self.cpu_time_total

    @property
    def count(self) -> int:
        return 1

    @property
    def cpu_memory_usage(self) -> int:
        """The bytes of the op's output; for a range, of every op output inside it (PyTorch counts a range's
        children)."""
        return self.out_bytes if self._memory is None else self._memory

    @property
    def self_cpu_memory_usage(self) -> int:
        """The bytes the op itself made (0 for a range)."""
        return self.out_bytes

    @property
    def id(self) -> int:
        """The event's place in the profile's events, in order of start (-1 while the profile records)."""
        return self._id

    @property
    def cpu_parent(self) -> Event | None:
        """The innermost ``record_function`` range (or ``ProfilerStep``) holding the event; None at the top."""
        return self._parent

    @property
    def cpu_children(self) -> list:
        """The events directly inside this range, in order of start."""
        return list(self._children)

    @property
    def is_async(self) -> bool:
        return False  # every event is timed on the thread that ran it

    @property
    def input_shapes(self) -> list:
        """The input shapes as lists (empty without ``record_shapes``)."""
        return [list(s) for s in self.shapes]


def _spec(array) -> Spec:
    return Spec(tuple(np.shape(array)), getattr(array, "dtype", np.dtype(type(array))))


def op_cost(op, inputs: list, attrs: dict, out) -> tuple:
    """(flops, bytes) of one call from the op record's ``cost`` (0, 0 where it cannot tell)."""
    try:
        cost = op.cost(_spec(out), *[_spec(a) for a in inputs], **(attrs or {}))
        return int(cost.flops or 0), int(cost.bytes or 0)
    except (TypeError, ValueError, AttributeError, IndexError, KeyError):
        return 0, 0


def _out_bytes(out) -> int:
    return int(getattr(out, "nbytes", 0) or 0)


def _user_stack() -> tuple:
    """The frames of the running Python code outside Ember, innermost first."""
    frames = []
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if not code.co_filename.startswith(_EMBER_DIR):
            frames.append(f"{code.co_filename}({frame.f_lineno}): {code.co_name}")
        frame = frame.f_back
    return tuple(frames)


def _record(op_name: str, op, arrays: list, attrs, out, start: int, end: int, kind: str) -> None:
    flops, moved = op_cost(op, arrays, attrs, out)
    stack = _user_stack() if _stacks else ()
    for prof in _active:
        shapes = tuple(tuple(np.shape(a)) for a in arrays) if prof.record_shapes else ()
        prof.events.append(Event(op_name, start, end, flops if prof.with_flops else 0, moved, _out_bytes(out), shapes,
                                 kind, stack if prof.with_stack else ()))


def recording() -> bool:
    """Whether a profile records now."""
    return bool(_active)


def record_range(name: str, start: int, end: int) -> None:
    """A labelled range (``record_function``) from ``start`` to ``end`` (ns) in every profile recording now."""
    for prof in _active:
        prof.events.append(Event(name, start, end, 0, 0, 0, (), "user"))


class _EagerRecorder:
    """Installed as ``apply``'s builder while profiling: each op runs eagerly, timed and costed."""

    runs_eagerly = True  # (autograd.building_graph: no graph is built)

    @staticmethod
    def build(op, inputs: tuple, attrs):
        start = time.perf_counter_ns()
        out = autograd.run_eager(op, inputs, attrs)
        end = time.perf_counter_ns()
        _record(op.name, op, [t.array for t in inputs], attrs, None if out is None else out.array, start, end,
                "eager")  # an effect (assign, update, drop_grad...) returns None
        return out


_RECORDER = _EagerRecorder()


def _timed_forward(op, *arrays, **attrs):
    """An eager backward's op on NumPy arrays (``autograd.set_array_runner``), timed and costed."""
    start = time.perf_counter_ns()
    out = op.forward(np, *arrays, **attrs)
    end = time.perf_counter_ns()
    _record(op.name, op, list(arrays), attrs, out, start, end, "eager")
    return out


def _profiled_graph(graph, bound, layout, arrays) -> tuple:
    """A compiled graph's work, node by node through the ops' forwards, each timed and costed (see
    ``run_node_by_node``)."""
    return run_node_by_node(graph, bound, layout, arrays, _record_node)


def _record_node(node, inputs, attrs, out, start: int, end: int) -> None:
    _record(node_name(node), node.op, inputs, attrs, out, start, end, "compiled")


def start(prof) -> None:
    """Make ``prof`` record (called by ``profile.__enter__``)."""
    global _stacks
    _active.append(prof)
    _stacks = any(p.with_stack for p in _active)
    if len(_active) == 1:
        if autograd._mode.builder is None:
            autograd.set_graph_builder(_RECORDER)
        autograd.set_array_runner(_timed_forward)
        sys.modules["ember.jit"].profile_hook = _profiled_graph
    if prof.profile_memory and not tracemalloc.is_tracing():
        tracemalloc.start()
        prof._owns_tracing = True
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        for outer in _active:  # the reset below must not lose the peaks the enclosing profiles have seen
            outer._peak_seen = max(outer._peak_seen, peak)
        tracemalloc.reset_peak()
        prof._memory_base = current
        prof._peak_seen = 0


def stop(prof) -> None:
    """Stop ``prof`` recording (called by ``profile.__exit__``)."""
    global _stacks
    if tracemalloc.is_tracing() and prof.profile_memory:
        peak = max(tracemalloc.get_traced_memory()[1], prof._peak_seen)
        prof.peak_memory = max(peak - prof._memory_base, 0)
        if prof._owns_tracing:
            tracemalloc.stop()
    _active.remove(prof)
    _stacks = any(p.with_stack for p in _active)
    if not _active:
        if autograd._mode.builder is _RECORDER:
            autograd.set_graph_builder(None)
        autograd.set_array_runner(None)
        sys.modules["ember.jit"].profile_hook = None
