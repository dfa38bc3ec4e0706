"""cse: common-subexpression elimination; a node equal to an earlier one (op, inputs, attributes) reuses it."""

from __future__ import annotations

import numpy as np

from ember.graph.ir import Graph

_SMALL = 64  # constants up to this many elements are compared by value


def _key(value):
    if isinstance(value, np.ndarray):
        if value.size <= _SMALL:
            return ("array", value.dtype.str, value.shape, value.tobytes())
        return ("id", id(value))
    if isinstance(value, (list, tuple)):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    if isinstance(value, np.dtype):
        return ("dtype", value.str)
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return (value.__class__.__name__, value)


def cse(graph: Graph) -> Graph:
    """Merge repeated computations (side-effect and random nodes are never merged)."""
    seen: dict = {}
    mapping: dict = {}
    kept = []
    # two values that graph outputs may share stay two arrays: the caller of (x + 1, x + 1) gets two, as in eager
    # mode, and writing into one leaves the other
    handed = graph.handed()
    written = graph.written()  # a value an effect changes is not equal to another that starts the same
    # A node reads a written value as the effects before it left it: nodes alike on either side of an effect
    # differ. ``roots``: value id -> the written values it may share memory with (a view of a variable);
    # ``writes``: written value id -> how many effect nodes have written it so far.
    roots: dict = {vid: (vid,) for vid in written}
    writes: dict = {}
    for node in graph.nodes:
        node.inputs = [mapping.get(v.id, v) for v in node.inputs]
        if node.op.effect:
            for i in node.op.writes:
                for r in roots.get(node.inputs[i].id, ()) if i < len(node.inputs) else ():
                    writes[r] = writes.get(r, 0) + 1
        elif not node.op.fresh:
            shared = tuple(sorted({r for v in node.inputs for r in roots.get(v.id, ())}))
            if shared:
                for out in node.outputs:
                    roots[out.id] = tuple(sorted(set(shared) | set(roots.get(out.id, ()))))
        if node.op.effect or len(node.outputs) != 1 or node.outputs[0].id in written:
            kept.append(node)
            continue
        states = tuple(tuple(writes.get(r, 0) for r in roots.get(v.id, ())) for v in node.inputs)
        key = (node.op.name, tuple(v.id for v in node.inputs), states, _key(node.attrs),
               node.outputs[0].array.dtype.str)
        earlier = seen.get(key)
        if earlier is None or node.outputs[0].id in handed and earlier.outputs[0].id in handed:
            seen.setdefault(key, node)
            kept.append(node)
        else:
            mapping[node.outputs[0].id] = earlier.outputs[0]
    graph.nodes = kept
    graph.outputs = [mapping.get(v.id, v) for v in graph.outputs]
    return graph
