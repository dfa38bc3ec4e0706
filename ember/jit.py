"""``ember.jit``: trace an eager function into the IR once per input signature, then run generated code.

Tracing calls the function on symbolic Values, so it records exactly what the op functions do. What the
trace cannot follow is frozen and reported in ``frozen``: non-Tensor arguments (part of the signature, so a
new value retraces), Tensors captured from outside (constants, except parameters that require grad, which
are read afresh on every call). Python branches on traced values and ``.item()`` raise a clear TypeError.
The result is not recorded on the autograd tape (forward and inference only).

>>> fast = ember.jit(lambda x, y: ember.relu(x @ y).sum(axis=1))
>>> fast(a, b)      # traces and compiles for a's and b's shapes and dtypes
>>> fast(a2, b2)    # same shapes: runs the cached function
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ember.graph.ir import Graph, Value
from ember.passes import run_passes
from ember.runtime import compile_graph
from ember.tensor import Tensor

__all__ = ["JitFunction", "jit"]


class _Trace:
    __slots__ = ("fn", "captured", "rebuild", "graph")

    def __init__(self, fn, captured, rebuild, graph):
        self.fn, self.captured, self.rebuild, self.graph = fn, captured, rebuild, graph


def _flatten(out, flat: list):
    """Tensors in nested tuples/lists/dicts into ``flat``; returns how to rebuild the structure."""
    if isinstance(out, Tensor):
        flat.append(out)
        i = len(flat) - 1
        return lambda arrays: Tensor._make(np.asarray(arrays[i]), None)
    if isinstance(out, (list, tuple)):
        parts = [_flatten(o, flat) for o in out]
        kind = type(out)
        return lambda arrays: kind(p(arrays) for p in parts)
    if isinstance(out, dict):
        parts = {k: _flatten(o, flat) for k, o in out.items()}
        return lambda arrays: {k: p(arrays) for k, p in parts.items()}
    return lambda arrays: out


class JitFunction:
    """A function compiled per input signature (see the module docstring)."""

    def __init__(self, fn: Callable, passes=None):
        self.fn = fn
        self.passes = passes
        self.cache: dict = {}
        self.frozen: list[str] = []
        self.traces = 0
        self.__name__ = getattr(fn, "__name__", "jit")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args):
        key = []
        arrays = []
        for a in args:
            if isinstance(a, Tensor):
                key.append((a.data.shape, a.data.dtype))
                arrays.append(a.data)
            else:
                try:
                    hash(a)
                except TypeError:
                    raise TypeError(f"jit {self.__name__}: a non-Tensor argument must be hashable (it is frozen "
                                    f"into the trace), got {type(a).__name__}") from None
                key.append(("frozen", type(a), a))
        key = tuple(key)
        trace = self.cache.get(key)
        if trace is None:
            trace = self.cache[key] = self._trace(args)
        if trace.captured:
            arrays += [t.data for t in trace.captured]
        return trace.rebuild(trace.fn(*arrays))

    def graph_for(self, *args) -> Graph:
        """The optimized graph traced for these arguments' signature."""
        self(*args)
        return next(reversed(self.cache.values())).graph

    def _trace(self, args) -> _Trace:
        self.traces += 1
        graph = Graph()
        graph.live_captures = True
        traced = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                traced.append(graph.input(f"arg{i}", a.data.shape, a.data.dtype))
            else:
                traced.append(a)
                self.frozen.append(f"argument {i} = {a!r} (a new value retraces)")
        with graph.building():
            out = self.fn(*traced)
        flat: list = []
        rebuild = _flatten(out, flat)
        values = [t if t.__class__ is Value else graph.capture(t) for t in flat]
        live = {v.id for _, v in graph.captured}
        for t, v in graph._constants.values():
            if v.id not in live:
                self.frozen.append(f"captured Tensor {t.data.dtype}{list(t.data.shape)} as a constant")
        graph.outputs = values
        graph = run_passes(graph) if self.passes is None else run_passes(graph, self.passes)
        compiled = compile_graph(graph)
        return _Trace(compiled.fn, [t for t, _ in graph.captured], rebuild, graph)


def jit(fn: Callable | None = None, *, passes=None):
    """Compile ``fn`` (a function of Tensors) by tracing; usable as ``@ember.jit`` or ``ember.jit(fn)``."""
    if fn is None:
        return lambda f: JitFunction(f, passes)
    return JitFunction(fn, passes)
