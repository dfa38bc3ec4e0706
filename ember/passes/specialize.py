"""specialize: a copy of a graph typed for known input shapes, where the graph has unknown (None) dimensions.

A graph may be built once on unknown sizes (a batch of any size). The passes that need sizes (the vjps
``autodiff`` appends, ``plan_memory``) and the generated code run on a copy re-typed for the shapes it is
called with: every node's shape rule runs again on known sizes, which also checks what could not be checked
before (an unknown inner dimension of a matmul, say). ``reciprocal_count`` nodes (a mean over an unknown
dimension) become constants, so the copy is the graph a build on the known sizes would have made.
"""

from __future__ import annotations

import numpy as np

from ember.graph.ir import CONST, Graph, GraphError, Node, format_node, infer, type_str
from ember.ops.infer import fits
from ember.ops.reduction import RECIPROCAL_COUNT, reciprocal_count_value
from ember.ops.registry import Spec


def specialize(graph: Graph, shapes) -> Graph:
    """A new graph: ``graph`` with its inputs of ``shapes`` (one per input) and every value re-typed. A
    dimension given as None stays unknown (a copy for many sizes of it)."""
    if len(shapes) != len(graph.inputs):
        raise GraphError(f"specialize: the graph has {len(graph.inputs)} inputs, got {len(shapes)} shapes")
    out = Graph()
    mapping: dict = {}
    for v, shape in zip(graph.inputs, shapes):
        shape = tuple(None if d is None else int(d) for d in shape)
        if not fits(v.array.shape, shape):
            label = f" ({v.name})" if v.name else ""
            raise GraphError(f"specialize: input %{v.id}{label} is {v.array!r}; an array of shape {list(shape)} "
                             "does not fit it")
        mapping[v.id] = out.input(v.name, shape, v.array.dtype, v.array.device)
    for node in graph.nodes:
        inputs = [mapping[v.id] for v in node.inputs]
        if not node.outputs:  # update / assign
            out.nodes.append(Node(node.op, inputs, [], dict(node.attrs)))
            continue
        old = node.outputs[0]
        if node.op is RECIPROCAL_COUNT and None not in inputs[0].array.shape:
            value = np.asarray(reciprocal_count_value(inputs[0].array.shape, **node.attrs), node.attrs["dtype"])
            (new,) = out.add(CONST, (), {"value": value}, [old.spec], old.array.device)
        else:
            spec = old.spec if node.op.infer is None else _infer(node, inputs)
            if not fits(old.array.shape, spec.shape) or spec.dtype != old.array.dtype:
                raise GraphError(f"{format_node(node)}: on known sizes it gives "
                                 f"{type_str(spec.shape, spec.dtype)}")
            attrs = node.attrs
            key = node.op.shape_attr
            if key is not None and None in attrs[key] and None not in spec.shape:  # sizes read from unknown dimensions
                attrs = {**attrs, key: spec.shape}
            (new,) = out.add(node.op, inputs, attrs, [spec], old.array.device)
            out.nodes[-1].no_grad = node.no_grad
        new.name = old.name
        mapping[old.id] = new
    out.outputs = [mapping[v.id] for v in graph.outputs]
    out.requests = [r.remapped(mapping) for r in graph.requests]
    out.live_captures = graph.live_captures
    out.captured = [(t, mapping[v.id]) for t, v in graph.captured]
    out.dim_hint = graph.dim_hint
    out.averaged_grads = {mapping[i].id for i in graph.averaged_grads if i in mapping}
    return out


def _infer(node: Node, inputs: list):
    return _infer_specs(node, [v.spec for v in inputs])


def infer_shapes(graph: Graph, shapes) -> dict:
    """Value id -> the Spec (known shape, dtype) of every value of ``graph`` (unchanged, possibly optimized)
    when its inputs have ``shapes``: the shape rules run again on known sizes, as ``specialize`` runs them.
    What a function compiled once for unknown dimensions sizes its buffers and kernel choices by, per size."""
    if len(shapes) != len(graph.inputs):
        raise GraphError(f"infer_shapes: the graph has {len(graph.inputs)} inputs, got {len(shapes)} shapes")
    specs: dict = {}
    for v, shape in zip(graph.inputs, shapes):
        shape = tuple(int(d) for d in shape)
        if not fits(v.array.shape, shape):
            label = f" ({v.name})" if v.name else ""
            raise GraphError(f"input %{v.id}{label} is {v.array!r}; an array of shape {list(shape)} does not fit it")
        specs[v.id] = Spec(shape, v.array.dtype)
    for node in graph.nodes:
        if not node.outputs:
            continue
        old = node.outputs[0]
        if node.op.infer is None or None not in old.array.shape and all(None not in v.array.shape
                                                                        for v in node.inputs):
            spec = old.spec  # nothing unknown: the graph's own type
        else:
            spec = _infer_specs(node, [specs[v.id] for v in node.inputs])
            if not fits(old.array.shape, spec.shape) or spec.dtype != old.array.dtype:
                raise GraphError(f"{format_node(node)}: on known sizes it gives {type_str(spec.shape, spec.dtype)}")
        specs[old.id] = spec
    return specs


def _infer_specs(node: Node, specs: list):
    try:
        return infer(node.op, specs, node.attrs)  # probes the rules that need numbers where sizes stay unknown
    except (ValueError, TypeError) as exc:
        raise GraphError(f"{format_node(node)}: on inputs of shapes "
                         f"{', '.join(type_str(s.shape, s.dtype) for s in specs)}: {exc}") from None
