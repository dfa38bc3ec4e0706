"""A graph traced at one batch size, made to take any: what ``ember export`` writes by default, as
``torch.onnx.export`` users ask with ``dynamic_axes``."""

from __future__ import annotations

import numpy as np

from ember.graph.ir import CONST, Graph, infer

__all__ = ["batch_dependence", "with_dynamic_batch"]


def with_dynamic_batch(graph: Graph) -> Graph:
    """A copy of ``graph`` whose inputs' first axis (the batch) is unknown, every shape re-inferred.

    A ``shape`` attribute (a reshape or broadcast) whose first size is the traced batch size and whose input
    carries the batch keeps it: the trace read ``x.shape[0]`` there. A ValueError names what still fixes the
    batch: a node whose shape rule needs it, or an output whose first size stays the traced one.
    """
    fixed_by = getattr(graph, "batch_fixed_by", None)
    if fixed_by:
        raise ValueError(fixed_by)
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


def batch_dependence(graph: Graph, wider: Graph) -> str | None:
    """What, in a model traced twice, at batch B (``graph``) and B + 1 (``wider``), depends on the batch size
    beyond a reshape's first size (which ``with_dynamic_batch`` follows): a slice bound or a constant that read
    ``x.shape[0]``, or another code path. None when nothing does; else a sentence naming the node."""
    if len(graph.nodes) != len(wider.nodes):
        return (f"the traced code takes another path at another batch size ({len(graph.nodes)} nodes at batch "
                f"{_batch(graph)}, {len(wider.nodes)} at {_batch(wider)})")
    batch = _batch(graph)
    for i, (a, b) in enumerate(zip(graph.nodes, wider.nodes)):
        if a.op is not b.op:
            return f"the traced code takes another path at another batch size (node {i}: {a.op.name} / {b.op.name})"
        for key in set(a.attrs) | set(b.attrs):
            x, y = a.attrs.get(key), b.attrs.get(key)
            if _same(x, y) or (key == "shape" and _follows_batch(x, y, batch)):
                continue
            return (f"{a.op.name} (node {i}) has {key}={_short(x)} at batch {batch} and {_short(y)} at "
                    f"{batch + 1}: the traced code read the batch size there")
    return None


def _batch(graph: Graph):
    return next((v.array.shape[0] for v in graph.inputs if v.array.shape), None)


def _follows_batch(x, y, batch) -> bool:
    return isinstance(x, (tuple, list)) and isinstance(y, (tuple, list)) and len(x) == len(y) and len(x) > 0 \
        and x[0] == batch and y[0] == batch + 1 and _same(tuple(x[1:]), tuple(y[1:]))


def _same(x, y) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.dtype == y.dtype \
            and x.shape == y.shape and bool(np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"))
    if isinstance(x, (tuple, list)) and isinstance(y, (tuple, list)):
        return type(x) is type(y) and len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    try:
        return bool(x == y)
    except (TypeError, ValueError):
        return x is y


def _short(value) -> str:
    text = f"array of shape {list(value.shape)}" if isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
