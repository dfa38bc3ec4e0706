"""sparse_rows: a sparse update reads the table rows that the step's lookup already gathered.

A training step looks rows of a table up (``embedding``) and later updates those rows (``sparse_update``); a
rule that needs the rows' values (Adagrad's ``param + step``) would gather them from the table again, a second
pass of scattered reads. When nothing writes the table between the lookup and the update, the lookup's
result holds those values: this pass hands it to the update as a fourth input, which also keeps it alive
until then (the memory plan sees the use).
"""

from __future__ import annotations

from ember.graph.ir import SPARSE_UPDATE, Graph
from ember.ops.indexing import EMBEDDING
from ember.ops.shape import RESHAPE


def sparse_rows(graph: Graph) -> Graph:
    """Give each ``sparse_update(table, ids, grad_rows)`` the rows an earlier ``embedding(table, ids)`` gathered
    (``ids`` may be a reshape of the lookup's ids), when no effect wrote the table in between."""
    producers = {v.id: node for node in graph.nodes for v in node.outputs}
    lookups: dict = {}  # (table id, ids id) -> the rows gathered, while the table is unchanged since
    for node in graph.nodes:
        if node.op is EMBEDDING:
            lookups[(node.inputs[0].id, node.inputs[1].id)] = node.outputs[0]
        elif node.op is SPARSE_UPDATE and len(node.inputs) == 3:
            table, ids, values = node.inputs
            source = producers.get(ids.id)
            if source is not None and source.op is RESHAPE:
                ids = source.inputs[0]
            rows = lookups.get((table.id, ids.id))
            if rows is not None and rows.array.shape == values.array.shape and rows.array.dtype == values.array.dtype:
                node.inputs = node.inputs + [rows]
        written = {node.inputs[i].id for i in node.op.writes if i < len(node.inputs)}  # the update's own table too
        for key in [k for k in lookups if k[0] in written]:
            del lookups[key]
    return graph
