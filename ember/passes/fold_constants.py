"""fold_constants: compute once, at compile time, every node whose inputs are all constants."""

from __future__ import annotations

import numpy as np

from ember.graph.ir import CONST, Graph

MAX_FOLDED_ELEMENTS = 1 << 16  # larger results stay computed at run time rather than stored


def fold_constants(graph: Graph) -> Graph:
    """Turn nodes with only constant inputs into ``const`` nodes holding their result."""
    known: dict = {}
    written = graph.written()  # a constant an effect writes holds its value only until then
    for node in graph.nodes:
        name = node.op.name
        if name == "const" and node.outputs[0].id not in written:
            known[node.outputs[0].id] = node.attrs["value"]
            continue
        if node.op.effect or not node.outputs or not node.inputs:
            continue
        size = node.outputs[0].array.size  # None: a size read from an unknown dimension, left to the run
        if any(v.id not in known for v in node.inputs) or size is None or size > MAX_FOLDED_ELEMENTS:
            continue
        value = np.asarray(node.op.forward(np, *[known[v.id] for v in node.inputs], **node.attrs))
        value.flags.writeable = False
        node.op, node.inputs, node.attrs = CONST, [], {"value": value}
        known[node.outputs[0].id] = value
    return graph
