"""prune: drop nodes that neither feed an output nor have a side effect (an update or assign)."""

from __future__ import annotations

from ember.graph.ir import Graph


def prune(graph: Graph) -> Graph:
    """Keep only what the outputs and the side-effect nodes need; inputs stay (they are the signature)."""
    live = {v.id for v in graph.outputs}
    kept = []
    for node in reversed(graph.nodes):
        if node.op.effect and not node.outputs or any(v.id in live for v in node.outputs):
            kept.append(node)
            live.update(v.id for v in node.inputs)
    kept.reverse()
    graph.nodes = kept
    return graph
