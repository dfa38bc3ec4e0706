"""``ember.jit``: trace an eager function into the IR once per input signature, then run generated code.

Tracing calls the function once on symbolic Values, so it records exactly what the op functions do, and
the generated code replays that on every call. A whole training step traces too: ``loss.backward()``
appends the backward graph, ``optimizer.step()`` becomes in-place update nodes (reading the learning rate
live, so schedulers work), ``zero_grad()`` drops gradients, batch norm's running statistics and dropout's
masks are updated and drawn on every run; after the call each parameter's ``.grad``, and that of each Tensor
argument that requires grad (a leaf), is set as eager mode would leave it (see ``ember.tracing``).

What Python control flow means under tracing: the function runs once per signature, so ``if``/``for``
on Python values (shapes, flags, non-Tensor arguments) is decided at trace time and frozen; a branch on a
traced value (``if loss > 0``) or ``.item()`` raises a TypeError. What the trace froze is reported in
``frozen``: non-Tensor arguments (part of the signature: a new value retraces; a tuple, list or dict holding
Tensors is refused, as its Tensors would be frozen: pass each as an argument; a keyword argument counts as the
positional one it names, the defaults then filled in) and Tensors captured from
outside as constants (a module's parameters and buffers, such as batch norm's running statistics, a
Tensor that requires grad, and any Tensor an effect op writes during the call are read afresh on every call,
so a traced evaluation follows the training between its calls; a constant written in place after the trace
(``c.add_(1)``, ``c[0] = 1``, through a view of its memory too) makes the next call trace again, reading it on every
call from then on). A Python number, bool, string or None, or a Tensor, that the function's own code (not a function
it calls) reads from a closure cell or a module global is checked on every call, as torch.compile guards it: rebinding
it (``SCALE = 0.5``, a ``nonlocal``, ``W = new_tensor``) makes the next call trace again, and so does one read as an
attribute of an object held there or one level deeper (``cfg.scale = 3.0``, ``cfg.optim.lr``, ``net.weight =
...``) or of the instance of a method (``self.scale``; a module's settings are watched as said below); the function
rebinding one itself raises a TypeError, as that would happen only while tracing. Any other object held there (a
module, an optimizer, a function; not a Python module or a class) is compared by identity, so ``net = Net()`` again,
``cfg.model = ...`` or ``act = ember.tanh`` retraces too. What a small list, tuple or dict of such values held there
holds is compared too (``SCALES.append(2.0)``, ``CFG["lr"] = 0.5`` retrace; what the function changes in it itself
stays as it left it, changed once, while tracing); a longer one, or one holding other values, is compared by identity
alone: what it holds stays frozen.
``ember.rand`` and ``ember.randn`` draw anew on every call, from the stream dropout draws from
(``ember.random.stream()``), so their numbers are not an eager call's; ``randint`` and ``randperm`` are frozen.
Every op of the call is recorded, so what the function
computes from a Tensor that an effect later writes follows its new value, and a value computed before the write
keeps the old one; a parameter the function returns comes back as the call left it (updated), as in eager mode,
and so does a buffer it rebinds (``self.n = self.n + 1`` or ``self.n += 1``, written in place by an ``assign`` node).
An in-place op on a parameter, a buffer or an argument (``p -= lr * p.grad``, ``x.add_(y)``, ``x[0] = 1``) writes it
on every call, as in eager mode; a random fill of one (``normal_``) is refused, as it would draw only once. An argument
the function returns (``return x``, ``return x.mul_(2)``) is the caller's Tensor itself, as in eager mode.
A call retraces when an argument's shape, dtype or requires_grad changes, when grad mode does (``ember.no_grad()``: each
mode keeps its trace), when an optimizer's hyper-parameter becomes or stops being 0 or a flag of it changes
(``nesterov``; the values, lr, momentum and betas included, are read on every call, so schedules need no retrace) or its
parameter groups change (``add_param_group``, ``load_state_dict``), when a parameter's or an argument's ``.grad`` that
the trace accumulated into appears or disappears, when a module whose ``training`` the call read is switched
(``train()``/``eval()``: each mode keeps its trace), when a parameter the call read is frozen or unfrozen
(``requires_grad_(False)``, ``p.requires_grad = ...``: fine-tuning), and when a gradient hook of such a parameter, a
hook of a module the call called or a global module hook is added or removed (each state keeps its trace). Calls check
none of these last ones themselves: a change of any of them (``ember.traced_state``) makes the next call of every jit
function compare what its trace read, once. A jit function called while another one traces is part of that trace (its
function runs on the Values), so jit functions nest and may recurse. The compiled function's results are not recorded on
the autograd tape (a backward outside the call does not reach its inputs: compile the whole step, or use
``ember.compile``, which runs such a function eagerly). Python side effects are not replayed: set gradients to None with
``optimizer.zero_grad()``, not ``p.grad = None``; zeroing one in place (``p.grad.zero_()``) before the backward that
adds to it is refused, as it would run only while tracing, and so is writing an optimizer's param group in the function
(``g["lr"] = lr``: a TypeError naming the optimizer and the key; set it between calls, which read it). A traced
backward runs the gradient hooks of parameters and arguments (``register_hook``,
``register_post_accumulate_grad_hook``) as ops of the graph, as they were when the call
traced (a hook of a parameter or an argument added or removed later retraces, and so does an argument Tensor with other
hooks than the traced one's). Replacing a parameter, buffer or submodule of a module the call called (``m.weight =
...``, ``load_state_dict(assign=True)``) retraces as well, checked the same way, and so does changing a plain setting of
such a module (``bn.eps = 1e-3``, ``dropout.p = 0.2``: a number, string or tuple the trace froze, a function held as an
attribute, ``forward`` replaced on the instance, or a class default overridden there); a jit function of a module's
method (``ember.jit(net.forward)``, ``@ember.jit`` on ``forward``) counts that module as called. Python state a forward
changes itself (``self.calls += 1``) changes only while tracing, as under torch.compile. A module cast in the function
(``net.to(dtype)``, ``net.double()``) is made once, to the module, at trace time, as torch.compile makes it; casting a
tensor the trace already read is refused (a TypeError naming the module). A sparse embedding (``sparse=True``) traces
too: its weight's gradient is a ``RowSparse`` of the looked-up rows, the optimizer's sparse rule becomes a
``sparse_update`` node, and the table is never densified.

Sizes that change from call to call (``dynamic``, named as in ``torch.compile``): with ``dynamic=None`` (the
default) the first signature is compiled for its exact shapes; when a call differs from a compiled signature
only in some dimensions, those become unknown (None) and one function is traced and compiled for every size of
them (a loop over batch sizes compiles twice in all). ``dynamic=True`` makes the leading (batch) dimension of
every Tensor argument unknown from the first call (``Model.fit``'s steps: the last, smaller batch of an epoch
runs the same function); ``dynamic=False`` compiles every signature for its exact shapes. Read by the traced
function, an unknown dimension is an ``UnknownSize`` (``ember.ops.unknown_size``), not None: ``reshape``/``view``
take it (``x.view(x.size(0), -1)``; ``+ - * //`` with ints make a size they infer), while a Python branch on it or
a number made of it (``if x.shape[0] == 1``, ``range``, ``int``) raises a TypeError naming the dimension. A function
whose trace needs the unknown sizes that way is compiled per signature, and the reason is listed in
``specialized``; so is a call whose unknown dimensions are not all one size (the passes
take them for one size, the batch). ``cache.stats()`` counts compilations.

Memory layout is the runtime's decision: the first compilation of a step lays the parameters it updates side by
side in one array (``ember.runtime.arena``), so the runtime updates them with a few whole-array calls; each such
parameter's ``.array`` becomes a view of that array, with the same values (a parameter that is already a view of
another array stays where it is). Where a ``Linear`` layer's bias folds into its product (plain or momentum SGD),
its weight is stored column by column (a Fortran-ordered view) with the bias right after it. Replacing a
parameter's array afterwards (``p.data = ...``) makes the next call compile again for the new array; changing it
in place (``p.data[...] = ...``, ``load_state_dict``) needs nothing. After a call each ``.grad`` holds that call's
gradient in memory no later call writes while anyone holds it (it may be a view of a flat array the runtime
keeps).

Results equal eager mode's bit for bit, except where a runtime pass reorders float32 arithmetic (a folded bias
enters inside its layer's product): there a step differs from the eager step by rounding, within
``rtol=1e-6, atol=1e-7``.

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

import copy
import inspect
import sys
import threading
import weakref
from collections.abc import Callable
from types import FunctionType, MethodType

import numpy as np

from ember import grad_mode, traced_state
from ember.backend.devices import device_of
from ember.graph.ir import ASSIGN, SPARSE_UPDATE, UPDATE, Graph, GraphError, current
from ember.jit_steady import MISS, steady_call
from ember.nn.module import Module, note_call, observe_calls, observe_modes, on_mode_change
from ember.nn.parameter import watch_requires_grad
from ember.ops.effects import DROP_GRAD
from ember.ops.shape import COPY
from ember.optim.optimizer import on_param_groups_change, refuse_group_writes
from ember.passes import run_passes
from ember.passes.plan_memory import plan_memory
from ember.runtime import arena, compile_graph
from ember.runtime.bias_fold import linear_layout
from ember.runtime.cache import CompileCache
from ember.runtime.sized import SizeSpecificCode
from ember.sparse import RowSparse
from ember.tensor import Tensor
from ember.tracing import Trace

__all__ = ["JitFunction", "jit"]

_new = object.__new__
_TRACING = threading.RLock()  # tracing routes every op call of the process into its graph
_STEADY_KEPT = 4  # steady-state calls kept per trace
profile_hook = None  # set by ember.profiler while it records: runs a compiled graph node by node, timed
_LIVE: weakref.WeakSet = weakref.WeakSet()  # every JitFunction: a module's mode change drops their steady calls


def _forget_steady_calls(tracing=None) -> None:
    """A module's mode changed: the next call of each jit function takes the general path, which checks the
    modes its trace read (the steady-state calls check none). Also when jit function ``tracing`` starts a trace:
    another one it calls with concrete Tensors then joins the trace (the steady-state call would run it)."""
    for function in list(_LIVE):
        if function is not tracing:
            function._steady = (None, None)


on_mode_change(_forget_steady_calls)
traced_state.on_change(_forget_steady_calls)  # the general path compares what changed (Trace.matches)
on_param_groups_change(_forget_steady_calls)  # the general path checks the groups (Trace.matches)


class _Compiled:
    """One trace: the generated function and what to feed it besides the arguments.

    The parameters the call updates are fixed into the code (``pinned``), laid side by side in one array
    first (``ember.runtime.arena``) when each owns its memory: the runtime then updates them with a few
    whole-array calls. A parameter whose array was replaced since (``p.data = ...``) makes the call compile
    the graph again for the new arrays, the new one moved into a new arena with its neighbours; other captured
    Tensors are read on every call."""

    __slots__ = ("fn", "captured", "pinned", "bound", "grad_params", "arg_grads", "writeback", "fresh", "rebuild",
                 "graph", "trace", "single_output", "steady", "grad_args", "written_args")

    def __init__(self, graph: Graph, trace: Trace, rebuild, writeback: list, single_output: int | None = None):
        self.graph, self.trace, self.rebuild, self.writeback = graph, trace, rebuild, writeback
        self.single_output = single_output  # the result index when the function returns one Tensor
        self.grad_params = [p for p, _ in trace.grad_inputs]
        self.arg_grads = [i for i, _ in trace.arg_grad_inputs]  # arguments whose .grad the call reads
        # arguments whose .grad the call reads or sets: each must be a Tensor of its own (_refuse_repeated)
        self.grad_args = frozenset(self.arg_grads) | {p.index for p, _ in writeback if p.__class__ is _Argument}
        self.written_args: tuple = ()  # arguments the call writes in place (x.add_(y)): each must be writeable
        self.bind()

    def bind(self) -> None:
        """Compile the graph with the updated parameters' arrays as they are now."""
        graph = self.graph
        updated = {n.inputs[0].id for n in graph.nodes if n.op is UPDATE}
        sparse = {n.inputs[0].id for n in graph.nodes if n.op is SPARSE_UPDATE}  # tables: an arena of their own
        params = [(t, v) for t, v in graph.captured if v.id in updated | sparse and t.array.__class__ is np.ndarray]
        for group in (updated, sparse):
            movable = [(t, v) for t, v in params if v.id in group and arena.movable(t.array)]
            if movable:  # a replaced array (``p.data = ...``) joins its neighbours in a new arena, with them
                movable = [(t, v) for t, v in params if v.id in group and (arena.movable(t.array)
                                                                          or arena.in_arena(t.array))]
            if len(movable) > 1:
                for t, array in zip(movable, _lay_out(graph, movable)):
                    t[0].array = array
        self.pinned = [(t, t.array) for t, _ in params]
        pinned = {v.id for _, v in params}
        self.captured = [t for t, v in graph.captured if v.id not in pinned]
        self.bound = {v.id: t.array for t, v in params}
        self.fn = compile_graph(_without_overwritten_drops(graph, self.writeback), self.bound).fn
        # (parameter, result index) when every gradient set after the call is a copy the call made for it alone:
        # the steady state then wraps each result, with none of _write_grads' checks
        self.fresh = _fresh_writeback(self.writeback, self.fn.owned)
        self.steady: dict = {}  # signature -> its steady-state call (ember.jit_steady), made for these arrays

    def steady_for(self, key: tuple):
        """The steady-state call for signature ``key`` (made on first use), or None. A few are kept: a trace
        for unknown sizes serves many signatures."""
        call = self.steady.get(key)
        if call is None and key not in self.steady:
            if len(self.steady) >= _STEADY_KEPT:
                del self.steady[next(iter(self.steady))]
            call = self.steady[key] = steady_call(key, self, sys.modules[__name__])
        return call

    def stale(self) -> bool:
        """Whether a pinned parameter's array was replaced since the code was made."""
        for t, array in self.pinned:
            if t.array is not array:
                return True
        return False


def _flatten(out, flat: list, kept: dict):
    """Tensors in nested tuples/lists/dicts into ``flat``; returns how to rebuild the structure from the results and
    the call's arguments. An argument's Value (``kept``: its id -> the argument's index) comes back as
    the caller's Tensor itself, as eager mode returns it (written in place, it is the result of ``x.add_(1)``), so
    that the result and the argument stay one tensor."""
    if isinstance(out, Tensor):
        index = kept.get(id(out))
        if index is not None:
            return lambda arrays, args: args[index]
        flat.append(out)
        i = len(flat) - 1
        return lambda arrays, args: Tensor._make(np.asarray(arrays[i]), None)
    if isinstance(out, (list, tuple)):
        parts = [_flatten(o, flat, kept) for o in out]
        kind = type(out)
        if hasattr(out, "_fields"):  # a named tuple takes its fields as arguments
            return lambda arrays, args: kind(*(p(arrays, args) for p in parts))
        return lambda arrays, args: kind(p(arrays, args) for p in parts)
    if isinstance(out, dict):
        parts = {k: _flatten(o, flat, kept) for k, o in out.items()}
        return lambda arrays, args: {k: p(arrays, args) for k, p in parts.items()}
    return lambda arrays, args: out


class JitFunction:
    """A function compiled per input signature (see the module docstring)."""

    def __init__(self, fn: Callable, passes=None, cache_size: int | None = None, dynamic: bool | None = None):
        if dynamic not in (None, True, False):
            raise ValueError(f"jit: dynamic must be None, True or False, got {dynamic!r}")
        self.fn = fn
        self.passes = passes
        self.dynamic = dynamic
        self.cache_size = cache_size
        self.cache = CompileCache(cache_size)  # signature -> the traces made for it
        self.general: dict = {}  # signature with unknown (None) dimensions -> the traces made for it
        self.specialized: list[str] = []  # why a signature with unknown dimensions was compiled per shape
        self._per_shape: set = set()  # such signatures
        self.frozen: list[str] = []
        self.traces = 0
        self._last: _Compiled | None = None
        self._recent: tuple = (None, None)  # (signature, _Compiled) of the latest call, for the steady state
        self._steady: tuple = (None, None)  # (_Compiled, its steady-state call) of the latest call
        self._guard: _Guard | None = None  # the Python values the traces read from closure cells and globals
        self._signature: inspect.Signature | None = None  # fn's, read for a call with keyword arguments
        self.__name__ = getattr(fn, "__name__", "jit")
        self.__doc__ = getattr(fn, "__doc__", None)
        self._methods = weakref.WeakKeyDictionary()  # instance -> this method's jit function bound to it
        # raise RecordedResults rather than compile a trace whose results eager mode would record (ember.compile)
        self.eager_when_recorded = False
        _LIVE.add(self)

    def __get__(self, instance, owner=None):
        """``@ember.jit`` on a method: each instance gets a jit function of its own, which passes it as ``self``
        (its parameters are then captured, read on every call, rather than frozen with an argument)."""
        if instance is None:
            return self
        try:
            return self._methods[instance]
        except KeyError:
            pass
        except TypeError:  # unhashable, or without weak references: passed as a (frozen) argument
            return MethodType(self, instance)
        fn, ref = self.fn, weakref.ref(instance)  # held weakly: the entry goes with the instance

        def method(*args):
            return fn(ref(), *args)

        method.__name__ = self.__name__
        method.__wrapped__ = fn  # (whose closure cells and globals a trace guards)
        try:  # (its parameters after self, for a call with keyword arguments)
            parameters = list(inspect.signature(fn).parameters.values())
            method.__signature__ = inspect.Signature(parameters[1:])
        except (TypeError, ValueError):
            pass
        method.__self__ = ref  # (weakly) the instance, which a trace of a module's method watches as a called one
        bound = self._methods[instance] = JitFunction(method, self.passes, self.cache_size, self.dynamic)
        return bound

    def __call__(self, *args, **kwargs):
        if kwargs:
            args = self._positional(args, kwargs)
        guard = self._guard
        if guard is not None:
            try:
                if guard.read() != guard.values:
                    self._forget_traces()
            except (KeyError, ValueError, AttributeError):  # a global deleted, a cell emptied, an attribute gone
                self._forget_traces()
        last, steady = self._steady  # one read: another thread may be replacing it
        if steady is not None:
            out = steady(args)
            if out is not MISS:
                self.cache.hits += 1  # what the general path counts
                self._last = last
                return out
        if current() is not None:  # called while a graph is built (another jit function's trace): part of it
            return self.fn(*args)
        key = []
        arrays = []
        for a in args:
            if isinstance(a, Tensor):
                array = a.array
                key.append((array.shape, array.dtype, a.requires_grad))
                arrays.append(array)
            else:
                if a.__class__ is not str and _holds_tensor(a):  # frozen, it would be a constant
                    raise TypeError(f"jit {self.__name__}: argument {len(key)} is a {type(a).__name__} holding "
                                    "Tensors; pass each Tensor as an argument of its own (a non-Tensor argument is "
                                    "frozen into the trace)")
                try:
                    hash(a)
                except TypeError:
                    raise TypeError(f"jit {self.__name__}: a non-Tensor argument must be hashable (it is frozen "
                                    f"into the trace), got {type(a).__name__}") from None
                key.append(("frozen", type(a), _frozen_value(a)))
        key = tuple(key)
        recent_key, compiled = recent = self._recent  # one read: another thread may be replacing it
        if key == recent_key and compiled is not None and compiled.trace.matches(args):  # the steady state
            self.cache.hits += 1  # what the lookup would have counted (the entry is the most recent already)
        else:
            compiled = self._cached(key, args)
            if compiled is None:
                with _TRACING:  # one trace at a time: while it runs, ops build its graph, not eager results
                    compiled = self._cached(key, args)  # another thread may have traced it meanwhile
                    if compiled is None:
                        compiled = self._compile(key, args)
                        self.cache.setdefault(key, []).append(compiled)
            recent = (key, compiled)
        if compiled.grad_args and len(args) > 1:
            _refuse_repeated(self.__name__, args, compiled.grad_args)
        for i in compiled.written_args:
            if not getattr(args[i].array.flags, "writeable", True):  # (CuPy arrays have no read-only flag)
                raise RuntimeError(f"jit {self.__name__}: argument {i} ({args[i].dtype}{list(args[i].shape)}) is "
                                   "read-only (a view from broadcast_to/expand, or of a read-only array) and the "
                                   "call writes it in place; clone() it first")
        if compiled.pinned and compiled.stale():
            with _TRACING:
                compiled.bind()
        if compiled.captured:
            arrays += [t.array for t in compiled.captured]
        if compiled.grad_params:
            arrays += [p.grad.array for p in compiled.grad_params]
        if compiled.arg_grads:
            arrays += [args[i].grad.array for i in compiled.arg_grads]
        self._last = compiled
        self._recent = recent
        fn = compiled.fn
        try:
            if profile_hook is None:
                results = fn(*arrays)
                fresh = compiled.fresh
            else:
                results = profile_hook(compiled.graph, compiled.bound, None, arrays)
                fresh = None
        except SizeSpecificCode as exc:  # checked before the code runs anything: these sizes need their own
            with _TRACING:
                self.specialized.append(f"{_describe(key)}: {exc}")
                compiled = self._trace(args)
                self.cache[key] = [c for c in self.cache.get(key, ()) if c.graph is not self._last.graph] + \
                    [compiled]
                self._recent = (None, None)  # the next lookup finds the new code
            return self(*args)
        if fresh is not None:  # each gradient is the call's own copy: wrapped as it is (Tensor._make inlined)
            for param, index in fresh:
                grad = _new(Tensor)
                grad.node = None
                grad.requires_grad = False
                grad._grad = None
                grad._hooks = None
                if index.__class__ is tuple:  # a row-sparse gradient's (indices, values, shape, copy indices?)
                    grad.array = results[index[1]]
                    param.grad = RowSparse(results[index[0]].copy() if index[3] else results[index[0]], grad,
                                           index[2])
                    continue
                grad.array = results[index]
                param.grad = grad
        elif compiled.writeback:
            _write_grads(compiled.writeback, results, fn.owned if profile_hook is None else frozenset(), args)
        if profile_hook is None and recent_key == key:  # a signature called twice in a row: likely again
            self._steady = (compiled, compiled.steady_for(key))
        return compiled.rebuild(results, args)

    def _forget_traces(self) -> None:
        """Drop every trace: a closure cell or global a trace read was rebound, so the next call traces again."""
        with _TRACING:
            self._guard = None
            self._steady = self._recent = (None, None)
            self.cache.clear()
            self.general.clear()

    def _positional(self, args: tuple, kwargs: dict) -> tuple:
        """A call's arguments as ``fn``'s positional ones, defaults filled in (a keyword argument is then traced or
        frozen as the positional argument it names), as ``torch.compile`` takes keyword arguments."""
        if self._signature is None:
            self._signature = inspect.signature(self.fn)
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"jit {self.__name__}: {exc}") from None
        bound.apply_defaults()
        if bound.kwargs:
            raise TypeError(f"jit {self.__name__}: keyword-only arguments ({', '.join(bound.kwargs)}) are not "
                            "traced; make them positional parameters of the function")
        return bound.args

    def _cached(self, key, args) -> _Compiled | None:
        for candidate in self.cache.get(key, ()):
            if candidate.trace.matches(args):
                return candidate
        return None

    def _compile(self, key: tuple, args) -> _Compiled:
        """The trace for signature ``key``: one made for unknown dimensions that ``key`` fits, else a new one
        (for unknown dimensions, when the ``dynamic`` setting asks for them and the trace allows them)."""
        general = self._general(key)
        if general is None:
            return self._trace(args)
        for candidate in self.general.get(general, ()):
            if candidate.trace.matches(args):
                return candidate
        try:
            compiled = self._trace(args, general)
        except (GraphError, TypeError, ValueError) as exc:
            self._per_shape.add(general)
            self.specialized.append(f"{_describe(general)}: {exc}")
            return self._trace(args)
        self.general.setdefault(general, []).append(compiled)
        return compiled

    def _general(self, key: tuple):
        """The signature with unknown dimensions to compile ``key`` for, or None (its exact shapes)."""
        if self.dynamic is False:
            return None
        for general in self.general:
            if _fits(general, key):
                return general
        if self.dynamic:
            general = tuple((tuple(None if axis == 0 else d for axis, d in enumerate(k[0])), *k[1:])
                            if k[0] != "frozen" else k for k in key)
        else:
            general = next((g for g in map(_differing, list(self.cache), [key] * len(self.cache)) if g), None)
        if general is None or general == key or general in self._per_shape or not _one_size(general, key):
            return None
        return general

    def _written_constants(self) -> list:
        """The Tensors a trace of this function froze and that were written in place since (``Trace.matches``)."""
        traces = [c.trace for compiled in (*list(self.cache.values()), *list(self.general.values())) for c in compiled]
        return list({id(t): t for trace in traces for t in trace.written_constants}.values())

    def graph_for(self, *args) -> Graph:
        """The optimized graph traced for these arguments' signature."""
        self(*args)
        return self._last.graph

    def _trace(self, args, general: tuple | None = None) -> _Compiled:
        """Trace and compile for the arguments' shapes, or for ``general``'s (with unknown dimensions)."""
        self.traces += 1
        _forget_steady_calls(self)
        graph = Graph()
        graph.live_captures = True
        trace = graph.trace = Trace(graph)
        traced = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                shape = a.array.shape if general is None else general[i][0]
                if None in shape:  # passes weigh their choices at this call's sizes
                    graph.dim_hint = next(n for n, d in zip(a.array.shape, shape) if d is None)
                v = graph.input(f"arg{i}", shape, a.array.dtype, device_of(a.array))
                v.requires_grad = a.requires_grad
                trace.argument_ids.add(v.id)
                if a.requires_grad:  # backward sets its .grad
                    trace.arguments[v.id] = (i, a)
                traced.append(v)
            else:
                traced.append(a)
                self.frozen.append(f"argument {i} = {a!r} (a new value retraces)")
        for t in self._written_constants():  # a frozen Tensor written since an earlier trace: read on every call
            graph.capture(t, live=True)
        watch_requires_grad()
        modes, called = {}, {}
        outer = observe_modes(modes)  # the modules whose mode (train()/eval()) the call reads
        outer_calls = observe_calls(called)  # the modules whose hooks it runs
        owner = getattr(self.fn, "__self__", None)  # a module's method (ember.jit(net.forward)) reads that module
        if owner.__class__ is weakref.ref:
            owner = owner()
        if isinstance(owner, Module):
            note_call(owner)
        written_before = grad_mode.last_write
        guard = _Guard.of(self.fn)
        try:
            with graph.building(), refuse_group_writes():
                out = self.fn(*traced)
            if guard is not None:
                guard.refuse_rebound(self.__name__)
            _refuse_grads_written_once(self.__name__, trace, written_before)
            flat: list = []
            rebuild = _flatten(out, flat, _kept(traced))
            single_output = 0 if isinstance(out, Tensor) and flat else None
            outputs = _read_after_updates(graph, [t if t.symbolic else graph.capture(t) for t in flat])
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
            for index, _ in trace.arg_assumed:  # an argument's .grad: set on the caller's Tensor of each call
                writeback.append((_Argument(index), len(outputs)))
                outputs.append(traced[index].grad)
            recorded = self.eager_when_recorded and _recorded_results(flat, trace, writeback)
        finally:
            observe_modes(outer)
            observe_calls(outer_calls)
            trace.restore()
            trace.arguments = {}  # the caller's Tensors: not kept
        _refuse_captured_arguments(self.__name__, graph, args)
        if recorded:
            raise RecordedResults(self.__name__)
        written = graph.written()
        written_args = tuple(i for i, v in enumerate(traced) if isinstance(v, Tensor) and v.id in written)
        trace.modes = list(modes.values())
        trace.watch(called.values())
        if outer is not None:  # traced inside another trace: that one read these modes too
            for key, seen in modes.items():
                outer.setdefault(key, seen)
        if outer_calls is not None:
            outer_calls.update(called)
        live = {v.id for _, v in graph.captured}
        constants = [t for t, v in graph._constants.values() if v.id not in live]
        for t in constants:
            self.frozen.append(f"captured Tensor {t.array.dtype}{list(t.array.shape)} as a constant")
        trace.freeze(constants)
        graph.outputs = outputs
        graph.inputs = [v for v in traced if isinstance(v, Tensor)] + [v for _, v in graph.captured] + \
            [v for _, v in trace.grad_inputs] + [v for _, v in trace.arg_grad_inputs]  # the order a call passes them
        graph = run_passes(graph) if self.passes is None else run_passes(graph, self.passes)
        compiled = _Compiled(graph, trace, rebuild, writeback, single_output)
        compiled.written_args = written_args
        self._guard = guard  # every kept trace read these values: a change drops them all (_forget_traces)
        self.cache.count_compile()
        return compiled


_GUARDED = (int, float, bool, str, type(None))
_BY_ATTRIBUTES = (type(sys), type)  # a Python module, a class: guarded by the numbers it holds, not by identity
_CONTENTS_MAX = 64  # a longer list or dict is not compared on every call: what it holds stays frozen
_MISSING = object()


class _Guard:
    """The Python numbers, bools, strings, None and Tensors (by identity) a traced function reads from its closure
    cells and module globals: a call compares them, as one tuple, with what the trace read, as torch.compile's
    guards do; mutable containers (a list's items) are not followed."""

    __slots__ = ("read", "values", "names", "tensors", "contents")

    def __init__(self, read: Callable, names: list, tensors: list, contents: frozenset):
        self.read, self.names, self.tensors = read, names, tensors  # (the Tensors kept: their ids stay theirs)
        self.contents = contents  # the slots that are a list's or a dict's items, which the function may change
        self.values = read()

    @staticmethod
    def of(fn: Callable) -> _Guard | None:
        """The guard of ``fn``, of the functions it wraps (``__func__``, ``__wrapped__``) and of the plain functions
        of its own module it reads from a cell or a global (its helpers); None if they read no such value."""
        items, names, tensors, space, slots, contents = [], [], [], {}, set(), set()
        todo, seen = [(fn, None)], set()
        while todo and len(seen) < 64:
            fn, owner = todo.pop()
            owner = getattr(fn, "__self__", owner)  # a method's instance (held weakly by a jit method of one)
            fn = getattr(fn, "__func__", fn)
            code = getattr(fn, "__code__", None)
            if code is None or id(fn) in seen:
                continue
            seen.add(id(fn))
            attributes = _global_names(code)  # (the names it reads attributes by too)
            wrapper = getattr(fn, "__wrapped__", None) is not None  # (what its cells hold, the wrapped, stays)
            if wrapper:
                todo.append((fn.__wrapped__, owner))  # the function that reads the instance
            elif owner is not None:
                instance = owner() if owner.__class__ is weakref.ref else owner
                if instance is not None and not isinstance(instance, Module):  # (a module's settings are watched)
                    space[f"s{len(space)}"] = owner
                    place = f"s{len(space) - 1}" + ("()" if owner.__class__ is weakref.ref else "")
                    _attribute_slots(place, instance, "self", attributes, items, names, tensors, slots, contents)
            scope = getattr(fn, "__globals__", None)
            found = []  # (the expression that reads it, its cell or None for a global, its name, its description)
            for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
                if id(cell) not in slots:
                    slots.add(id(cell))
                    space[f"c{len(space)}"] = cell
                    found.append((f"c{len(space) - 1}.cell_contents", cell, name, f"closure variable {name!r}"))
            if scope is not None:
                where = f"g{id(scope)}"
                space[where] = scope
                for name in sorted(attributes):
                    if name in scope and (id(scope), name) not in slots:
                        slots.add((id(scope), name))
                        found.append((f"{where}[{name!r}]", None, name, f"global {name!r}"))
            for place, cell, name, what in found:
                try:
                    value = scope[name] if cell is None else cell.cell_contents
                except ValueError:  # (a cell not yet bound)
                    continue
                if isinstance(value, (*_GUARDED, Tensor)):
                    items.append(_read_slot(place, value, tensors))
                    names.append(what)
                elif _contents_slot(place, value, what, items, names, contents):
                    pass
                else:
                    if not wrapper and not isinstance(value, _BY_ATTRIBUTES) and id(value) not in seen:  # by identity
                        items.append(_read_slot(place, value, tensors, by_identity=True))
                        names.append(what)
                    if value.__class__ is FunctionType and value.__globals__ is scope:  # a helper of the module
                        todo.append((value, None))
                    else:
                        _attribute_slots(place, value, name, attributes, items, names, tensors, slots, contents)
        if not items:
            return None
        read = eval(f"lambda: ({', '.join(items)},)", space)  # noqa: S307  (one tuple, built by one call)
        return _Guard(read, names, tensors, frozenset(contents))

    def holds(self) -> bool:
        """Whether every value is as the trace read it."""
        try:
            return self.read() == self.values
        except (KeyError, ValueError, AttributeError):  # a global deleted, a cell emptied, an attribute gone
            return False

    def refuse_rebound(self, name: str) -> None:
        """A TypeError when the traced call itself rebound a value it read: that ran once, while tracing."""
        if self.holds():
            return
        try:
            now = self.read()
        except (KeyError, ValueError, AttributeError):
            now = ()
        changed = [i // 2 for i, (a, b) in enumerate(zip(now, self.values)) if not (a is b or a == b)]
        slot = next((i for i in changed if i not in self.contents), None if len(now) == len(self.values) else 0)
        if slot is None:  # it changed only what a list or dict holds: kept as it left it (side effects run once)
            self.values = now
            return
        raise TypeError(f"jit {name}: the traced function rebinds its {self.names[slot]}, which would happen once, "
                        "while tracing, not on every call; keep such state in a Tensor (written in place) or change "
                        "it outside the function (a call after the change traces again)")


def _read_slot(place: str, value, kept: list, by_identity: bool = False) -> str:
    """The expressions a guard reads of one slot: a Tensor's identity (or another object's, ``by_identity``: a
    module, a function), else the value's type and the value (1 and 1.0 and True are equal, but give different
    results). Two items per slot."""
    if by_identity or isinstance(value, Tensor):
        kept.append(value)
        return f"None, id({place})"
    return f"{place}.__class__, {place}"


def _attribute_slots(place: str, obj, path: str, attributes: set, items: list, names: list, tensors: list,
                     slots: set, contents: set, depth: int = 1) -> None:
    """Add to ``items`` the slots of the attributes of ``obj`` (a global's or a closure cell's object: a config,
    a module, a class) that the code may read (their names are in ``attributes``): its own numbers, bools,
    strings, None and Tensors, and those of an object it holds, ``depth`` levels down (``cfg.optim.lr``), as
    torch.compile guards the attributes a function reads."""
    own = getattr(obj, "__dict__", None)
    if obj is None or isinstance(obj, (Tensor, *_GUARDED)) or not hasattr(own, "keys") or (id(obj), path) in slots:
        return
    slots.add((id(obj), path))
    for name in sorted(attributes.intersection(own.keys())):
        try:
            value = getattr(obj, name)
        except Exception:  # noqa: BLE001  (a property that fails is no value to guard)
            continue
        if value is not own[name]:  # a property, or a descriptor, reads something else: not this slot
            continue
        if isinstance(value, (*_GUARDED, Tensor)):
            items.append(_read_slot(f"{place}.{name}", value, tensors))
            names.append(f"attribute '{path}.{name}'")
        elif _contents_slot(f"{place}.{name}", value, f"attribute '{path}.{name}'", items, names, contents):
            pass
        else:
            if not isinstance(obj, _BY_ATTRIBUTES):  # (a Python module's functions, a class's methods stay)
                items.append(_read_slot(f"{place}.{name}", value, tensors, by_identity=True))
                names.append(f"attribute '{path}.{name}'")
            if depth > 0 and not isinstance(value, (FunctionType, MethodType, *_BY_ATTRIBUTES)):
                _attribute_slots(f"{place}.{name}", value, f"{path}.{name}", attributes, items, names, tensors, slots,
                                 contents, depth - 1)


def _contents_slot(place: str, value, what: str, items: list, names: list, contents: set) -> bool:
    """Add the slot of a small list, tuple or dict of numbers, bools, strings and None (a list of scales, a config
    dict): its items with their types, as torch.compile guards them. False for any other value."""
    kind = value.__class__
    if kind is dict:
        held, read = value.values(), f"tuple({place}.items())"
        types = f"tuple(map(type, {place}.values()))"
    elif kind is list or kind is tuple:
        held, read, types = value, f"tuple({place})", f"tuple(map(type, {place}))"
    else:
        return False
    if len(value) > _CONTENTS_MAX or not all(isinstance(v, _GUARDED) for v in held):
        return False
    if kind is not tuple:
        contents.add(len(items))
    items.append(f"{types}, {read}")
    names.append(what)
    return True


def _global_names(code) -> set:
    """The names ``code`` and the code nested in it (functions, comprehensions) may read as globals."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _global_names(const)
    return names


class RecordedResults(Exception):  # noqa: N818  (a signal to ember.compile, not an error)
    """A trace's results would be on the autograd tape in eager mode (raised for ``eager_when_recorded``)."""


def _kept(traced: list) -> dict:
    """The index of each Tensor argument's Value, by id (see ``_flatten``)."""
    return {id(v): i for i, v in enumerate(traced) if isinstance(v, Tensor)}


def _recorded_results(flat: list, trace: Trace, writeback: list) -> bool:
    """Whether eager mode would record the traced results for a backward outside the call: a result requires grad,
    and the call runs no backward of its own (a training step's loss needs none)."""
    if not grad_mode.is_grad_enabled() or writeback or trace.grad_inputs or trace.arg_grad_inputs:
        return False
    return any(t.requires_grad for t in flat)


def _refuse_grads_written_once(name: str, trace: Trace, since: int) -> None:
    """A TypeError when the traced call wrote in place into a gradient it then accumulated into (``p.grad.zero_()``
    before ``backward``): that write happened once, while tracing, so later calls would add to the last call's
    gradient."""
    for _, before in trace.before.values():
        written = getattr(before, "_written", None)
        if written.__class__ is int and written > since and not before.symbolic:
            raise TypeError(f"{name}: the traced call wrote in place into the .grad of a parameter "
                            f"({before.dtype}{list(before.shape)}), which runs once, while tracing, not on every "
                            "call; clear gradients with optimizer.zero_grad() or p.grad = None")


def _refuse_repeated(name: str, args: tuple, grad_args: frozenset) -> None:
    """A TypeError when a Tensor whose ``.grad`` the call sets (index in ``grad_args``) is passed twice: the trace
    took the two arguments for two leaves, and one's gradient would replace the other's instead of adding to it."""
    for i in grad_args:
        for j, a in enumerate(args):
            if a is args[i] and j != i:
                raise TypeError(f"jit {name}: arguments {min(i, j)} and {max(i, j)} are the same Tensor "
                                f"({a.array.dtype}{list(a.array.shape)}, requires_grad), whose .grad the call sets; "
                                "pass it once")


def _refuse_captured_arguments(name: str, graph: Graph, args: tuple) -> None:
    """A TypeError when a Tensor argument is also read from outside as state (a parameter the function's modules
    or optimizer use) and requires grad or is written: its argument and its captured Value are two tensors to the
    trace, so an update or a gradient of one would miss the other."""
    written = graph.written()
    live = {id(t): v for t, v in graph.captured}
    for i, a in enumerate(args):
        v = live.get(id(a)) if isinstance(a, Tensor) else None
        if v is not None and (a.requires_grad or v.id in written):
            raise TypeError(f"jit {name}: argument {i} ({a.array.dtype}{list(a.array.shape)}) is also read from "
                            "outside the arguments (a parameter or buffer, read on every call) and requires grad or "
                            "is written; do not pass it as an argument")


def _frozen_value(value):
    """``value``, a non-Tensor argument, as the signature holds it: a float that is zero or NaN (and such a complex
    number, nested in tuples too) by its repr, so that -0.0 and 0.0 (equal as numbers) are two signatures, as they
    give two results (1 / (x * -0.0) is -inf), and NaN, unequal to itself, finds its trace again; a tuple's items
    with their types, as (2,) and (2.0,) (equal tuples) give two results (x * s[0] of an int x: int64, float32)."""
    if isinstance(value, tuple):
        items = tuple((type(v), _frozen_value(v)) for v in value)
        return items if type(value) is tuple else (type(value), items)  # (a named tuple: its type too)
    if isinstance(value, (float, complex, np.inexact)) and (value != value or value == 0):
        return repr(value)
    return value


def _holds_tensor(value) -> bool:
    """Whether ``value``, a list, tuple, set or dict (nested), holds a Tensor."""
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, (list, tuple, set, frozenset)):
        return False
    return any(isinstance(v, Tensor) or _holds_tensor(v) for v in value)


def _read_after_updates(graph: Graph, outputs: list) -> list:
    """``outputs`` with each parameter the traced call updated, and each buffer it wrote (``assign``), read by a
    ``copy`` node after its writes: the function returned the tensor as its step left it, where the code generator
    copies a fetched variable before any update (a ``Session``'s order) and would hand out a written buffer's own
    memory, which the next call overwrites."""
    updated = {n.inputs[0].id for n in graph.nodes if n.op is UPDATE or n.op is SPARSE_UPDATE or n.op is ASSIGN}
    copies: dict = {}
    for v in outputs:
        if v.id in updated and v.id not in copies:
            (copies[v.id],) = graph.add(COPY, [v], None, [v.spec])
    return [copies.get(v.id, v) for v in outputs]


def _lay_out(graph: Graph, params: list) -> list:
    """New arrays for the (Tensor, Value) pairs ``params``, side by side in one arena, in the layout the runtime
    asks for: a ``linear`` layer's weight column by column with its bias right after it, where that folds the
    bias into the layer's product (``ember.runtime.bias_fold``)."""
    index = {v.id: i for i, (_, v) in enumerate(params)}
    pairs = linear_layout(graph, {v.id: t.array for t, v in params})
    order = []
    for weight, bias in pairs:
        order += [index[weight], index[bias]]
    order += [i for i in range(len(params)) if i not in set(order)]
    position = {i: k for k, i in enumerate(order)}
    arrays = arena.lay_out([params[i][0].array for i in order], column_major={position[index[w]] for w, _ in pairs},
                           packed={position[index[b]] for _, b in pairs})
    return [arrays[position[i]] for i in range(len(params))]


def _without_overwritten_drops(graph: Graph, writeback: list) -> Graph:
    """``graph`` for the code generator, less the ``drop_grad`` nodes of parameters whose ``.grad`` the call sets
    from the results: the call stores that gradient after the code has run, and the code never reads a ``.grad``,
    so such a drop shows no effect (the graph itself keeps the node: it is what the traced function did)."""
    replaced = {id(param) for param, index in writeback if index is not None}
    nodes = [n for n in graph.nodes if n.op is not DROP_GRAD or id(n.attrs["owner"]) not in replaced]
    if len(nodes) == len(graph.nodes):
        return graph
    code_graph = copy.copy(graph)
    code_graph.nodes = nodes
    return plan_memory(code_graph) if graph.memory_plan is not None else code_graph


def _one_size(general: tuple, key: tuple) -> bool:
    """Whether ``key``'s sizes of ``general``'s unknown dimensions are all one size. The passes take two unknown
    sizes to be the same (a batch), so a signature with two different ones is compiled for its shapes."""
    sizes = {d for g, k in zip(general, key) if g[0] != "frozen" for a, d in zip(g[0], k[0]) if a is None}
    return len(sizes) <= 1


def _fits(general: tuple, key: tuple) -> bool:
    """Whether signature ``key`` is one of those that ``general`` (with unknown dimensions) stands for."""
    if len(general) != len(key) or not _one_size(general, key):
        return False
    for g, k in zip(general, key):
        if g[0] == "frozen" or k[0] == "frozen":
            if g != k:
                return False
        elif g[1:] != k[1:] or len(g[0]) != len(k[0]) or any(a is not None and a != b for a, b in zip(g[0], k[0])):
            return False
    return True


def _differing(seen: tuple, key: tuple):
    """``key`` with the dimensions in which it differs from the signature ``seen`` unknown (None); None when they
    differ otherwise (a dtype, a rank, a frozen argument)."""
    if len(seen) != len(key):
        return None
    out = []
    for s, k in zip(seen, key):
        if s[0] == "frozen" or k[0] == "frozen":
            if s != k:
                return None
            out.append(k)
        elif s[1:] != k[1:] or len(s[0]) != len(k[0]):
            return None
        else:
            out.append((tuple(a if a == b else None for a, b in zip(s[0], k[0])), *k[1:]))
    return tuple(out)


def _describe(key: tuple) -> str:
    return "(" + ", ".join(repr(k[2]) if k[0] == "frozen" else
                           f"{k[1]}[{', '.join('?' if d is None else str(d) for d in k[0])}]" for k in key) + ")"


class _Argument:
    """The argument at ``index`` in a ``writeback`` list: its ``.grad`` is set on the Tensor each call passes."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


def _fresh_writeback(writeback: list, owned: frozenset) -> list | None:
    """``writeback`` for the fast path, when every gradient's memory is the call's own and handed out once:
    a dense gradient's result index, or a row-sparse one's (indices, values, shape, whether the indices need a
    copy: they are often a view of the caller's ids). None when some gradient needs ``_write_grads``."""
    fresh, used = [], []
    for param, index in writeback:
        if param.__class__ is _Argument:  # set on each call's argument: by _write_grads
            return None
        if index.__class__ is int and param.ndim == 0:  # a one-element graph may give a NumPy scalar: _write_grads
            return None
        if index.__class__ is int and index in owned:
            fresh.append((param, index))
            used.append(index)
        elif index.__class__ is tuple and index[1] in owned:
            fresh.append((param, (index[0], index[1], index[2], index[0] not in owned)))
            used += index[:2]
        else:
            return None
    return fresh if fresh and len(set(used)) == len(used) else None


def _write_grads(writeback: list, results: tuple, owned=frozenset(), args: tuple = ()) -> None:
    """Set each parameter's (and argument's, of ``args``) ``.grad`` from the results; each owns its memory, as in
    eager mode. ``owned``: indices of results that are the call's own copies (the generated code says which)."""
    seen = set()
    for param, index in writeback:
        if param.__class__ is _Argument:
            param = args[param.index]
        if index is None:
            param._grad = None
            continue
        if index.__class__ is tuple:  # a row-sparse gradient: (indices, values, shape)
            rows = [results[i] if i in owned else results[i].copy() for i in index[:2]]
            param.grad = RowSparse(rows[0], Tensor._make(rows[1], None), index[2])
            continue
        array = results[index]
        if type(array) is not np.ndarray:  # a NumPy scalar from a one-element graph (a 0-d parameter's gradient)
            array = np.array(array)
        elif index in owned:
            param.grad = Tensor._make(array, None)
            continue
        elif array.base is not None or id(array) in seen or not array.flags.writeable:
            array = array.copy(order="K")  # a view, or an array handed out twice: its own memory, same layout
        seen.add(id(array))
        param.grad = Tensor._make(array, None)


def jit(fn: Callable | None = None, *, passes=None, cache_size: int | None = None, dynamic: bool | None = None):
    """Compile ``fn`` (a function of Tensors) by tracing; usable as ``@ember.jit`` or ``ember.jit(fn)``.

    At most ``cache_size`` signatures stay compiled (default ``ember.runtime.cache.COMPILE_CACHE_SIZE``, 64),
    the least recently called dropped first. ``dynamic`` (None, True, False; see the module docstring) says
    when one compiled function serves many sizes. A jit function may be called from several threads. On a
    method (a module's ``forward``), each instance gets its own compiled function.

    >>> step = ember.jit(train_step, dynamic=True)   # any batch size: one compilation
    """
    if fn is None:
        return lambda f: JitFunction(f, passes, cache_size, dynamic)
    return JitFunction(fn, passes, cache_size, dynamic)

