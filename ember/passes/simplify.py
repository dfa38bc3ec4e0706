"""simplify: identities that need no computation (x * 1, x + 0, reshapes and casts to the same type, sums
over axes of length 1), and ``exp(log_softmax(x))`` as ``softmax(x)`` where nothing else reads the
log-probabilities (a softmax cross-entropy's gradient when its loss is not fetched: two calls fewer).

An identity is removed only when the result has exactly the kept operand's shape and dtype, so broadcasting
and promotion are never changed. The softmax rewrite changes results by rounding only.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ember.graph.ir import Graph
from ember.ops.registry import REGISTRY

_NEUTRAL_RIGHT = {"mul": 1, "div": 1, "add": 0, "sub": 0, "pow": 1}
_NEUTRAL_LEFT = {"mul": 1, "add": 0}
_SAME_TYPE_NOOPS = frozenset({"reshape", "broadcast_to", "cast"})


def _is(value, neutral) -> bool:
    return value is not None and value.size <= 4096 and bool(np.all(value == neutral))


def _only_read_log_softmax(value, producers: dict, reads: Counter) -> bool:
    """Whether ``value`` comes from a log_softmax and one node reads it."""
    source = producers.get(value.id)
    return source is not None and source.op.name == "log_softmax" and reads[value.id] == 1


def simplify(graph: Graph) -> Graph:
    """Replace identity nodes by their operand; compute ``exp(log_softmax(x))`` as ``softmax(x)``."""
    consts = {n.outputs[0].id: n.attrs["value"] for n in graph.nodes if n.op.name == "const"}
    reads = Counter(v.id for n in graph.nodes for v in n.inputs) + Counter(v.id for v in graph.outputs)
    producers = graph.producers()
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
            elif name == "exp" and _only_read_log_softmax(node.inputs[0], producers, reads):
                source = producers[node.inputs[0].id]
                node.op, node.attrs, node.inputs = REGISTRY["softmax"], dict(source.attrs), list(source.inputs)
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
