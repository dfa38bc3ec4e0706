"""A compiled graph's work run node by node through the ops' forwards, each node timed: what the profiler and a
traced ``Session.run`` (``tf.RunOptions(trace_level=FULL_TRACE)``) run in place of the generated code."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ember.passes.specialize import infer_shapes
from ember.runtime.sized import has_unknown_dims

__all__ = ["node_name", "run_node_by_node"]


def run_node_by_node(graph, bound: dict | None, layout, arrays, on_node: Callable | None,
                     clock: Callable[[], int] = time.perf_counter_ns) -> tuple:
    """The results of ``graph`` on ``arrays``, computed one node at a time; ``on_node(node, inputs, attrs, out,
    start, end)`` is called after each node but constants, with ``clock``'s readings around its forward.

    ``bound`` (input id -> array: a Session's variables) and ``layout`` (the returned items) are ``compile_graph``'s.
    With a layout (a Session's run) the fetches are what its compiled code gives: copies, a fetched variable's
    value before the run's writes, a NumPy scalar for a 0-d value."""
    given = iter(arrays)
    bound = bound or {}
    env = {v.id: bound[v.id] if v.id in bound else next(given) for v in graph.inputs}
    # a graph compiled for every size: target shapes read from unknown dimensions are filled in for these
    specs = infer_shapes(graph, [env[v.id].shape for v in graph.inputs]) if has_unknown_dims(graph) else None
    before = {v.id: bound[v.id].copy() for v in graph.outputs if v.id in bound} if layout is not None else {}
    for node in graph.nodes:
        inputs = [env[v.id] for v in node.inputs]
        attrs = node.attrs
        key = node.op.shape_attr
        if specs is not None and key is not None and None in attrs.get(key, ()):
            attrs = {**attrs, key: specs[node.outputs[0].id].shape}
        start = clock()
        out = node.op.forward(np, *inputs, **attrs)
        end = clock()
        if node.outputs:
            env[node.outputs[0].id] = np.asarray(out)
        if on_node is not None and node.op.name != "const":
            on_node(node, inputs, attrs, out, start, end)
    if layout is None:
        return tuple(env[v.id] for v in graph.outputs)
    results = [before[v.id] if v.id in before else env[v.id].copy() for v in graph.outputs]  # may view a variable
    results = [a[()] if a.ndim == 0 else a for a in results]
    return tuple(None if k is None else results[k] for k in layout)


def node_name(node) -> str:
    """A node's name in a profile: its op's, or ``fused(a,b,...)`` for a fused elementwise node."""
    body = node.attrs.get("body") if node.attrs else None
    if body is not None and hasattr(body, "steps"):
        return "fused(" + ",".join(op.name for op, _, _ in body.steps) + ")"
    return node.op.name
