"""What eager-mode side effects mean while a function is traced into a graph.

Eager code does more than compute values: ``loss.backward()`` fills ``.grad``, ``optimizer.step()`` updates
parameters, batch norm writes its running statistics, dropout draws random numbers. Under tracing each of
these becomes part of the graph instead of happening once at trace time:

- ``backward`` appends the backward nodes (the ops' vjp rules) and sets each parameter's ``.grad`` to a
  symbolic Value; a gradient that existed before the call becomes a live input, so accumulation works;
- an optimizer step becomes ``update`` nodes that read the hyper-parameters live (a scheduler's new lr is
  seen without retracing) and keep their state in the optimizer's own dicts;
- state writes become ``assign`` nodes into the live buffer; random draws become ``random`` nodes.

``Trace`` records what the traced call touched, so that ``ember.jit`` can feed it and write it back.
"""

from __future__ import annotations

import functools

import numpy as np

from ember.backend.devices import device_of
from ember.graph.ir import ASSIGN, RANDOM, UPDATE, Graph, GraphError, Value, current
from ember.ops.registry import Spec
from ember.sparse import RowSparse
from ember.tensor import Tensor


class Trace:
    """The parameters whose ``.grad`` a traced call read or set, and the ``.grad`` each had before.

    ``matches()`` tells whether a new call can reuse the trace: every ``.grad`` the trace read from the
    caller must again be present (or absent) as it was.
    """

    def __init__(self, graph: Graph):
        self.graph = graph
        self.before: dict = {}  # id(param) -> (param, its .grad before tracing)
        self.assumed: list = []  # (param, whether its .grad was None): the trace read the caller's .grad
        self.read: set = set()  # ids of the parameters in ``assumed``
        self.dropped: set = set()  # ids of parameters whose .grad the call set to None
        self.grad_inputs: list = []  # (param, Value): a gradient present before the call, read live
        self.updates: list = []  # (optimizer, param, state, hyper getter, hyper at trace time) per update
        self.hyper_getters: dict = {}  # id(param group) -> its getter, shared by the group's update nodes
        self._checks = None

    def touch(self, param: Tensor) -> None:
        if id(param) not in self.before:
            self.before[id(param)] = (param, param.grad)

    def grad_value(self, param: Tensor):
        """``param.grad`` as a Value of the graph (a live input when it is a concrete gradient)."""
        g = param.grad
        if g is None or g.__class__ is Value:
            return g
        if g.__class__ is RowSparse:
            raise GraphError("tracing: a parameter already holds a sparse (RowSparse) gradient; clear it with "
                             "zero_grad() before calling the traced function")
        v = self.graph.input(f"grad{len(self.grad_inputs)}", g.data.shape, g.data.dtype, device_of(g.data))
        self.grad_inputs.append((param, v))
        return v

    def matches(self) -> bool:
        for param, was_none in self.assumed:
            if (param.grad is None) != was_none:
                return False
        if self.updates:
            if self._checks is None:
                self._freeze_checks()
            states, hypers = self._checks
            for optimizer, param, state in states:
                if optimizer.state.get(param) is not state:  # load_state_dict made new state dicts
                    return False
            for getter, fixed in hypers:  # lr is read live; the other values are compiled into the code
                hyper = getter()
                hyper.pop("lr", None)
                if hyper != fixed:
                    return False
        return True

    def _freeze_checks(self) -> None:
        """What ``matches`` compares, computed once: the state dicts bound into the code and, per parameter
        group, its hyper-parameters other than lr."""
        states, hypers, seen = [], [], set()
        for optimizer, param, state, getter, hyper in self.updates:
            states.append((optimizer, param, state))
            if id(getter) not in seen:
                seen.add(id(getter))
                hypers.append((getter, {k: v for k, v in hyper.items() if k != "lr"}))
        self._checks = (states, hypers)

    def restore(self) -> None:
        """Put back every touched ``.grad`` as it was before tracing."""
        for param, grad in self.before.values():
            param.grad = grad


def _trace() -> Trace:
    graph = current()
    trace = getattr(graph, "trace", None)
    if trace is None:
        raise GraphError("backward/step on symbolic values: only ember.jit traces these (a plain graph build "
                         "takes gradients with ember.passes.gradients)")
    return trace


def drop_grads(params) -> bool:
    """Set each ``.grad`` to None as part of the traced call (False when nothing is being traced)."""
    graph = current()
    trace = None if graph is None else graph.trace
    if trace is None:
        return False
    for p in params:
        trace.touch(p)
        trace.dropped.add(id(p))
        p.grad = None
    return True


def backward(loss: Value, gradient=None) -> None:
    """``loss.backward()`` while tracing: gradients of every parameter captured so far, into ``.grad``."""
    from ember.passes.autodiff import gradients

    trace = _trace()
    graph = trace.graph
    if loss.graph is not graph:
        raise GraphError(f"backward: %{loss.id} belongs to another graph")
    if gradient is None and loss.data.size != 1:
        raise RuntimeError(f"backward: grad can be implicitly created only for a single-element output, got "
                           f"shape {list(loss.data.shape)}; pass gradient=")
    params = [t for t, _ in graph.captured if t.requires_grad]
    grad_ys = None if gradient is None else [gradient]
    grads = gradients(graph, [loss], [graph.capture(t) for t in params], grad_ys)
    with graph.building():
        for param, g in zip(params, grads):
            if g is None:
                continue
            trace.touch(param)
            caller_grad = trace.before[id(param)][1]
            if param.grad is caller_grad and id(param) not in trace.read | trace.dropped:  # into the caller's
                trace.read.add(id(param))
                trace.assumed.append((param, caller_grad is None))
            previous = trace.grad_value(param)
            param.grad = g if previous is None else previous + g


def grad(outputs: list, inputs: list, grad_outputs: list | None) -> list:
    """``ember.grad`` while tracing: the gradients as Values (inputs may be traced arguments or parameters)."""
    from ember.passes.autodiff import gradients

    graph = current()
    xs = [t if t.__class__ is Value else graph.capture(t) for t in inputs]
    return gradients(graph, list(outputs), xs, grad_outputs)


def record_update(optimizer, param: Tensor, grad: Value, group: dict) -> None:
    """``optimizer.step()`` on ``param`` while tracing: an ``update`` node with the optimizer's dense rule, its
    state dict for ``param`` and a getter of the group's hyper-parameters, called on every run."""
    trace = _trace()
    graph = trace.graph
    getter = trace.hyper_getters.get(id(group))
    if getter is None:
        getter = trace.hyper_getters[id(group)] = functools.partial(optimizer.hyper, group)
    state = optimizer.state[param]
    hyper = getter()
    graph.add(UPDATE, (graph.capture(param), grad), {"rule": optimizer.update, "hyper": hyper, "state": state,
                                                      "live": getter})
    trace.updates.append((optimizer, param, state, getter, hyper))


def read_state(t: Tensor, like: Value) -> Value:
    """``t`` (a buffer such as a running mean) as a live input of ``like``'s graph: read on every run.
    A Value of that graph already is one (statistics given as graph inputs)."""
    if t.__class__ is Value and t.graph is like.graph:
        return t
    return like.graph.capture(t, live=True)


def write_state(t: Tensor, value: Value) -> None:
    """An ``assign`` node writing ``value`` into the live buffer of ``t`` on every run."""
    graph = value.graph
    graph.add(ASSIGN, (graph.capture(t, live=True), value))


def keep_mask(shape: tuple, p: float, like: Value) -> Value:
    """A ``random`` node in ``like``'s graph: dropout's keep mask (``ember.random.keep_mask``), fresh on
    every run."""
    attrs = {"shape": tuple(shape), "dtype": np.dtype(bool), "kind": "keep", "a": float(p), "b": 0.0}
    return like.graph.add(RANDOM, (), attrs, [Spec(tuple(shape), np.dtype(bool))])[0]
