"""A graph traced at one batch size, made to take any: what ``ember export`` writes by default, as
``torch.onnx.export`` users ask with ``dynamic_axes``."""

from __future__ import annotations

from ember.graph.ir import CONST, Graph, infer

__all__ = ["with_dynamic_batch"]


def with_dynamic_batch(graph: Graph) -> Graph:
    """A copy of ``graph`` whose inputs' first axis (the batch) is unknown, every shape re-inferred.

    A ``shape`` attribute (a reshape or broadcast) whose first size is the traced batch size and whose input
    carries the batch keeps it: the trace read ``x.shape[0]`` there. A ValueError names what still fixes the
    batch: a node whose shape rule needs it, or an output whose first size stays the traced one.
    """
    batches = {v.array.shape[0] for v in graph.inputs if v.array.shape}
    if len(batches) != 1 or None in batches:
        raise ValueError(f"the inputs do not share one known first size (the batch): "
                         f"{[list(v.array.shape) for v in graph.inputs]}")
    (batch,) = batches
    out = Graph()
    values = {}
    for v in graph.inputs:
        shape = v.array.shape
        values[v.id] = out.input(v.name, (None, *shape[1:]) if shape else shape, v.array.dtype, v.array.device)
    for node in graph.nodes:
        inputs = [values[v.id] for v in node.inputs]
        attrs = _batch_follows(node, inputs, batch)
        try:
            if node.op is CONST or not node.outputs:
                spec = node.outputs[0].spec if node.outputs else None
            else:
                spec = infer(node.op, [v.spec for v in inputs], attrs)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{node.op.name} needs the batch size ({exc})") from None
        made = out.add(node.op, inputs, attrs, [] if spec is None else [spec])
        for old, new in zip(node.outputs, made):
            values[old.id] = new
    out.outputs = [values[v.id] for v in graph.outputs]
    for i, (old, new) in enumerate(zip(graph.outputs, out.outputs)):
        if old.array.shape and old.array.shape[0] == batch and new.array.shape[0] is not None:
            raise ValueError(f"output {i} keeps the traced batch size {batch} (shape {list(new.array.shape)})")
    return out.verify()


def _batch_follows(node, inputs: list, batch: int) -> dict:
    shape = node.attrs.get("shape")
    if not isinstance(shape, (tuple, list)) or not shape or shape[0] != batch or not inputs:
        return node.attrs
    if not inputs[0].array.shape or inputs[0].array.shape[0] is not None:
        return node.attrs
    return {**node.attrs, "shape": (None, *shape[1:])}
