"""sparse_first: a step's sparse updates as early as their inputs allow, the work they do not need after them.

A training step with sparse embeddings ends with the tables' sparse update (scattered rows, no BLAS) and the
dense layers' weight gradients and updates, which do not depend on each other. The code generator runs work
that follows a sparse update on the runtime's other thread while the update runs (``runtime/codegen.py``), so
this pass moves each run of ``sparse_update`` nodes up to just after the last node it needs: what the run does
not need (weight gradients, the loss value, the dense updates) then follows it. The order stays topological
and every value is computed as before, so results do not change.

Only nodes after the graph's last effect before the run move (effects keep their places and so do the nodes
between them); nodes that read a table the run writes, and what they need, stay before it.
"""

from __future__ import annotations

from ember.graph.ir import SPARSE_UPDATE, Graph


def _runs(nodes: list) -> list:
    """``(start, stop)`` of each run of neighbouring ``sparse_update`` nodes."""
    runs, start = [], None
    for i, node in enumerate(nodes + [None]):
        if node is not None and node.op is SPARSE_UPDATE:
            start = i if start is None else start
        elif start is not None:
            runs.append((start, i))
            start = None
    return runs


def _closure(nodes: list, seeds: set, producers: dict) -> set:
    """ids of the ``seeds`` nodes and of every node among ``nodes`` they need, transitively."""
    inside = {id(n) for n in nodes}
    needed, stack = set(), [n for n in nodes if id(n) in seeds]
    while stack:
        node = stack.pop()
        if id(node) in needed:
            continue
        needed.add(id(node))
        for v in node.inputs:
            source = producers.get(v.id)
            if source is not None and id(source) in inside:
                stack.append(source)
    return needed


def sparse_first(graph: Graph) -> Graph:
    """Move each run of ``sparse_update`` nodes before the pure nodes it does not need (see the module)."""
    for start, stop in reversed(_runs(graph.nodes)):
        nodes = graph.nodes
        run = nodes[start:stop]
        begin = max((i + 1 for i in range(start) if nodes[i].op.effect), default=0)
        window = nodes[begin:start]
        producers = {v.id: node for node in window for v in node.outputs}
        written = {node.inputs[i].id for node in run for i in node.op.writes if i < len(node.inputs)}
        readers = {id(n) for n in window if any(v.id in written for v in n.inputs)}
        needs = {id(source) for node in run for v in node.inputs if (source := producers.get(v.id)) is not None}
        before = _closure(window, needs | readers, producers)
        if len(before) == len(window):
            continue
        graph.nodes = nodes[:begin] + [n for n in window if id(n) in before] + run \
            + [n for n in window if id(n) not in before] + nodes[stop:]
    return graph
