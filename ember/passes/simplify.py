"""simplify: identities that need no computation (x * 1, x + 0, reshapes and casts to the same type, sums
over axes of length 1).

An identity is removed only when the result has exactly the kept operand's shape and dtype, so broadcasting
and promotion are never changed.
"""

from __future__ import annotations

import numpy as np

from ember.graph.ir import Graph
from ember.ops.registry import REGISTRY

_NEUTRAL_RIGHT = {"mul": 1, "div": 1, "add": 0, "sub": 0, "pow": 1}
_NEUTRAL_LEFT = {"mul": 1, "add": 0}
_SAME_TYPE_NOOPS = frozenset({"reshape", "broadcast_to", "cast"})


def _is(value, neutral) -> bool:
    return value is not None and value.size <= 4096 and bool(np.all(value == neutral))


def simplify(graph: Graph) -> Graph:
    """Replace identity nodes by their operand."""
    consts = {n.outputs[0].id: n.attrs["value"] for n in graph.nodes if n.op.name == "const"}
    mapping: dict = {}
    kept = []
    for node in graph.nodes:
        node.inputs = [mapping.get(v.id, v) for v in node.inputs]
        name = node.op.name
        if len(node.outputs) == 1:
            out = node.outputs[0].data
            keep = None
            if name in _NEUTRAL_RIGHT and len(node.inputs) == 2:
                a, b = node.inputs
                if _is(consts.get(b.id), _NEUTRAL_RIGHT[name]):
                    keep = a
                elif name in _NEUTRAL_LEFT and _is(consts.get(a.id), _NEUTRAL_LEFT[name]):
                    keep = b
            elif name in _SAME_TYPE_NOOPS:
                keep = node.inputs[0]
            elif name == "sum" and node.inputs[0].data.size == out.size and node.inputs[0].data.dtype == out.dtype:
                # summing over axes of length 1 only drops them: a reshape
                node.op, node.attrs = REGISTRY["reshape"], {"shape": tuple(out.shape)}
            if keep is not None and keep.data.shape == out.shape and keep.data.dtype == out.dtype:
                mapping[node.outputs[0].id] = keep
                continue
        kept.append(node)
    graph.nodes = kept
    graph.outputs = [mapping.get(v.id, v) for v in graph.outputs]
    return graph
