"""Model files (``.emb``): an inference graph and its weights in one checkpoint, loadable without the code
that built it (the nodes name registry ops; loading re-checks every node's shapes with the op's rule)."""

from __future__ import annotations

import os

import numpy as np

from ember import checkpoint
from ember.export.batch import batch_dependence
from ember.export.trace import _as_arrays, trace
from ember.graph.ir import CONST, Graph, infer
from ember.ops.registry import REGISTRY, Spec
from ember.passes import run_passes

__all__ = ["load_model", "save_model"]

FORMAT = "ember.model"
_PASSES = ("prune", "fold_constants", "cse", "prune")


def _encode(value):
    """Attribute values as checkpoint-storable ones: slices, Ellipsis and dtypes get tagged dicts."""
    if isinstance(value, slice):
        return {"__slice__": [value.start, value.stop, value.step]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, np.dtype):
        return {"__dtype__": value.str}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"__dtype__": np.dtype(value).str}
    if isinstance(value, tuple):
        return tuple(_encode(v) for v in value)
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value):
    if isinstance(value, dict):
        if "__slice__" in value:
            return slice(*value["__slice__"])
        if "__ellipsis__" in value:
            return Ellipsis
        if "__dtype__" in value:
            return np.dtype(value["__dtype__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_decode(v) for v in value)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def save_model(model_or_fn, example_inputs, path: str | os.PathLike, input_names=None) -> Graph:
    """Trace ``model_or_fn`` (a Module in eval mode, or a function of Tensors) on ``example_inputs`` and write
    its inference graph with the weights to ``path``; returns the graph.

    >>> ember.export.save_model(net, ember.randn(1, 1, 8, 8), "model.emb")
    """
    fixed_by = None
    if isinstance(model_or_fn, Graph):
        graph = model_or_fn
    else:
        graph = trace(model_or_fn, example_inputs, input_names=input_names)
        wider = _one_more_row(example_inputs)
        if wider is not None:  # traced again at batch B + 1: what reads the batch size shows as a difference
            try:
                fixed_by = batch_dependence(graph, trace(model_or_fn, wider, input_names=input_names))
            except Exception as exc:  # noqa: BLE001 (any failure there means the batch size is fixed)
                fixed_by = f"the model fails at batch {len(wider[0])} ({type(exc).__name__}: {exc})"
    graph = run_passes(graph, _PASSES)
    constants, nodes = {}, []
    for node in graph.nodes:
        if node.op.name == "const":
            constants[str(node.outputs[0].id)] = np.asarray(node.attrs["value"])
            nodes.append(["const", [], [node.outputs[0].id], {}])
            continue
        if node.op.name not in REGISTRY or len(node.outputs) != 1:
            raise ValueError(f"save_model: the graph has a {node.op.name} node, which a model file cannot hold "
                             "(export an inference graph: call .eval() on the model)")
        nodes.append([node.op.name, [v.id for v in node.inputs], [node.outputs[0].id], _encode(node.attrs)])
    record = {
        "format": FORMAT, "version": 1,
        "inputs": [[v.id, v.name or f"input{i}", list(v.array.shape), v.array.dtype.str] for i, v in
                   enumerate(graph.inputs)],
        "nodes": nodes, "outputs": [v.id for v in graph.outputs], "constants": constants,
    }
    if fixed_by:
        record["batch_fixed_by"] = fixed_by
        graph.batch_fixed_by = fixed_by
    checkpoint.save(record, path)
    return graph


def load_model(path: str | os.PathLike) -> Graph:
    """The inference graph stored in a model file (see ``save_model``)."""
    record = checkpoint.load(path)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"load_model: {os.fspath(path)!r} is not an Ember model file (format {FORMAT!r})")
    graph = Graph()
    values = {}
    for vid, name, shape, dtype in record["inputs"]:
        values[vid] = graph.input(name, tuple(shape), np.dtype(dtype))
    for op_name, inputs, outputs, attrs in record["nodes"]:
        if op_name == "const":
            array = np.asarray(record["constants"][str(outputs[0])])
            values[outputs[0]] = graph.add(CONST, (), {"value": array}, [Spec(array.shape, array.dtype)])[0]
            continue
        op = REGISTRY.get(op_name)
        if op is None:
            raise ValueError(f"load_model: unknown op {op_name!r} in {os.fspath(path)!r}")
        args = [values[i] for i in inputs]
        attrs = _decode(attrs)
        spec = infer(op, [v.spec for v in args], attrs)
        values[outputs[0]] = graph.add(op, args, attrs, [spec])[0]
    graph.outputs = [values[i] for i in record["outputs"]]
    if record.get("batch_fixed_by"):  # what keeps ember.export.with_dynamic_batch from freeing the batch size
        graph.batch_fixed_by = record["batch_fixed_by"]
    return graph.verify()


def _one_more_row(example_inputs) -> list | None:
    """The example inputs with their last row repeated (batch B + 1), or None when they share no batch axis."""
    arrays = _as_arrays(example_inputs)
    if not arrays or any(a.ndim == 0 for a in arrays) or len({a.shape[0] for a in arrays}) != 1 \
            or arrays[0].shape[0] == 0:
        return None
    return [np.concatenate([a, a[-1:]]) for a in arrays]
