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
    written = graph.written()  # a value an effect changes is not equal to another that starts the same
    for node in graph.nodes:
        node.inputs = [mapping.get(v.id, v) for v in node.inputs]
        if node.op.effect or len(node.outputs) != 1 or node.outputs[0].id in written:
            kept.append(node)
            continue
        key = (node.op.name, tuple(v.id for v in node.inputs), _key(node.attrs), node.outputs[0].array.dtype.str)
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = node
            kept.append(node)
        else:
            mapping[node.outputs[0].id] = earlier.outputs[0]
    graph.nodes = kept
    graph.outputs = [mapping.get(v.id, v) for v in graph.outputs]
    return graph
