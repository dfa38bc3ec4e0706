"""``ember.jit``: trace an eager function into the IR once per input signature, then run generated code.

Tracing calls the function once on symbolic Values, so it records exactly what the op functions do, and
the generated code replays that on every call. A whole training step traces too: ``loss.backward()``
appends the backward graph, ``optimizer.step()`` becomes in-place update nodes (reading the learning rate
live, so schedulers work), ``zero_grad()`` drops gradients, batch norm's running statistics and dropout's
masks are updated and drawn on every run; after the call each parameter's ``.grad`` is set as eager mode
would leave it (see ``ember.tracing``).

What Python control flow means under tracing: the function runs once per signature, so ``if``/``for``
on Python values (shapes, flags, non-Tensor arguments) is decided at trace time and frozen; a branch on a
traced value (``if loss > 0``) or ``.item()`` raises a TypeError. What the trace froze is reported in
``frozen``: non-Tensor arguments (part of the signature: a new value retraces) and Tensors captured from
outside as constants (parameters that require grad, and any Tensor an effect op writes during the call,
such as batch norm's running statistics in training, are read afresh on every call; a buffer that is only
read, as in evaluation mode, is frozen like any other captured Tensor). Every op of the call is recorded,
so what the function computes from a Tensor that an effect later writes follows its new value. A
call retraces when an argument's shape, dtype or requires_grad changes, when an optimizer's
hyper-parameters other than lr change, or when a parameter's ``.grad`` that the trace accumulated into
appears or disappears. The compiled function's results are not recorded on the autograd tape. Python side
effects are not replayed: set gradients to None with ``optimizer.zero_grad()``, not ``p.grad = None``.
A sparse embedding (``sparse=True``) traces too: its weight's gradient is a ``RowSparse`` of the looked-up
rows, the optimizer's sparse rule becomes a ``sparse_update`` node, and the table is never densified.

>>> fast = ember.jit(lambda x, y: ember.relu(x @ y).sum(axis=1))
>>> fast(a, b)      # traces and compiles for a's and b's shapes and dtypes
>>> fast(a2, b2)    # same shapes: runs the cached function
>>> @ember.jit
... def train_step(x, y):
...     optimizer.zero_grad()
...     loss = ember.cross_entropy(net(x), y)
...     loss.backward()
...     optimizer.step()
...     return loss
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from ember.backend.devices import device_of
from ember.graph.ir import Graph
from ember.passes import run_passes
from ember.runtime import compile_graph
from ember.runtime.cache import CompileCache
from ember.sparse import RowSparse
from ember.tensor import Tensor
from ember.tracing import Trace

__all__ = ["JitFunction", "jit"]

_TRACING = threading.RLock()  # tracing routes every op call of the process into its graph
profile_hook = None  # set by ember.profiler while it records: runs a compiled graph node by node, timed


class _Compiled:
    """One trace: the generated function and what to feed it besides the arguments."""

    __slots__ = ("fn", "captured", "grad_params", "writeback", "rebuild", "graph", "trace")

    def __init__(self, fn, graph: Graph, trace: Trace, rebuild, writeback: list):
        self.fn, self.graph, self.trace, self.rebuild, self.writeback = fn, graph, trace, rebuild, writeback
        self.captured = [t for t, _ in graph.captured]
        self.grad_params = [p for p, _ in trace.grad_inputs]


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

    def __init__(self, fn: Callable, passes=None, cache_size: int | None = None):
        self.fn = fn
        self.passes = passes
        self.cache = CompileCache(cache_size)  # signature -> the traces made for it
        self.frozen: list[str] = []
        self.traces = 0
        self._last: _Compiled | None = None
        self.__name__ = getattr(fn, "__name__", "jit")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args):
        key = []
        arrays = []
        for a in args:
            if isinstance(a, Tensor):
                key.append((a.data.shape, a.data.dtype, a.requires_grad))
                arrays.append(a.data)
            else:
                try:
                    hash(a)
                except TypeError:
                    raise TypeError(f"jit {self.__name__}: a non-Tensor argument must be hashable (it is frozen "
                                    f"into the trace), got {type(a).__name__}") from None
                key.append(("frozen", type(a), a))
        key = tuple(key)
        compiled = self._cached(key)
        if compiled is None:
            with _TRACING:  # one trace at a time: while it runs, ops build its graph, not eager results
                compiled = self._cached(key)  # another thread may have traced it meanwhile
                if compiled is None:
                    compiled = self._trace(args)
                    self.cache.setdefault(key, []).append(compiled)
        for t in compiled.captured:
            arrays.append(t.data)
        for p in compiled.grad_params:
            arrays.append(p.grad.data)
        self._last = compiled
        results = compiled.fn(*arrays) if profile_hook is None else profile_hook(compiled.graph, None, None, arrays)
        if compiled.writeback:
            _write_grads(compiled.writeback, results)
        return compiled.rebuild(results)

    def _cached(self, key) -> _Compiled | None:
        for candidate in self.cache.get(key, ()):
            if candidate.trace.matches():
                return candidate
        return None

    def graph_for(self, *args) -> Graph:
        """The optimized graph traced for these arguments' signature."""
        self(*args)
        return self._last.graph

    def _trace(self, args) -> _Compiled:
        self.traces += 1
        graph = Graph()
        graph.live_captures = True
        trace = graph.trace = Trace(graph)
        traced = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                v = graph.input(f"arg{i}", a.data.shape, a.data.dtype, device_of(a.data))
                v.requires_grad = a.requires_grad
                traced.append(v)
            else:
                traced.append(a)
                self.frozen.append(f"argument {i} = {a!r} (a new value retraces)")
        try:
            with graph.building():
                out = self.fn(*traced)
            flat: list = []
            rebuild = _flatten(out, flat)
            outputs = [t if t.symbolic else graph.capture(t) for t in flat]
            writeback = []
            for param, before in trace.before.values():  # .grad as the traced call leaves it
                final = param.grad
                if final is before:
                    continue
                if final is None:
                    writeback.append((param, None))
                elif final.__class__ is RowSparse:  # its indices and rows come back; the call rebuilds it
                    writeback.append((param, (len(outputs), len(outputs) + 1, final.shape)))
                    outputs += [final.indices, final.values]
                else:
                    writeback.append((param, len(outputs)))
                    outputs.append(final if final.symbolic else graph.capture(final))
        finally:
            trace.restore()
        live = {v.id for _, v in graph.captured}
        for t, v in graph._constants.values():
            if v.id not in live:
                self.frozen.append(f"captured Tensor {t.data.dtype}{list(t.data.shape)} as a constant")
        graph.outputs = outputs
        graph = run_passes(graph) if self.passes is None else run_passes(graph, self.passes)
        return _Compiled(compile_graph(graph).fn, graph, trace, rebuild, writeback)


def _write_grads(writeback: list, results: tuple) -> None:
    """Set each parameter's ``.grad`` from the results; each owns its memory, as in eager mode."""
    seen = set()
    for param, index in writeback:
        if index is None:
            param.grad = None
            continue
        if index.__class__ is tuple:  # a row-sparse gradient: (indices, values, shape)
            rows = [results[i].copy() for i in index[:2]]
            param.grad = RowSparse(rows[0], Tensor._make(rows[1], None), index[2])
            continue
        array = results[index]
        if type(array) is not np.ndarray:  # a NumPy scalar from a one-element graph
            array = np.array(array)
        elif array.base is not None or id(array) in seen or not array.flags.writeable:
            array = array.copy()  # a view, or an array handed out twice: the gradient gets its own memory
        seen.add(id(array))
        param.grad = Tensor._make(array, None)


def jit(fn: Callable | None = None, *, passes=None, cache_size: int | None = None):
    """Compile ``fn`` (a function of Tensors) by tracing; usable as ``@ember.jit`` or ``ember.jit(fn)``.

    At most ``cache_size`` signatures stay compiled (default ``ember.runtime.cache.COMPILE_CACHE_SIZE``, 64),
    the least recently called dropped first. A jit function may be called from several threads."""
    if fn is None:
        return lambda f: JitFunction(f, passes, cache_size)
    return JitFunction(fn, passes, cache_size)
