"""sparse_first: a step's sparse updates as early as their inputs allow, the work they do not need after them.

A training step with sparse embeddings ends with the tables' sparse update (scattered rows, no BLAS) and the
dense layers' weight gradients and updates, which do not depend on each other. The code generator runs work
that follows a sparse update on the runtime's other thread while the update runs (``runtime/codegen.py``), so
this pass moves each run of ``sparse_update`` nodes up to just after the last node it needs: what the run does
not need (weight gradients, the loss value, the dense updates) then follows it. The order stays topological
and every value is computed as before, so results do not change.

Only nodes after the graph's last effect before the run move (effects keep their places and so do the nodes
between them); nodes that read a table the run writes, and what they need, stay before it.

Of the nodes that now follow the run, the first long one (a matrix product: at least ``LONG_FLOPS``) comes first,
after what it needs, and the rest keep their order after it: the thread that starts the update goes straight into
a long NumPy call, which holds no GIL while the update's own Python starts up on the other thread (small calls
right after the start waited on the GIL for up to 0.15 ms each), and the small ones still run while the update
does, rather than after the last product with the other thread idle.
"""

from __future__ import annotations

from ember.graph.ir import SPARSE_UPDATE, Graph

# Floating-point operations of a node that runs long enough to go first after a sparse update (about 0.1 ms on
# one core): matrix products of a layer's weight gradient, not the loss's or the bias gradients' small calls.
LONG_FLOPS = 1 << 23


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
        after = [n for n in window if id(n) not in before]
        first = _closure(after, {next((id(n) for n in after if _long(n)), None)}, producers)
        graph.nodes = nodes[:begin] + [n for n in window if id(n) in before] + run \
            + [n for n in after if id(n) in first] + [n for n in after if id(n) not in first] + nodes[stop:]
    return graph


def _long(node) -> bool:
    """Whether the node's cost (of known shapes) is at least ``LONG_FLOPS``."""
    specs = [v.array for v in node.inputs + node.outputs]
    if len(node.outputs) != 1 or any(None in spec.shape for spec in specs):
        return False
    return node.op.cost(node.outputs[0].array, *(v.array for v in node.inputs), **node.attrs).flops >= LONG_FLOPS
